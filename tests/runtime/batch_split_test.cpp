// Batch splitting (runtime/batch_split.h, SessionOptions::split_batch): which graphs split their batch and why not,
// and that a split run gives each item the outputs of a run of that item alone, on one thread and on two.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "onnx/test_models.h"
#include "runtime/session.h"
#include "runtime_test_util.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_int_attribute;
using testing::add_ints_attribute;
using testing::add_node;
using testing::add_output;
using testing::serialize;

constexpr int64_t kChannels = 3, kFeatures = 16, kSide = 128, kClasses = 5;

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 11) - 5);
  return v;
}

// A small convolutional classifier over x [N, 3, 128, 128] (1.6 MB of intermediates per item, past
// kSplitBatchMinItemBytes): Conv 3x3 (pads 1) + Relu, MaxPool 2x2, a 1x1 Conv summed
// with its input (residual), GlobalAveragePool, Flatten, Gemm to 5 classes, Softmax; `tail` may append nodes
// reading "p" (the probabilities) and must leave the graph output "y".
onnx::ModelProto classifier(const std::function<void(onnx::GraphProto*)>& tail = {}) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("N"), kChannels, kSide, kSide});
  testing::add_float_initializer(g, "W1", {kFeatures, kChannels, 3, 3}, ramp(kFeatures * kChannels * 9, 0.05f));
  testing::add_float_initializer(g, "B1", {kFeatures}, ramp(kFeatures, 0.1f));
  testing::add_float_initializer(g, "W2", {kFeatures, kFeatures, 1, 1}, ramp(kFeatures * kFeatures, 0.07f));
  testing::add_float_initializer(g, "Wg", {kFeatures, kClasses}, ramp(kFeatures * kClasses, 0.2f));
  testing::add_float_initializer(g, "Bg", {kClasses}, ramp(kClasses, 0.3f));
  add_ints_attribute(add_node(g, "Conv", {"x", "W1", "B1"}, {"c1"}), "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"c1"}, {"r1"});
  auto* pool = add_node(g, "MaxPool", {"r1"}, {"m"});
  add_ints_attribute(pool, "kernel_shape", {2, 2});
  add_ints_attribute(pool, "strides", {2, 2});
  add_node(g, "Conv", {"m", "W2"}, {"c2"});
  add_node(g, "Add", {"c2", "m"}, {"s"});
  add_node(g, "GlobalAveragePool", {"s"}, {"avg"});
  add_node(g, "Flatten", {"avg"}, {"f"});
  add_node(g, "Gemm", {"f", "Wg", "Bg"}, {"logits"});
  add_int_attribute(add_node(g, "Softmax", {"logits"}, {tail ? "p" : "y"}), "axis", 1);
  if (tail) tail(g);
  add_output(g, "y", 1);
  return model;
}

Session session_of(const onnx::ModelProto& model, int threads, bool split = true) {
  return Session::from_bytes(serialize(model), {.intra_op_threads = threads, .split_batch = split});
}

Tensor run_one(const Session& s, const Tensor& x) { return s.run({{"x", x}})[0].tensor(); }

// Items [begin, begin + 1) of x as a tensor of its own.
Tensor item(const Tensor& x, int64_t i) {
  std::vector<int64_t> shape = x.shape();
  shape[0] = 1;
  Tensor t(DType::kFloat, shape);
  std::memcpy(t.raw_data(), x.data<float>() + i * t.element_count(), t.byte_size());
  return t;
}

TEST(BatchSplit, ItemWiseClassifierSplits) {
  const Session s = session_of(classifier(), 1);
  EXPECT_EQ(s.split_batch_symbol(), "N") << s.why_batch_is_not_split();
  const Session off = session_of(classifier(), 1, false);
  EXPECT_EQ(off.split_batch_symbol(), "");
  EXPECT_NE(off.why_batch_is_not_split().find("split_batch is off"), std::string::npos);
}

// Each item of a split run holds the bits of a run of that item alone; the whole batch run unsplit agrees within
// rounding. One thread (slices of one item) and two (slices of two, and of one for an odd batch).
TEST(BatchSplit, SplitRunsGiveEachItemItsOwnRun) {
  for (const int threads : {1, 2}) {
    for (const int64_t batch : {int64_t{4}, int64_t{3}}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", batch " + std::to_string(batch));
      const Session split = session_of(classifier(), threads);
      const Session whole = session_of(classifier(), threads, false);
      const Tensor x = testing::filled({batch, kChannels, kSide, kSide}, 0.37f, 0.1f);
      const Tensor y = run_one(split, x);
      const Tensor reference = run_one(whole, x);
      ASSERT_EQ(y.shape(), (std::vector<int64_t>{batch, kClasses}));
      ASSERT_EQ(reference.shape(), y.shape());
      for (int64_t i = 0; i < y.element_count(); ++i) {
        EXPECT_NEAR(y.data<float>()[i], reference.data<float>()[i], 1e-5f) << i;
      }
      // Slices of one item (one thread, or an odd batch) are runs of one item: the same bits.
      if (threads == 1 || batch % threads != 0) {
        for (int64_t n = 0; n < batch; ++n) {
          const Tensor alone = run_one(whole, item(x, n));
          EXPECT_EQ(0, std::memcmp(alone.raw_data(), y.data<float>() + n * kClasses, alone.byte_size())) << n;
        }
      }
    }
  }
}

// Slices of one item (one thread) and of two (two threads) give the same bits, as a whole run does at any thread count
// (docs/RELIABILITY.md).
TEST(BatchSplit, SameBitsOnOneThreadAndTwo) {
  const Tensor x = testing::filled({4, kChannels, kSide, kSide}, 0.29f, -0.2f);
  const Tensor one = run_one(session_of(classifier(), 1), x);
  const Tensor two = run_one(session_of(classifier(), 2), x);
  ASSERT_EQ(one.shape(), two.shape());
  EXPECT_EQ(0, std::memcmp(one.raw_data(), two.raw_data(), one.byte_size()));
}

// Graphs that combine items, or might, run whole; the reason names the node.
TEST(BatchSplit, GraphsThatMixItemsRunWhole) {
  struct Case {
    const char* name;
    std::function<void(onnx::GraphProto*)> tail;
    const char* why;  // a part of why_batch_is_not_split()
  };
  const std::vector<Case> cases = {
      {"reduce over the batch",
       [](onnx::GraphProto* g) {
         auto* n = add_node(g, "ReduceMean", {"p"}, {"y"});
         add_ints_attribute(n, "axes", {0});
       },
       "ReduceMean"},
      {"softmax over the batch",
       [](onnx::GraphProto* g) { add_int_attribute(add_node(g, "Softmax", {"p"}, {"y"}), "axis", 0); }, "Softmax"},
      {"constant indexed by the batch",
       [](onnx::GraphProto* g) {
         testing::add_float_initializer(g, "per_item", {4, kClasses}, ramp(4 * kClasses, 0.5f));
         add_node(g, "Add", {"p", "per_item"}, {"y"});
       },
       "may broadcast along the batch"},
      {"batch statistics",
       [](onnx::GraphProto* g) {
         testing::add_float_initializer(g, "scale", {kClasses}, ramp(kClasses, 0.5f));
         testing::add_float_initializer(g, "shift", {kClasses}, ramp(kClasses, 0.1f));
         testing::add_float_initializer(g, "mean", {kClasses}, ramp(kClasses, 0.0f));
         testing::add_float_initializer(g, "var", {kClasses}, std::vector<float>(kClasses, 1.0f));
         add_int_attribute(add_node(g, "BatchNormalization", {"p", "scale", "shift", "mean", "var"}, {"y"}),
                           "training_mode", 1);
       },
       "BatchNormalization"},
      {"flatten of the whole batch",
       [](onnx::GraphProto* g) { add_int_attribute(add_node(g, "Flatten", {"p"}, {"y"}), "axis", 0); }, "Flatten"},
      {"transpose moving the batch",
       [](onnx::GraphProto* g) {
         add_ints_attribute(add_node(g, "Transpose", {"p"}, {"y"}), "perm", {1, 0});
       },
       "Transpose"},
      {"the batch size as a value",  // y = p * N: a split run would multiply by the slice's size
       [](onnx::GraphProto* g) {
         add_node(g, "Shape", {"p"}, {"shape"});
         testing::add_int64_initializer(g, "zero", {}, {0});
         add_node(g, "Gather", {"shape", "zero"}, {"n"});
         add_int_attribute(add_node(g, "Cast", {"n"}, {"n_float"}), "to", 1);
         add_node(g, "Mul", {"p", "n_float"}, {"y"});
       },
       "Shape"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const onnx::ModelProto model = classifier(c.tail);
    const Session s = session_of(model, 1);
    EXPECT_EQ(s.split_batch_symbol(), "");
    EXPECT_NE(s.why_batch_is_not_split().find(c.why), std::string::npos) << s.why_batch_is_not_split();
    // It still runs, whole.
    const Tensor x = testing::filled({4, kChannels, kSide, kSide}, 0.37f, 0.1f);
    EXPECT_NO_THROW(run_one(s, x));
  }
}

// A fixed batch dimension, small items (the classifier on 16x16 images) and a compute-bound network (deep 3x3
// convolutions: 144 multiply-adds per byte of intermediates) run whole.
TEST(BatchSplit, FixedBatchAndComputeBoundGraphsRunWhole) {
  {
    onnx::ModelProto model = testing::make_model(17);
    auto* g = model.mutable_graph();
    add_input(g, "x", 1, {4, kChannels});
    add_node(g, "Relu", {"x"}, {"y"});
    add_output(g, "y", 1);
    const Session s = session_of(model, 1);
    EXPECT_EQ(s.split_batch_symbol(), "");
    EXPECT_NE(s.why_batch_is_not_split().find("no symbolic first dimension"), std::string::npos);
  }
  {
    onnx::ModelProto model = classifier();
    model.mutable_graph()
        ->mutable_input(0)
        ->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->mutable_dim(2)
        ->set_dim_value(16);
    model.mutable_graph()
        ->mutable_input(0)
        ->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->mutable_dim(3)
        ->set_dim_value(16);
    const Session s = session_of(model, 1);
    EXPECT_EQ(s.split_batch_symbol(), "");
    EXPECT_NE(s.why_batch_is_not_split().find("small items"), std::string::npos) << s.why_batch_is_not_split();
  }
  {
    constexpr int64_t kDeep = 64;
    onnx::ModelProto model = testing::make_model(17);
    auto* g = model.mutable_graph();
    add_input(g, "x", 1, {std::string("N"), kDeep, 48, 48});
    testing::add_float_initializer(g, "W", {kDeep, kDeep, 3, 3}, ramp(kDeep * kDeep * 9, 0.01f));
    add_ints_attribute(add_node(g, "Conv", {"x", "W"}, {"c"}), "pads", {1, 1, 1, 1});
    add_ints_attribute(add_node(g, "Conv", {"c", "W"}, {"y"}), "pads", {1, 1, 1, 1});
    add_output(g, "y", 1);
    const Session s = session_of(model, 1);
    EXPECT_EQ(s.split_batch_symbol(), "");
    EXPECT_NE(s.why_batch_is_not_split().find("compute-bound"), std::string::npos) << s.why_batch_is_not_split();
  }
}

}  // namespace
}  // namespace tessera

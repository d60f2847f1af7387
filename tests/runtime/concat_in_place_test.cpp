// Concat in place (ExecutionPlan::plan_concat_in_place): producers of a Concat's inputs write straight into its
// output, and the Concat copies only what did not land there. Checked through an observer that sees where each
// input of the Concat lies: in place where the plan may (static shapes, one image, inputs read by nothing else,
// 64-byte aligned parts), copied everywhere else, with the same values either way.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "onnx/test_models.h"
#include "runtime/node_observer.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_int_attribute;
using testing::add_node;
using testing::add_output;
using testing::serialize;

constexpr int64_t kChannels = 4, kOutChannels = 8, kSide = 4, kPlane = kSide * kSide;

// Where the Concat's inputs and output lay in the last run.
class ConcatWatcher : public NodeObserver {
 public:
  void before_node(size_t, const Node& node, const std::string&,
                   const std::vector<const RuntimeValue*>& inputs) override {
    if (node.op_type != "Concat") return;
    inputs_.clear();
    for (const RuntimeValue* v : inputs) inputs_.push_back(static_cast<const char*>(v->tensor().raw_data()));
  }
  void after_node(size_t, const Node& node, const std::string&,
                  const std::vector<const RuntimeValue*>& outputs) override {
    if (node.op_type == "Concat") output_ = static_cast<const char*>(outputs[0]->tensor().raw_data());
  }
  // True when input i lay in the output, `byte_offset` bytes in.
  bool in_place(size_t i, size_t byte_offset) const { return inputs_.at(i) == output_ + byte_offset; }

 private:
  std::vector<const char*> inputs_;
  const char* output_ = nullptr;
};

struct Variant {
  int64_t batch = 1;
  bool symbolic_batch = false;  // x declared [N, 4, 4, 4]
  bool a_is_output = false;     // `a` also a graph output
  bool b_read_again = false;    // `b` also read by a later node (output `again` = b - x)
};

// y = Concat(a = 2x, b = x + 1, c = Conv1x1(x, W, B), axis 1).
Session concat_session(const Variant& v) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  if (v.symbolic_batch)
    add_input(g, "x", 1, {std::string("N"), kChannels, kSide, kSide});
  else
    add_input(g, "x", 1, {v.batch, kChannels, kSide, kSide});
  std::vector<float> w(kOutChannels * kChannels), b(kOutChannels);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(static_cast<int>(i % 7) - 3);
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.25f * static_cast<float>(i);
  testing::add_float_initializer(g, "W", {kOutChannels, kChannels, 1, 1}, w);
  testing::add_float_initializer(g, "B", {kOutChannels}, b);
  testing::add_float_initializer(g, "two", {1}, {2.0f});
  testing::add_float_initializer(g, "one", {1}, {1.0f});
  add_node(g, "Mul", {"x", "two"}, {"a"});
  add_node(g, "Add", {"x", "one"}, {"b"});
  add_node(g, "Conv", {"x", "W", "B"}, {"c"});
  add_int_attribute(add_node(g, "Concat", {"a", "b", "c"}, {"y"}), "axis", 1);
  add_output(g, "y", 1);
  if (v.a_is_output) add_output(g, "a", 1);
  if (v.b_read_again) {
    add_node(g, "Sub", {"b", "x"}, {"again"});
    add_output(g, "again", 1);
  }
  return Session::from_bytes(serialize(model), {.intra_op_threads = 1, .optimization_level = OptimizationLevel::kAll});
}

Tensor input_tensor(int64_t batch, float phase) {
  Tensor t(DType::kFloat, {batch, kChannels, kSide, kSide});
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = std::sin(0.37f * static_cast<float>(i) + phase);
  return t;
}

// The expected y, image by image: 2x, x + 1, then the convolution.
std::vector<float> expected_y(const Tensor& x) {
  const int64_t batch = x.dim(0);
  const float* xd = x.data<float>();
  std::vector<float> y;
  for (int64_t n = 0; n < batch; ++n) {
    const float* xn = xd + n * kChannels * kPlane;
    for (int64_t i = 0; i < kChannels * kPlane; ++i) y.push_back(2.0f * xn[i]);
    for (int64_t i = 0; i < kChannels * kPlane; ++i) y.push_back(xn[i] + 1.0f);
    for (int64_t m = 0; m < kOutChannels; ++m) {
      for (int64_t p = 0; p < kPlane; ++p) {
        double sum = 0.25 * static_cast<double>(m);
        for (int64_t c = 0; c < kChannels; ++c)
          sum += 0.1 * static_cast<double>(static_cast<int>((m * kChannels + c) % 7) - 3) * xn[c * kPlane + p];
        y.push_back(static_cast<float>(sum));
      }
    }
  }
  return y;
}

void expect_values(const Tensor& got, const std::vector<float>& want) {
  ASSERT_EQ(got.element_count(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got.data<float>()[i], want[i], 1e-5f) << "element " << i;
}

std::vector<RuntimeValue> run_watched(const Session& session, const Tensor& x, ConcatWatcher& watcher) {
  RunControl control;
  control.observer = &watcher;
  return session.run({{"x", RuntimeValue(x)}}, {}, control);
}

constexpr size_t kPartBytes = kChannels * kPlane * sizeof(float);  // a's and b's bytes: 256

TEST(ConcatInPlace, ProducersWriteIntoTheOutputAndItStaysRightRunAfterRun) {
  const Session session = concat_session({});
  ConcatWatcher watcher;
  for (float phase : {0.0f, 1.5f, -0.7f}) {
    const Tensor x = input_tensor(1, phase);
    const std::vector<RuntimeValue> out = run_watched(session, x, watcher);
    expect_values(out[0].tensor(), expected_y(x));
    EXPECT_TRUE(watcher.in_place(0, 0));
    EXPECT_TRUE(watcher.in_place(1, kPartBytes));
    EXPECT_TRUE(watcher.in_place(2, 2 * kPartBytes));
  }
}

TEST(ConcatInPlace, AGraphOutputInputIsCopiedAndKeptApart) {
  const Session session = concat_session({.a_is_output = true});
  ConcatWatcher watcher;
  const Tensor x = input_tensor(1, 0.3f);
  std::vector<RuntimeValue> out = run_watched(session, x, watcher);
  expect_values(out[0].tensor(), expected_y(x));
  EXPECT_FALSE(watcher.in_place(0, 0));
  EXPECT_TRUE(watcher.in_place(1, kPartBytes));
  EXPECT_TRUE(watcher.in_place(2, 2 * kPartBytes));
  // `a` is its own tensor: writing into y does not change it.
  const Tensor& a = out[1].tensor();
  Tensor& y = out[0].tensor();
  const std::vector<float> y_values(y.data<float>(), y.data<float>() + y.element_count());
  for (int64_t i = 0; i < y.element_count(); ++i) y.data<float>()[i] = -9.0f;
  for (int64_t i = 0; i < a.element_count(); ++i) EXPECT_FLOAT_EQ(a.data<float>()[i], y_values[static_cast<size_t>(i)]);
}

TEST(ConcatInPlace, AnInputReadAgainLaterIsCopied) {
  const Session session = concat_session({.b_read_again = true});
  ConcatWatcher watcher;
  const Tensor x = input_tensor(1, 0.9f);
  const std::vector<RuntimeValue> out = run_watched(session, x, watcher);
  expect_values(out[0].tensor(), expected_y(x));
  EXPECT_TRUE(watcher.in_place(0, 0));
  EXPECT_FALSE(watcher.in_place(1, kPartBytes));
  EXPECT_TRUE(watcher.in_place(2, 2 * kPartBytes));
  const Tensor& again = out[1].tensor();
  for (int64_t i = 0; i < again.element_count(); ++i) EXPECT_NEAR(again.data<float>()[i], 1.0f, 1e-6f);
}

TEST(ConcatInPlace, SeveralImagesAreCopied) {
  // With two images each input is two blocks of the output, not one: nothing is preset.
  const Session session = concat_session({.batch = 2});
  ConcatWatcher watcher;
  const Tensor x = input_tensor(2, 0.1f);
  const std::vector<RuntimeValue> out = run_watched(session, x, watcher);
  expect_values(out[0].tensor(), expected_y(x));
  EXPECT_FALSE(watcher.in_place(1, kPartBytes));
  EXPECT_FALSE(watcher.in_place(2, 2 * kPartBytes));
}

TEST(ConcatInPlace, UnknownShapesGoInPlaceFromTheShapesOfTheRunBefore) {
  // x [N, 4, 4, 4]: the first run copies and keeps its shapes; the next run with one image is in place; two images
  // copy again, and one image after them is in place again. The values are right throughout.
  const Session session = concat_session({.symbolic_batch = true});
  ConcatWatcher watcher;
  const std::vector<std::pair<int64_t, bool>> runs = {{1, false}, {1, true}, {2, false}, {1, false}, {1, true}};
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto [batch, in_place] = runs[r];
    const Tensor x = input_tensor(batch, 0.2f * static_cast<float>(r));
    const std::vector<RuntimeValue> out = run_watched(session, x, watcher);
    expect_values(out[0].tensor(), expected_y(x));
    EXPECT_EQ(watcher.in_place(0, 0), in_place) << "run " << r;
    EXPECT_EQ(watcher.in_place(1, kPartBytes), in_place) << "run " << r;
    EXPECT_EQ(watcher.in_place(2, 2 * kPartBytes), in_place) << "run " << r;
  }
}

TEST(ConcatInPlace, PartsOffTheAlignmentAreCopied) {
  // y = Concat(p = 2x [1, 3], q = x + 1 [1, 3], axis 1): q would start 12 bytes in, so only p is in place.
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{1}, int64_t{3}});
  testing::add_float_initializer(g, "two", {1}, {2.0f});
  testing::add_float_initializer(g, "one", {1}, {1.0f});
  add_node(g, "Mul", {"x", "two"}, {"p"});
  add_node(g, "Add", {"x", "one"}, {"q"});
  add_int_attribute(add_node(g, "Concat", {"p", "q"}, {"y"}), "axis", -1);
  add_output(g, "y", 1);
  const Session session =
      Session::from_bytes(serialize(model), {.intra_op_threads = 1, .optimization_level = OptimizationLevel::kAll});
  ConcatWatcher watcher;
  Tensor x(DType::kFloat, {1, 3});
  for (int i = 0; i < 3; ++i) x.data<float>()[i] = static_cast<float>(i) - 0.5f;
  RunControl control;
  control.observer = &watcher;
  const std::vector<RuntimeValue> out = session.run({{"x", RuntimeValue(x)}}, {}, control);
  const float* y = out[0].tensor().data<float>();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FLOAT_EQ(y[i], 2.0f * x.data<float>()[i]);
    EXPECT_FLOAT_EQ(y[3 + i], x.data<float>()[i] + 1.0f);
  }
  EXPECT_TRUE(watcher.in_place(0, 0));
  EXPECT_FALSE(watcher.in_place(1, 3 * sizeof(float)));
}

}  // namespace
}  // namespace tessera

// Outputs never share memory with what the caller or the session can reach: a caller who writes into an output
// of Identity/Reshape/Squeeze (which pass their input's memory through) must not change the session's
// initializers (seen by every later run) nor the feeds it passed in, nor another output.
#include <gtest/gtest.h>

#include <cstring>

#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_int64_initializer;
using testing::add_node;
using testing::add_output;
using testing::serialize;

// x: float[2,3] -> from_x = Reshape(x, [3,2]), w (initializer [1..6]) -> from_w = Identity(w),
// squeezed_w = Squeeze(Unsqueeze(w)), and w itself as a graph output.
Session passthrough_session(OptimizationLevel level) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{2}, int64_t{3}});
  testing::add_float_initializer(g, "w", {2, 3}, {1, 2, 3, 4, 5, 6});
  add_int64_initializer(g, "shape", {2}, {3, 2});
  add_int64_initializer(g, "axes", {1}, {0});
  add_node(g, "Reshape", {"x", "shape"}, {"from_x"});
  add_node(g, "Identity", {"w"}, {"from_w"});
  add_node(g, "Unsqueeze", {"w", "axes"}, {"unsqueezed_w"});
  add_node(g, "Squeeze", {"unsqueezed_w", "axes"}, {"squeezed_w"});
  add_output(g, "from_x", 1);
  add_output(g, "from_w", 1);
  add_output(g, "squeezed_w", 1);
  add_output(g, "w", 1);
  return Session::from_bytes(serialize(model), {.intra_op_threads = 1, .optimization_level = level});
}

Tensor counting(std::vector<int64_t> shape) {
  Tensor t(DType::kFloat, std::move(shape));
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = static_cast<float>(i + 10);
  return t;
}

std::vector<float> values_of(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.element_count()}; }

void scribble(Tensor& t) {
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = -1.0f;
}

TEST(OutputIsolationTest, WritingIntoOutputsChangesNeitherWeightsNorFeeds) {
  for (OptimizationLevel level : {OptimizationLevel::kDisabled, OptimizationLevel::kAll}) {
    SCOPED_TRACE(static_cast<int>(level));
    const Session session = passthrough_session(level);
    const Tensor x = counting({2, 3});
    const std::vector<float> x_before = values_of(x);
    const std::vector<float> weights = {1, 2, 3, 4, 5, 6};
    for (int run = 0; run < 3; ++run) {
      std::vector<RuntimeValue> outputs = session.run({{"x", x}});
      ASSERT_EQ(outputs.size(), 4u);
      EXPECT_EQ(values_of(outputs[0].tensor()), x_before) << "run " << run;
      for (size_t i = 1; i < 4; ++i)
        EXPECT_EQ(values_of(outputs[i].tensor()), weights) << "run " << run << " out " << i;
      for (RuntimeValue& out : outputs) {
        EXPECT_NE(out.tensor().raw_data(), x.raw_data());
        scribble(out.tensor());
      }
      EXPECT_EQ(values_of(x), x_before) << "the caller's feed changed through an output";
    }
  }
}

TEST(OutputIsolationTest, TheSameOutputRequestedTwiceGivesTwoBuffers) {
  const Session session = passthrough_session(OptimizationLevel::kAll);
  std::vector<RuntimeValue> outputs = session.run({{"x", counting({2, 3})}}, {"from_w", "from_w", "from_x"});
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_NE(outputs[0].tensor().raw_data(), outputs[1].tensor().raw_data());
  scribble(outputs[0].tensor());
  EXPECT_EQ(values_of(outputs[1].tensor()), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

// Outputs a run computed itself are handed over as they are: nothing else holds their storage.
TEST(OutputIsolationTest, ComputedOutputsAreNotShared) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{4}});
  add_node(g, "Relu", {"x"}, {"y"});
  add_output(g, "y", 1);
  const Session session = Session::from_bytes(serialize(model), {.intra_op_threads = 1});
  const std::vector<RuntimeValue> outputs = session.run({{"x", counting({4})}});
  EXPECT_EQ(outputs[0].tensor().storage().use_count(), 1);
}

}  // namespace
}  // namespace tessera

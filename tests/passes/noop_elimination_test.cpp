// noop_elimination: a Cast to the input's own type, a Reshape/Expand to its own static shape, a zero Pad and a
// Slice that keeps everything disappear; a Reshape of a Reshape reads the original; a Cast of a widening Cast
// reads the original; real conversions, slices and reshapes stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

Tensor int64s(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>(DType::kInt64, v); }

// x [2,3,4] -> Cast(float) -> Reshape [2,3,4] -> Expand [3,4] -> Pad 0 -> Reshape [6,4] -> Reshape [4,6] -> Relu -> y
Model noops() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 3, 4})
      .initializer("same", int64s({2, 3, 4}))
      .initializer("bcast", int64s({3, 4}))
      .initializer("zeros", int64s({0, 0, 0, 0, 0, 0}))
      .initializer("s1", int64s({6, 4}))
      .initializer("s2", int64s({4, 6}))
      .node("Cast", {"x"}, {"a"})
      .attr_int("to", static_cast<int64_t>(DType::kFloat))
      .node("Reshape", {"a", "same"}, {"b"})
      .node("Expand", {"b", "bcast"}, {"c"})
      .node("Pad", {"c", "zeros"}, {"d"})
      .node("Reshape", {"d", "s1"}, {"e"})
      .node("Reshape", {"e", "s2"}, {"f"})
      .node("Relu", {"f"}, {"y"})
      .output("y")
      .build();
}

TEST(NoopEliminationTest, NoOpsDisappearAndReshapeChainsShorten) {
  Model model = noops();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  std::vector<std::string> ops;
  for (const auto& n : model.graph->nodes) ops.push_back(n->op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Reshape", "Relu"}));
  EXPECT_EQ(model.graph->nodes[0]->inputs[0], "x");
}

TEST(NoopEliminationTest, OutputsUnchanged) {
  pass_test::expect_same_outputs(noops, {{"x", random_floats({2, 3, 4}, 1)}}, OptimizationLevel::kBasic, 0);
}

TEST(NoopEliminationTest, RealConversionsStay) {
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {2, 3})
                    .initializer("grow", int64s({4, 2, 3}))
                    .node("Cast", {"x"}, {"h"})
                    .attr_int("to", static_cast<int64_t>(DType::kFloat16))
                    .node("Expand", {"h", "grow"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes.size(), 2u);
}

Tensor int32_values() { return Tensor::from_vector<int32_t>(DType::kInt32, {-7, 0, 5, 2147483647, -2147483647, 3}); }

// x int32 [2,3] -> Cast(int64) -> Cast(float) -> y1; x -> Cast(double) -> Cast(int32) -> y2 (an exact round trip);
// x -> Slice(all of both axes) -> Slice(columns 1..) -> y3.
Model cast_chains_and_slices() {
  return GraphBuilder(17)
      .input("x", DType::kInt32, {2, 3})
      .initializer("starts", int64s({0, -5}))
      .initializer("ends", int64s({2, INT64_MAX}))
      .initializer("one", int64s({1}))
      .initializer("big", int64s({100}))
      .initializer("axis1", int64s({1}))
      .node("Cast", {"x"}, {"wide"})
      .attr_int("to", static_cast<int64_t>(DType::kInt64))
      .node("Cast", {"wide"}, {"y1"})
      .attr_int("to", static_cast<int64_t>(DType::kFloat))
      .node("Cast", {"x"}, {"d"})
      .attr_int("to", static_cast<int64_t>(DType::kDouble))
      .node("Cast", {"d"}, {"y2"})
      .attr_int("to", static_cast<int64_t>(DType::kInt32))
      .node("Slice", {"x", "starts", "ends"}, {"s"})
      .node("Slice", {"s", "one", "big", "axis1"}, {"y3"})
      .output("y1")
      .output("y2")
      .output("y3")
      .build();
}

TEST(NoopEliminationTest, WideningCastChainsShortenAndFullSlicesVanish) {
  Model model = cast_chains_and_slices();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  std::vector<std::string> ops;
  for (const auto& n : model.graph->nodes) ops.push_back(n->op_type + "(" + n->inputs[0] + ")");
  // y2 is x itself now (the graph output keeps its name through an Identity), y1 one Cast, y3 one Slice of x.
  EXPECT_EQ(ops, (std::vector<std::string>{"Cast(x)", "Identity(x)", "Slice(x)"}));
}

TEST(NoopEliminationTest, CastChainAndSliceOutputsUnchanged) {
  pass_test::expect_same_outputs(cast_chains_and_slices, {{"x", int32_values().reshaped({2, 3})}},
                                 OptimizationLevel::kBasic, 0);
}

TEST(NoopEliminationTest, LossyCastChainsAndPartialSlicesStay) {
  // float -> int32 -> float truncates; float -> float16 -> float rounds; a Slice with step 2 or an end inside
  // the axis drops elements.
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {2, 4})
                    .initializer("zero", int64s({0}))
                    .initializer("three", int64s({3}))
                    .initializer("big", int64s({100}))
                    .initializer("two", int64s({2}))
                    .node("Cast", {"x"}, {"i"})
                    .attr_int("to", static_cast<int64_t>(DType::kInt32))
                    .node("Cast", {"i"}, {"y1"})
                    .attr_int("to", static_cast<int64_t>(DType::kFloat))
                    .node("Cast", {"x"}, {"h"})
                    .attr_int("to", static_cast<int64_t>(DType::kFloat16))
                    .node("Cast", {"h"}, {"y2"})
                    .attr_int("to", static_cast<int64_t>(DType::kFloat))
                    .node("Slice", {"x", "zero", "three"}, {"y3"})
                    .node("Slice", {"x", "zero", "big", "zero", "two"}, {"y4"})
                    .output("y1")
                    .output("y2")
                    .output("y3")
                    .output("y4")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes.size(), 6u);
}

}  // namespace
}  // namespace tessera

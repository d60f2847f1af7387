// noop_elimination: a Cast to the input's own type, a Reshape/Expand to its own static shape and a zero Pad
// disappear; a Reshape of a Reshape reads the original; real conversions and reshapes stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

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

}  // namespace
}  // namespace tessera

// constant_to_initializer: Constant(value) nodes become initializers; outputs unchanged.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

Model constant_model() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 3})
      .node("Constant", {}, {"c"})
      .attr_tensor("value", pass_test::random_floats({2, 3}, 9))
      .node("Add", {"x", "c"}, {"y"})
      .output("y")
      .output("c")
      .build();
}

TEST(ConstantToInitializerTest, MovesTheValueAndDropsTheNode) {
  Model model = constant_model();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  EXPECT_EQ(model.graph->nodes[0]->op_type, "Add");
  ASSERT_EQ(model.graph->initializers.count("c"), 1u);
  EXPECT_EQ(model.graph->initializers.at("c").shape(), (std::vector<int64_t>{2, 3}));
}

TEST(ConstantToInitializerTest, OutputsUnchanged) {
  pass_test::expect_same_outputs(constant_model, {{"x", pass_test::random_floats({2, 3}, 1)}},
                                 OptimizationLevel::kBasic, 0.0);
}

TEST(ConstantToInitializerTest, CanBeSwitchedOff) {
  Model model = constant_model();
  optimize_graph(*model.graph, OptimizationLevel::kAll, {"constant_to_initializer"});
  EXPECT_EQ(model.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace tessera

// transpose_cancellation: two Transposes in a row compose into one, or vanish when they undo each other.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [2,3,4,5] -> Transpose p1 -> Transpose p2 -> Relu -> y
Model two_transposes(std::vector<int64_t> p1, std::vector<int64_t> p2) {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 3, 4, 5})
      .node("Transpose", {"x"}, {"t1"})
      .attr_ints("perm", p1)
      .node("Transpose", {"t1"}, {"t2"})
      .attr_ints("perm", p2)
      .node("Relu", {"t2"}, {"y"})
      .output("y")
      .build();
}

TEST(TransposeCancellationTest, InversePermsVanish) {
  Model model = two_transposes({0, 2, 1, 3}, {0, 2, 1, 3});
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  EXPECT_EQ(model.graph->nodes[0]->op_type, "Relu");
  EXPECT_EQ(model.graph->nodes[0]->inputs[0], "x");
}

TEST(TransposeCancellationTest, OtherPermsCompose) {
  Model model = two_transposes({0, 2, 1, 3}, {0, 1, 3, 2});
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 2u);
  EXPECT_EQ(model.graph->nodes[0]->attr_ints("perm"), (std::vector<int64_t>{0, 2, 3, 1}));
}

TEST(TransposeCancellationTest, OutputsUnchanged) {
  const Tensor x = random_floats({2, 3, 4, 5}, 1);
  pass_test::expect_same_outputs([] { return two_transposes({0, 2, 1, 3}, {0, 1, 3, 2}); }, {{"x", x}},
                                 OptimizationLevel::kBasic, 0);
  pass_test::expect_same_outputs([] { return two_transposes({3, 2, 1, 0}, {3, 2, 1, 0}); }, {{"x", x}},
                                 OptimizationLevel::kBasic, 0);
}

}  // namespace
}  // namespace tessera

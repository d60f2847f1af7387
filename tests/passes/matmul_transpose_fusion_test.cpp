// matmul_transpose_fusion: a Transpose of the last two dims feeding a MatMul, and a scalar scale after it, fold
// into com.microsoft FusedMatMul (transA/transB, alpha) with the same outputs.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// q [2, 4, 5, 8], k [2, 4, 6, 8]: y = (q @ Transpose(k, 0,1,3,2)) / 2.5, optionally with Transpose(q) of [2,4,8,5].
Model scores(bool transpose_a, bool div) {
  GraphBuilder b(17);
  b.input("q", DType::kFloat, transpose_a ? std::vector<int64_t>{2, 4, 8, 5} : std::vector<int64_t>{2, 4, 5, 8});
  b.input("k", DType::kFloat, {2, 4, 6, 8});
  b.initializer("c", Tensor::scalar(DType::kFloat, 2.5f));
  if (transpose_a) b.node("Transpose", {"q"}, {"qt"}).attr_ints("perm", {0, 1, 3, 2});
  b.node("Transpose", {"k"}, {"kt"}).attr_ints("perm", {0, 1, 3, 2});
  b.node("MatMul", {transpose_a ? "qt" : "q", "kt"}, {"s"});
  b.node(div ? "Div" : "Mul", {"s", "c"}, {"y"});
  return b.output("y").build();
}

TEST(MatMulTransposeFusionTest, FoldsTransposesAndScale) {
  Model model = scores(true, true);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& fused = *model.graph->nodes[0];
  EXPECT_EQ(fused.op_type, "FusedMatMul");
  EXPECT_EQ(fused.domain, kMicrosoftDomain);
  EXPECT_EQ(fused.inputs, (std::vector<std::string>{"q", "k"}));
  EXPECT_EQ(fused.attr_int("transA", 0), 1);
  EXPECT_EQ(fused.attr_int("transB", 0), 1);
  EXPECT_FLOAT_EQ(fused.attr_float("alpha", 0), 0.4f);
  EXPECT_EQ(fused.outputs[0], "y");
}

TEST(MatMulTransposeFusionTest, OutputsUnchanged) {
  for (bool transpose_a : {false, true}) {
    for (bool div : {false, true}) {
      const auto q = random_floats(transpose_a ? std::vector<int64_t>{2, 4, 8, 5} : std::vector<int64_t>{2, 4, 5, 8}, 1);
      pass_test::expect_same_outputs([&] { return scores(transpose_a, div); },
                                     {{"q", q}, {"k", random_floats({2, 4, 6, 8}, 2)}}, OptimizationLevel::kExtended,
                                     1e-5);
    }
  }
}

TEST(MatMulTransposeFusionTest, LeavesOtherPermutations) {
  Model model = GraphBuilder(17)
                    .input("a", DType::kFloat, {4, 3, 5})
                    .input("b", DType::kFloat, {5, 4, 6})
                    .node("Transpose", {"b"}, {"bt"})
                    .attr_ints("perm", {1, 0, 2})
                    .node("MatMul", {"a", "bt"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(model.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace tessera

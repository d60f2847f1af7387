// gemm_transpose_folding: 2-D Transposes read only by a Gemm or a 2-D MatMul fold into Gemm's transA / transB
// (standard ONNX, basic level); outputs equal; shared or batched Transposes stay.
#include <gtest/gtest.h>

#include <algorithm>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// y = MatMul(Transpose(a) or a, Transpose(b) or b) [+ bias]; a is [5, 7] (or [7, 5] transposed), b [7, 6] (or [6, 7]).
Model matmul(bool transpose_a, bool transpose_b, bool bias = false, bool share_b = false) {
  GraphBuilder b(17);
  b.input("a", DType::kFloat, transpose_a ? std::vector<int64_t>{7, 5} : std::vector<int64_t>{5, 7});
  // w an input: a constant w would be transposed by constant_folding first.
  b.input("w", DType::kFloat, transpose_b ? std::vector<int64_t>{6, 7} : std::vector<int64_t>{7, 6});
  std::string left = "a", right = "w";
  if (transpose_a) {
    b.node("Transpose", {"a"}, {"at"}).attr_ints("perm", {1, 0});
    left = "at";
  }
  if (transpose_b) {
    b.node("Transpose", {"w"}, {"wt"});
    right = "wt";
  }
  b.node("MatMul", {left, right}, {bias ? "p" : "y"});
  if (bias) {
    b.initializer("c", random_floats({6}, 2));
    b.node("Add", {"p", "c"}, {"y"});
  }
  b.output("y");
  if (share_b && transpose_b) b.output("wt");
  return b.build();
}

TEST(GemmTransposeFoldingTest, MatMulWithTransposedOperandsBecomesGemm) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      if (!ta && !tb) continue;
      for (bool bias : {false, true}) {
        Model model = matmul(ta, tb, bias);
        optimize_graph(*model.graph, OptimizationLevel::kBasic);
        const Graph& g = *model.graph;
        ASSERT_EQ(g.nodes.size(), 1u) << ta << tb << bias;
        const Node& gemm = *g.nodes[0];
        EXPECT_EQ(gemm.op_type, "Gemm");
        EXPECT_EQ(gemm.attr_int("transA", 0), ta ? 1 : 0);
        EXPECT_EQ(gemm.attr_int("transB", 0), tb ? 1 : 0);
        EXPECT_EQ(gemm.inputs[0], "a");
        EXPECT_EQ(gemm.inputs[1], "w");
        const auto feeds = std::vector<std::pair<std::string, RuntimeValue>>{
            {"a", random_floats(ta ? std::vector<int64_t>{7, 5} : std::vector<int64_t>{5, 7}, 3)},
            {"w", random_floats(tb ? std::vector<int64_t>{6, 7} : std::vector<int64_t>{7, 6}, 1)}};
        pass_test::expect_same_outputs([&] { return matmul(ta, tb, bias); }, feeds, OptimizationLevel::kBasic, 1e-6);
      }
    }
  }
}

TEST(GemmTransposeFoldingTest, AGemmsTransposeFlipsItsFlag) {
  auto build = [] {
    GraphBuilder b(17);
    b.input("a", DType::kFloat, {4, 3});
    b.input("w", DType::kFloat, {5, 3});
    b.node("Transpose", {"w"}, {"wt"}).attr_ints("perm", {1, 0});  // [3, 5]
    b.node("Gemm", {"a", "wt"}, {"y"}).attr_float("alpha", 0.5f);
    return b.output("y").build();
  };
  Model model = build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  EXPECT_EQ(model.graph->nodes[0]->attr_int("transB", 0), 1);
  EXPECT_FLOAT_EQ(model.graph->nodes[0]->attr_float("alpha", 1.0f), 0.5f);
  const auto feeds = std::vector<std::pair<std::string, RuntimeValue>>{{"a", random_floats({4, 3}, 2)},
                                                                       {"w", random_floats({5, 3}, 1)}};
  pass_test::expect_same_outputs(build, feeds, OptimizationLevel::kBasic, 1e-6);
}

TEST(GemmTransposeFoldingTest, LeavesSharedAndBatchedTransposes) {
  Model shared = matmul(false, true, false, true);  // the transpose is also a graph output
  optimize_graph(*shared.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(pass_test::count_ops(*shared.graph, "Transpose"), 1);
  EXPECT_EQ(pass_test::count_ops(*shared.graph, "MatMul"), 1);

  GraphBuilder b(17);  // 3-D MatMul: Gemm cannot take it (the extended level's FusedMatMul does)
  b.input("a", DType::kFloat, {2, 5, 7});
  b.input("w", DType::kFloat, {2, 6, 7});
  b.node("Transpose", {"w"}, {"wt"}).attr_ints("perm", {0, 2, 1});
  b.node("MatMul", {"a", "wt"}, {"y"});
  Model batched = b.output("y").build();
  optimize_graph(*batched.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(pass_test::count_ops(*batched.graph, "Transpose"), 1);
  EXPECT_EQ(pass_test::count_ops(*batched.graph, "Gemm"), 0);
}

}  // namespace
}  // namespace tessera

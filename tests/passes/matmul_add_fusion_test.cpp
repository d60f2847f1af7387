// matmul_add_fusion: a 2-D MatMul plus a broadcastable bias becomes one Gemm (standard ONNX) with the same outputs;
// batched (3-D) MatMuls and biases that would enlarge the product stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [rows..., 6] @ w [6, 4] + c -> y
Model linear(std::vector<int64_t> x_shape, std::vector<int64_t> c_shape) {
  return GraphBuilder(17)
      .input("x", DType::kFloat, x_shape)
      .initializer("w", random_floats({6, 4}, 1))
      .initializer("c", random_floats(c_shape, 2))
      .node("MatMul", {"x", "w"}, {"h"})
      .node("Add", {"c", "h"}, {"y"})
      .output("y")
      .build();
}

TEST(MatMulAddFusionTest, TwoDimensionalMatMulWithBiasBecomesGemm) {
  for (const auto& c : std::vector<std::vector<int64_t>>{{4}, {1, 4}, {5, 1}, {5, 4}, {}}) {
    Model model = linear({5, 6}, c);
    optimize_graph(*model.graph, OptimizationLevel::kBasic);
    ASSERT_EQ(model.graph->nodes.size(), 1u);
    const Node& gemm = *model.graph->nodes[0];
    EXPECT_EQ(gemm.op_type, "Gemm");
    EXPECT_EQ(gemm.inputs, (std::vector<std::string>{"x", "w", "c"}));
    EXPECT_EQ(gemm.outputs[0], "y");
  }
}

TEST(MatMulAddFusionTest, OutputsUnchanged) {
  for (const auto& c : std::vector<std::vector<int64_t>>{{4}, {5, 1}, {5, 4}}) {
    pass_test::expect_same_outputs([&] { return linear({5, 6}, c); }, {{"x", random_floats({5, 6}, 3)}},
                                   OptimizationLevel::kBasic, 1e-6);
  }
}

// y = (x w + c) + c2: matching the second Add looks up the producer of its input, the first Add, which the pass used
// to replace while still matching (a heap-use-after-free ASan reports here).
Model linear_then_add() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {5, 6})
      .initializer("w", random_floats({6, 4}, 1))
      .initializer("c", random_floats({4}, 2))
      .initializer("c2", random_floats({5, 4}, 4))
      .node("MatMul", {"x", "w"}, {"h"})
      .node("Add", {"c", "h"}, {"y1"})
      .node("Add", {"y1", "c2"}, {"y"})
      .output("y")
      .build();
}

TEST(MatMulAddFusionTest, AnAddAfterTheFusedAddStays) {
  Model model = linear_then_add();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 2u);
  EXPECT_EQ(model.graph->nodes[0]->op_type, "Gemm");
  EXPECT_EQ(model.graph->nodes[1]->op_type, "Add");
  pass_test::expect_same_outputs(linear_then_add, {{"x", random_floats({5, 6}, 3)}}, OptimizationLevel::kBasic, 1e-6);
}

TEST(MatMulAddFusionTest, LeavesBatchedMatMulsAndGrowingBiases) {
  Model batched = linear({2, 5, 6}, {4});
  optimize_graph(*batched.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(batched.graph->nodes.size(), 2u);
  Model growing = linear({5, 6}, {3, 5, 4});
  optimize_graph(*growing.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(growing.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace tessera

// matmul_bias_fusion: a batched MatMul plus a bias row, alone or under BiasGelu / FastGelu, becomes one com.tessera
// MatMulBias with bit-identical outputs (at one and two threads); 2-D MatMuls are left to matmul_add_fusion, and
// products read elsewhere or biases that are not a row of the product stay.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

constexpr int64_t kK = 40, kN = 70;  // N: two AVX-512 strips and a partial one, so tiles and blocks have edges

// x [2, 9, K] @ w [K, N] -> `op` with bias [bias_size] (bias first for the Add when `bias_first`) -> y
Model batched_linear(const std::string& op, int64_t bias_size = kN, bool bias_first = false) {
  GraphBuilder b(17);
  b.opset(kMicrosoftDomain, 1);
  b.input("x", DType::kFloat, {2, 9, kK});
  b.initializer("w", random_floats({kK, kN}, 1));
  b.initializer("bias", random_floats({bias_size}, 2));
  b.node("MatMul", {"x", "w"}, {"h"});
  if (op == "Add") {
    b.node("Add", bias_first ? std::vector<std::string>{"bias", "h"} : std::vector<std::string>{"h", "bias"}, {"y"});
  } else {
    b.node(op, {"h", "bias"}, {"y"}, kMicrosoftDomain);
  }
  return b.output("y").build();
}

TEST(MatMulBiasFusionTest, FusesAddBiasGeluAndFastGelu) {
  for (const auto& [op, activation] :
       std::vector<std::pair<std::string, std::string>>{{"Add", ""}, {"BiasGelu", "Gelu"}, {"FastGelu", "FastGelu"}}) {
    SCOPED_TRACE(op);
    Model model = batched_linear(op);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    ASSERT_EQ(model.graph->nodes.size(), 1u);
    const Node& fused = *model.graph->nodes[0];
    EXPECT_EQ(fused.op_type, "MatMulBias");
    EXPECT_EQ(fused.domain, kTesseraDomain);
    EXPECT_EQ(fused.inputs, (std::vector<std::string>{"x", "w", "bias"}));
    EXPECT_EQ(fused.outputs[0], "y");
    EXPECT_EQ(fused.attr_string("activation", ""), activation);
  }
  Model bias_first = batched_linear("Add", kN, true);
  optimize_graph(*bias_first.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(bias_first.graph->nodes.size(), 1u);
  EXPECT_EQ(bias_first.graph->nodes[0]->inputs[2], "bias");
}

// Bit-identical to MatMul followed by Add / BiasGelu / FastGelu, on one thread and on two.
TEST(MatMulBiasFusionTest, OutputsBitIdentical) {
  const Tensor x = random_floats({2, 9, kK}, 3);
  for (const char* op : {"Add", "BiasGelu", "FastGelu"}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(op) + " threads " + std::to_string(threads));
      SessionOptions off, on;
      off.optimization_level = OptimizationLevel::kDisabled;
      on.optimization_level = OptimizationLevel::kExtended;
      off.intra_op_threads = on.intra_op_threads = threads;
      Session plain(batched_linear(op), off), fused(batched_linear(op), on);
      const Tensor a = plain.run({{"x", x}})[0].tensor();
      const Tensor b = fused.run({{"x", x}})[0].tensor();
      ASSERT_EQ(a.shape(), b.shape());
      EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()), 0);
    }
  }
}

TEST(MatMulBiasFusionTest, LeavesOtherShapesAndSharedProducts) {
  // A bias that is not a row of the product (one value broadcast) stays an Add.
  Model scalar_bias = batched_linear("Add", 1);
  optimize_graph(*scalar_bias.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(scalar_bias.graph->nodes.size(), 2u);
  // The product is also a graph output.
  Model shared = batched_linear("BiasGelu");
  shared.graph->outputs.push_back(shared.graph->outputs[0]);
  shared.graph->outputs.back().name = "h";
  optimize_graph(*shared.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(shared.graph->nodes.size(), 2u);
  // 2-D: matmul_add_fusion's Gemm at basic; the pass itself is off by name here.
  Model plain = GraphBuilder(17)
                    .input("x", DType::kFloat, {9, kK})
                    .initializer("w", random_floats({kK, kN}, 1))
                    .initializer("bias", random_floats({kN}, 2))
                    .node("MatMul", {"x", "w"}, {"h"})
                    .node("Add", {"h", "bias"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*plain.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(plain.graph->nodes.size(), 1u);
  EXPECT_EQ(plain.graph->nodes[0]->op_type, "Gemm");
  Model off = batched_linear("Add");
  optimize_graph(*off.graph, OptimizationLevel::kExtended, {"matmul_bias_fusion"});
  EXPECT_EQ(off.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace tessera

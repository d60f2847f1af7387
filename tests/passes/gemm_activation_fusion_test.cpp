// gemm_activation_fusion: Gemm + Relu/LeakyRelu/Sigmoid/Tanh/HardSigmoid -> com.microsoft FusedGemm with ONNX
// Runtime's attributes and unchanged outputs (bias rows through the GEMM epilogue, full C matrices through beta).
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [5, 8] -> Gemm(W [6, 8] transposed, C) -> activation -> y; C is a bias row [6] or a full [5, 6] matrix.
Model linear(const std::string& activation, bool full_c) {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {5, 8});
  b.initializer("w", random_floats({6, 8}, 1));
  b.initializer("c", full_c ? random_floats({5, 6}, 2) : random_floats({6}, 2));
  b.node("Gemm", {"x", "w", "c"}, {"h"}).attr_int("transB", 1).attr_float("alpha", 0.5f).attr_float("beta", 2.0f);
  b.node(activation, {"h"}, {"y"});
  if (activation == "LeakyRelu") b.attr_float("alpha", 0.2f);
  return b.output("y").build();
}

TEST(GemmActivationFusionTest, FusesWithOnnxRuntimeAttributes) {
  Model model = linear("LeakyRelu", false);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& fused = *model.graph->nodes[0];
  EXPECT_EQ(fused.op_type, "FusedGemm");
  EXPECT_EQ(fused.domain, kMicrosoftDomain);
  EXPECT_EQ(fused.attr_string("activation", ""), "LeakyRelu");
  EXPECT_FLOAT_EQ(fused.attr_float("activation_alpha", 0), 0.2f);
  EXPECT_EQ(fused.outputs[0], "y");
}

TEST(GemmActivationFusionTest, OutputsUnchanged) {
  const Tensor x = random_floats({5, 8}, 3);
  for (const char* activation : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid"}) {
    for (bool full_c : {false, true}) {
      pass_test::expect_same_outputs([&] { return linear(activation, full_c); }, {{"x", x}}, OptimizationLevel::kExtended,
                                     1e-6);
    }
  }
}

TEST(GemmActivationFusionTest, LeavesClip) {
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {2, 3})
                    .initializer("w", random_floats({3, 4}, 1))
                    .node("Gemm", {"x", "w"}, {"h"})
                    .node("Clip", {"h"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(model.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace tessera

// dynamic_quantize_matmul_fusion: the groups `tessera quantize` writes (DynamicQuantizeLinear, MatMulInteger, Cast,
// Mul, bias Add) become com.microsoft DynamicQuantizeMatMul nodes with bit-identical outputs, also when several
// MatMuls share one quantized activation; groups whose weight is not constant stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"
#include "quantize/dynamic_quantizer.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [2, 5, 16] feeds two MatMuls (one quantized activation shared) and a Gemm-with-bias chain.
Model float_model() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 5, 16})
      .initializer("wq", random_floats({16, 24}, 1, 0.5f))
      .initializer("wk", random_floats({16, 24}, 2, 0.5f))
      .initializer("bias", random_floats({24}, 3))
      .node("MatMul", {"x", "wq"}, {"q"})
      .node("Add", {"q", "bias"}, {"qb"})
      .node("MatMul", {"x", "wk"}, {"k"})
      .node("Mul", {"qb", "k"}, {"y"})
      .output("y")
      .build();
}

Model quantized(bool per_channel, DType weight_type) {
  Model model = float_model();
  quantize::DynamicQuantizeOptions options;
  options.per_channel = per_channel;
  options.weights.type = weight_type;
  options.weights.symmetric = weight_type == DType::kInt8;
  quantize::quantize_dynamic(model, options);
  return model;
}

TEST(DynamicQuantizeMatMulFusionTest, GroupsBecomeOneNodeEach) {
  Model model = quantized(false, DType::kInt8);
  ASSERT_EQ(pass_test::count_ops(*model.graph, "MatMulInteger"), 2);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "DynamicQuantizeMatMul"), 2);
  for (const char* gone : {"MatMulInteger", "DynamicQuantizeLinear", "Cast", "Add"}) {
    EXPECT_EQ(pass_test::count_ops(*model.graph, gone), 0) << gone;
  }
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Mul"), 1);  // only the model's own Mul(qb, k)
  for (const auto& node : model.graph->nodes) {
    if (node->op_type != "DynamicQuantizeMatMul") continue;
    EXPECT_EQ(node->domain, kMicrosoftDomain);
    EXPECT_EQ(node->inputs[0], "x");
    // The Add's bias went into the node that fed it.
    if (node->outputs[0] == "qb") {
      EXPECT_EQ(node->inputs.size(), 5u);
    }
  }
  // Basic level keeps the standard ONNX form.
  Model basic = quantized(false, DType::kInt8);
  optimize_graph(*basic.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(pass_test::count_ops(*basic.graph, "DynamicQuantizeMatMul"), 0);
}

TEST(DynamicQuantizeMatMulFusionTest, OutputsBitIdentical) {
  for (const bool per_channel : {false, true}) {
    for (const DType type : {DType::kInt8, DType::kUint8}) {
      pass_test::expect_same_outputs([&] { return quantized(per_channel, type); },
                                     {{"x", random_floats({2, 5, 16}, 9)}}, OptimizationLevel::kExtended, 0.0);
    }
  }
}

TEST(DynamicQuantizeMatMulFusionTest, LeavesNonConstantWeights) {
  Model model = GraphBuilder(17)
                    .input("a", DType::kFloat, {3, 4})
                    .input("b", DType::kInt8, {4, 2})
                    .initializer("b_scale", Tensor::scalar<float>(DType::kFloat, 0.5f))
                    .node("DynamicQuantizeLinear", {"a"}, {"aq", "as", "az"})
                    .node("MatMulInteger", {"aq", "b", "az"}, {"p"})
                    .node("Cast", {"p"}, {"pf"})
                    .attr_int("to", 1)
                    .node("Mul", {"as", "b_scale"}, {"s"})
                    .node("Mul", {"pf", "s"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "DynamicQuantizeMatMul"), 0);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "MatMulInteger"), 1);
}

}  // namespace
}  // namespace tessera

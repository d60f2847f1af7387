// quantize_dynamic: weights quantized as onnxruntime's tool quantizes them, the QOperator graph it writes, and
// outputs that stay within quantization noise of the float model when run.
#include "quantize/dynamic_quantizer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "ir/graph_builder.h"
#include "passes/pass_test_util.h"
#include "quantize_test_util.h"
#include "runtime/session.h"

namespace tessera::quantize {
namespace {

using pass_test::random_floats;

TEST(WeightQuantizationTest, SymmetricInt8UsesPlusMinus127) {
  WeightQuantization q;  // int8 symmetric
  const Tensor w = Tensor::from_vector(DType::kFloat, std::vector<float>{-0.5f, 0.25f, 1.27f, 0.005f});
  Tensor values;
  const QuantParams p = quantize_weight(w, q, -1, values);
  ASSERT_EQ(p.scales.size(), 1u);
  EXPECT_FLOAT_EQ(p.scales[0], 2.54f / 254.0f);
  EXPECT_EQ(p.zero_points[0], 0);
  EXPECT_EQ(values.dtype(), DType::kInt8);
  EXPECT_EQ(values.data<int8_t>()[0], -50);
  EXPECT_EQ(values.data<int8_t>()[1], 25);
  EXPECT_EQ(values.data<int8_t>()[2], 127);
  EXPECT_EQ(values.data<int8_t>()[3], 0);  // 0.5 rounds to even
}

TEST(WeightQuantizationTest, AsymmetricUint8CoversTheRangeWithZero) {
  WeightQuantization q;
  q.type = DType::kUint8;
  q.symmetric = false;
  const Tensor w = Tensor::from_vector(DType::kFloat, std::vector<float>{0.5f, 1.0f, 2.55f});
  Tensor values;
  const QuantParams p = quantize_weight(w, q, -1, values);
  EXPECT_FLOAT_EQ(p.scales[0], 0.01f);  // range widened to [0, 2.55]
  EXPECT_EQ(p.zero_points[0], 0);
  EXPECT_EQ(values.data<uint8_t>()[2], 255);
  q.reduce_range = true;
  quantize_weight(w, q, -1, values);
  EXPECT_EQ(values.data<uint8_t>()[2], 127);
}

TEST(WeightQuantizationTest, PerChannelAndAllZeroChannels) {
  WeightQuantization q;
  // [2, 3]: column 0 is all zero, columns 1 and 2 differ in range.
  const Tensor w = Tensor::from_vector(DType::kFloat, std::vector<float>{0, 1, -4, 0, -0.5f, 2});
  Tensor values;
  const QuantParams p = quantize_weight(w.reshaped({2, 3}), q, 1, values);
  ASSERT_EQ(p.scales.size(), 3u);
  EXPECT_FLOAT_EQ(p.scales[0], 1.0f);  // an all-zero range
  EXPECT_FLOAT_EQ(p.scales[1], 2.0f / 254.0f);
  EXPECT_FLOAT_EQ(p.scales[2], 8.0f / 254.0f);
  EXPECT_EQ(values.data<int8_t>()[1], 127);
  EXPECT_EQ(values.data<int8_t>()[2], -127);
  EXPECT_EQ(values.data<int8_t>()[4], -64);  // -0.5 / (2/254) = -63.5 -> -64 (ties to even)
}

// x [4, 16] -> MatMul(w1 [16, 32]) -> Relu -> Gemm(w2 [8, 32], transB, bias [8]) -> y [4, 8]
Model mlp() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {4, 16})
      .initializer("w1", random_floats({16, 32}, 1, 0.5f))
      .initializer("w2", random_floats({8, 32}, 2, 0.5f))
      .initializer("b2", random_floats({8}, 3))
      .node("MatMul", {"x", "w1"}, {"h"})
      .node("Relu", {"h"}, {"r"})
      .node("Gemm", {"r", "w2", "b2"}, {"y"})
      .attr_int("transB", 1)
      .output("y")
      .build();
}

int count_ops(const Graph& graph, const std::string& op_type) {
  int n = 0;
  for (const auto& node : graph.nodes) n += node->op_type == op_type;
  return n;
}

// Relative L2 distance of the quantized model's output from the float model's, run without optimizations.
double relative_error(Model quantized) {
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({4, 16}, 4)}};
  SessionOptions options;
  options.optimization_level = OptimizationLevel::kDisabled;
  const Tensor want = Session(mlp(), options).run(feeds)[0].tensor();
  const Tensor got = Session(std::move(quantized), options).run(feeds)[0].tensor();
  return test::relative_l2(got, want);
}

TEST(DynamicQuantizerTest, MatMulAndGemmBecomeTheQOperatorForm) {
  Model model = mlp();
  const QuantizeReport report = quantize_dynamic(model, {});
  EXPECT_EQ(report.quantized.size(), 2u);
  EXPECT_TRUE(report.skipped.empty());
  const Graph& g = *model.graph;
  EXPECT_EQ(count_ops(g, "DynamicQuantizeLinear"), 2);
  EXPECT_EQ(count_ops(g, "MatMulInteger"), 2);
  EXPECT_EQ(count_ops(g, "MatMul") + count_ops(g, "Gemm"), 0);
  EXPECT_EQ(g.initializers.count("w1"), 0u);  // the float weights are gone
  EXPECT_EQ(g.initializers.at("w1_quantized").dtype(), DType::kInt8);
  EXPECT_EQ(g.initializers.at("w2_quantized").shape(), (std::vector<int64_t>{32, 8}));  // transposed to [K, N]
  EXPECT_EQ(report.float_weight_bytes, (16 * 32 + 8 * 32) * 4u);
  EXPECT_LT(relative_error(std::move(model)), 0.02);
}

TEST(DynamicQuantizerTest, PerChannelUint8WeightsStayAccurate) {
  Model model = mlp();
  DynamicQuantizeOptions options;
  options.per_channel = true;
  options.weights.type = DType::kUint8;
  options.weights.symmetric = false;
  quantize_dynamic(model, options);
  EXPECT_EQ(model.graph->initializers.at("w1_scale").shape(), (std::vector<int64_t>{32}));
  EXPECT_EQ(model.graph->initializers.at("w1_zero_point").dtype(), DType::kUint8);
  EXPECT_LT(relative_error(std::move(model)), 0.02);
}

TEST(DynamicQuantizerTest, ExcludedNodesAndUnsupportedFormsStayFloat) {
  Model model = mlp();
  DynamicQuantizeOptions options;
  options.exclude_nodes = {model.graph->nodes[0]->name};
  const QuantizeReport report = quantize_dynamic(model, options);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].detail, "in the exclude list");
  EXPECT_EQ(count_ops(*model.graph, "MatMul"), 1);
  EXPECT_EQ(count_ops(*model.graph, "MatMulInteger"), 1);

  Model activations = GraphBuilder(17)
                          .input("a", DType::kFloat, {2, 3})
                          .input("b", DType::kFloat, {3, 2})
                          .node("MatMul", {"a", "b"}, {"y"})
                          .output("y")
                          .build();
  const QuantizeReport none = quantize_dynamic(activations, {});
  ASSERT_EQ(none.skipped.size(), 1u);
  EXPECT_EQ(none.skipped[0].detail, "B is not a constant initializer");
}

TEST(DynamicQuantizerTest, RefusesOldOpsetsAndUnknownOpTypes) {
  Model old = GraphBuilder(10).input("x", DType::kFloat, {2, 3}).node("Relu", {"x"}, {"y"}).output("y").build();
  try {
    quantize_dynamic(old, {});
    FAIL() << "opset 10 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("opset 11"), std::string::npos) << e.what();
  }
  Model model = mlp();
  DynamicQuantizeOptions options;
  options.op_types = {"Conv"};
  EXPECT_THROW(quantize_dynamic(model, options), Error);
}

}  // namespace
}  // namespace tessera::quantize

// Calibration (MinMax, moving average, Percentile, Entropy) and quantize_static's QDQ graph: pairs on activations,
// after a Relu that follows a quantized node, weights and int32 biases behind DequantizeLinear, and outputs within
// quantization noise of the float model.
#include "quantize/static_quantizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/error.h"
#include "ir/graph_builder.h"
#include "passes/pass_test_util.h"
#include "quantize/accuracy_budget.h"
#include "quantize_test_util.h"
#include "runtime/session.h"

namespace tessera::quantize {
namespace {

using pass_test::random_floats;

// x [1, 3, 8, 8] -> Conv(w [4, 3, 3, 3], b [4], pad 1) -> Relu -> Conv(w2 [2, 4, 1, 1]) -> y
Model conv_net(int64_t opset = 17) {
  return GraphBuilder(opset)
      .input("x", DType::kFloat, {1, 3, 8, 8})
      .initializer("w", random_floats({4, 3, 3, 3}, 1, 0.5f))
      .initializer("b", random_floats({4}, 2, 0.5f))
      .initializer("w2", random_floats({2, 4, 1, 1}, 3, 0.5f))
      .node("Conv", {"x", "w", "b"}, {"c"})
      .attr_ints("pads", {1, 1, 1, 1})
      .node("Relu", {"c"}, {"r"})
      .node("Conv", {"r", "w2"}, {"y"})
      .output("y")
      .build();
}

std::vector<Feeds> samples(int count, unsigned seed) {
  std::vector<Feeds> data;
  for (int i = 0; i < count; ++i) data.push_back({{"x", random_floats({1, 3, 8, 8}, seed + i)}});
  return data;
}

int count(const Graph& graph, const std::string& op_type) {
  int n = 0;
  for (const auto& node : graph.nodes) n += node->op_type == op_type;
  return n;
}

TEST(CalibrationTest, MinMaxAndMovingAverage) {
  Model model = conv_net();
  const auto data = samples(3, 10);
  const CalibrationTable table = calibrate(conv_net(), {"x", "r"}, data, {});
  float lo = 0, hi = 0;
  for (const Feeds& f : data) {
    const Tensor& x = f[0].second.tensor();
    for (int64_t i = 0; i < x.element_count(); ++i)
      lo = std::min(lo, x.data<float>()[i]), hi = std::max(hi, x.data<float>()[i]);
  }
  EXPECT_FLOAT_EQ(table.at("x").min, lo);
  EXPECT_FLOAT_EQ(table.at("x").max, hi);
  EXPECT_EQ(table.at("r").min, 0.0f);  // a Relu output
  CalibrationOptions moving;
  moving.moving_average = true;
  moving.averaging_constant = 0.5f;
  const CalibrationTable averaged = calibrate(conv_net(), {"x"}, data, moving);
  EXPECT_GE(averaged.at("x").min, lo);
  EXPECT_LE(averaged.at("x").max, hi);
  EXPECT_THROW(calibrate(conv_net(), {"nope"}, data, {}), Error);
  EXPECT_THROW(calibrate(conv_net(), {"x"}, {}, {}), Error);
}

TEST(CalibrationTest, HistogramThresholds) {
  // 1000 values in bin 0..99 uniformly, plus one outlier far out in the last bin.
  std::vector<double> histogram(1000, 0.0);
  for (int i = 0; i < 100; ++i) histogram[static_cast<size_t>(i)] = 10;
  histogram[999] = 1;
  CalibrationOptions percentile;
  percentile.method = CalibrationMethod::kPercentile;
  percentile.percentile = 99.0;
  EXPECT_NEAR(histogram_threshold(histogram, 100.0f, percentile), 9.9f, 0.11f);  // 99% of 1001 values by bin 99
  // Entropy: a dense bell of |x| (sd 150 bins) with sparse outliers out to bin 2047 is cut inside the outliers.
  std::vector<double> bell(2048, 0.0);
  for (int i = 0; i < 2048; ++i) {
    bell[static_cast<size_t>(i)] = std::floor(1e5 * std::exp(-0.5 * (i / 150.0) * (i / 150.0))) + (i % 97 == 0);
  }
  CalibrationOptions entropy;
  entropy.method = CalibrationMethod::kEntropy;
  const float t = histogram_threshold(bell, 2048.0f, entropy);
  EXPECT_LT(t, 1500.0f) << "the outliers should be clipped";
  EXPECT_GT(t, 300.0f) << "the bell (2 sd) should be kept";
}

TEST(StaticQuantizerTest, WritesTheQdqForm) {
  Model model = conv_net();
  StaticQuantizeOptions options;
  const std::vector<std::string> tensors = tensors_to_calibrate(model, options);
  EXPECT_EQ(tensors, (std::vector<std::string>{"x", "r", "y"}));  // the pair goes after the Relu
  const CalibrationTable ranges = calibrate(conv_net(), tensors, samples(4, 20), {});
  const QuantizeReport report = quantize_static(model, ranges, options);
  EXPECT_EQ(report.quantized.size(), 2u);
  const Graph& g = *model.graph;
  EXPECT_EQ(count(g, "QuantizeLinear"), 3);
  EXPECT_EQ(count(g, "DequantizeLinear"), 3 + 2 + 1);  // activations, weights, one bias
  EXPECT_EQ(g.initializers.count("w"), 0u);
  EXPECT_EQ(g.initializers.at("w_quantized").dtype(), DType::kInt8);
  EXPECT_EQ(g.initializers.at("b_quantized").dtype(), DType::kInt32);
  // The Relu output's zero point is int8's minimum, so a fused QLinearConv can absorb the Relu exactly.
  EXPECT_EQ(g.initializers.at("r_zero_point").data<int8_t>()[0], -128);
  // Bias scale = input scale * weight scale.
  EXPECT_FLOAT_EQ(g.initializers.at("b_quantized_scale").data<float>()[0],
                  g.initializers.at("x_scale").data<float>()[0] * g.initializers.at("w_scale").data<float>()[0]);
  // Outputs stay within quantization noise of the float model.
  const Feeds feeds = samples(1, 99)[0];
  SessionOptions plain;
  plain.optimization_level = OptimizationLevel::kDisabled;
  const Tensor want = Session(conv_net(), plain).run(feeds)[0].tensor();
  const Tensor got = Session(std::move(model), plain).run(feeds)[0].tensor();
  EXPECT_LT(test::relative_l2(got, want), 0.05);
}

TEST(StaticQuantizerTest, PerChannelUint8AndOpsetChecks) {
  Model model = conv_net();
  StaticQuantizeOptions options;
  options.per_channel = true;
  options.activation_type = DType::kUint8;
  const CalibrationTable ranges = calibrate(conv_net(), tensors_to_calibrate(model, options), samples(2, 30), {});
  quantize_static(model, ranges, options);
  EXPECT_EQ(model.graph->initializers.at("w_scale").shape(), (std::vector<int64_t>{4}));
  EXPECT_EQ(model.graph->initializers.at("b_quantized_scale").shape(), (std::vector<int64_t>{4}));
  EXPECT_EQ(model.graph->initializers.at("r_zero_point").data<uint8_t>()[0], 0);
  Model old = conv_net(12);
  try {
    quantize_static(old, ranges, options);
    FAIL() << "per-channel at opset 12 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  Model missing = conv_net();
  EXPECT_THROW(quantize_static(missing, {}, {}), Error);  // no ranges
}

TEST(StaticQuantizerTest, QOperatorFormAndSymmetricActivations) {
  Model model = conv_net();
  StaticQuantizeOptions options;
  options.qoperator = true;
  const CalibrationTable ranges = calibrate(conv_net(), tensors_to_calibrate(model, options), samples(3, 60), {});
  quantize_static(model, ranges, options);
  // Both convolutions (the Relu absorbed) as QLinearConv, the weight and bias DequantizeLinears folded in.
  EXPECT_EQ(count(*model.graph, "QLinearConv"), 2);
  EXPECT_EQ(count(*model.graph, "Conv") + count(*model.graph, "Relu"), 0);
  EXPECT_EQ(count(*model.graph, "QuantizeLinear"), 1);    // the input
  EXPECT_EQ(count(*model.graph, "DequantizeLinear"), 1);  // the output
  Model symmetric = conv_net();
  options.qoperator = false;
  options.symmetric_activations = true;
  quantize_static(symmetric, ranges, options);
  EXPECT_EQ(symmetric.graph->initializers.at("x_zero_point").data<int8_t>()[0], 0);
}

TEST(AccuracyBudgetTest, KeepsLayersInFloatUntilTheDropFits) {
  StaticQuantizeOptions options;
  Model probe = conv_net();
  const CalibrationTable ranges = calibrate(conv_net(), tensors_to_calibrate(probe, options), samples(4, 40), {});
  const std::vector<Feeds> validation = samples(3, 50);
  BudgetOptions budget;
  budget.metric = AccuracyMetric::kRelativeL2;
  budget.max_drop = 1e-4;  // far below what int8 gives: both nodes end in float
  Model quantized;
  const BudgetResult result =
      search_accuracy_budget([] { return conv_net(); }, ranges, options, validation, budget, quantized);
  EXPECT_GT(result.initial_drop, budget.max_drop);
  EXPECT_TRUE(result.met);
  EXPECT_EQ(result.kept_float.size(), 2u);
  EXPECT_EQ(result.drops.size(), 2u);
  EXPECT_LE(result.final_drop, budget.max_drop);
  ASSERT_EQ(result.before.size(), 2u);
  EXPECT_GT(result.before[1].error, 0.0);
  EXPECT_EQ(count(*quantized.graph, "Conv"), 2);
  EXPECT_EQ(count(*quantized.graph, "QuantizeLinear"), 0);
  // A generous budget keeps everything quantized.
  budget.max_drop = 0.5;
  const BudgetResult easy =
      search_accuracy_budget([] { return conv_net(); }, ranges, options, validation, budget, quantized);
  EXPECT_TRUE(easy.kept_float.empty());
  EXPECT_EQ(count(*quantized.graph, "QuantizeLinear"), 3);
  const std::string html = budget_report_html(result, budget, "conv<net>");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("conv&lt;net&gt;"), std::string::npos);
  EXPECT_EQ(parse_accuracy_metric("top1"), AccuracyMetric::kTop1);
  EXPECT_THROW(parse_accuracy_metric("bleu"), Error);
}

}  // namespace
}  // namespace tessera::quantize

// Comparing a float model with its QDQ-quantized form: where the optimizer fused a QuantizeLinear's float input into
// an integer op, the capture stands the dequantized value in for it, so the layers still match by name.
#include <gtest/gtest.h>

#include "compare/model_compare.h"
#include "ir/graph_builder.h"
#include "onnx/model_writer.h"
#include "onnx/test_models.h"
#include "passes/pass_test_util.h"
#include "quantize/static_quantizer.h"

namespace tessera {
namespace {

using pass_test::random_floats;

Model conv_relu_conv() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {1, 4, 6, 6})
      .initializer("w", random_floats({8, 4, 3, 3}, 1, 0.5f))
      .initializer("b", random_floats({8}, 2, 0.5f))
      .initializer("w2", random_floats({4, 8, 1, 1}, 3, 0.5f))
      .node("Conv", {"x", "w", "b"}, {"c"})
      .attr_ints("pads", {1, 1, 1, 1})
      .node("Relu", {"c"}, {"r"})
      .node("Conv", {"r", "w2"}, {"y"})
      .output("y")
      .build();
}

TEST(QuantizedCompareTest, FusedLayersCompareThroughTheirDequantizedValues) {
  testing::TempDir dir;
  save_model(conv_relu_conv(), dir.file("float.onnx"));
  Model model = conv_relu_conv();
  quantize::StaticQuantizeOptions options;
  std::vector<quantize::Feeds> data;
  for (unsigned i = 0; i < 3; ++i) data.push_back({{"x", random_floats({1, 4, 6, 6}, 10 + i)}});
  const auto ranges = quantize::calibrate(conv_relu_conv(), quantize::tensors_to_calibrate(model, options), data, {});
  quantize::quantize_static(model, ranges, options);
  save_model(model, dir.file("quantized.onnx"));

  CompareSide a{dir.file("float.onnx"), {}, "float"};
  a.options.optimization_level = OptimizationLevel::kDisabled;
  CompareSide b{dir.file("quantized.onnx"), {}, "quantized"};
  b.options.optimization_level = OptimizationLevel::kAll;
  const CapturedRun ra = CapturingSession(a).run(data[0]);
  const CapturedRun rb = CapturingSession(b).run(data[0]);
  // The Relu output is computed inside a fused integer convolution on side B; it still matches, dequantized.
  ASSERT_EQ(rb.values.count("r"), 1u);
  EXPECT_NE(rb.op_of.at("r").find("(dequantized)"), std::string::npos) << rb.op_of.at("r");
  const ModelComparison cmp = compare_runs(ra, rb, 0.05, 1e-3);
  bool relu_compared = false;
  for (const ValueDiff& d : cmp.values) {
    if (d.value != "r") continue;
    relu_compared = true;
    EXPECT_LT(d.relative, 0.05) << d.max_abs;
  }
  EXPECT_TRUE(relu_compared);
}

}  // namespace
}  // namespace tessera

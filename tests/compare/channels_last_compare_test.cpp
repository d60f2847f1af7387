// Comparing a model with its channels-last optimization: the values inside an nhwc_layout chain (com.tessera
// NhwcConv outputs, channels-last) are captured as their NCHW originals, transposed back, so `tessera compare`
// checks every convolution of the chain by name, and finds an error injected into one of them.
#include <gtest/gtest.h>

#include "compare/model_compare.h"
#include "ir/graph_builder.h"
#include "onnx/model_writer.h"
#include "onnx/test_models.h"
#include "passes/pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [1,8,7,7] -> 1x1 expand (32) -> Relu -> 3x3 depthwise -> Relu -> 1x1 project (8) -> y; `w3_scale` scales the
// project's weights (an injected error when not 1).
Model inverted_residual(float w3_scale) {
  Tensor w3 = random_floats({8, 32, 1, 1}, 3, 0.3f);
  for (int64_t i = 0; i < w3.element_count(); ++i) w3.data<float>()[i] *= w3_scale;
  return GraphBuilder(17)
      .input("x", DType::kFloat, {1, 8, 7, 7})
      .initializer("w1", random_floats({32, 8, 1, 1}, 1, 0.4f))
      .initializer("w2", random_floats({32, 1, 3, 3}, 2, 0.4f))
      .initializer("w3", w3)
      .node("Conv", {"x", "w1"}, {"c1"})
      .node("Relu", {"c1"}, {"a1"})
      .node("Conv", {"a1", "w2"}, {"c2"})
      .attr_int("group", 32)
      .attr_ints("pads", {1, 1, 1, 1})
      .node("Relu", {"c2"}, {"a2"})
      .node("Conv", {"a2", "w3"}, {"y"})
      .output("y")
      .build();
}

TEST(ChannelsLastCompareTest, ValuesInsideTheChainCompareAsTheirNchwOriginals) {
  testing::TempDir dir;
  save_model(inverted_residual(1.0f), dir.file("model.onnx"));
  CompareSide a{dir.file("model.onnx"), {}, "disabled"};
  a.options.optimization_level = OptimizationLevel::kDisabled;
  CompareSide b{dir.file("model.onnx"), {}, "all"};
  b.options.optimization_level = OptimizationLevel::kAll;
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({1, 8, 7, 7}, 9)}};
  const CapturedRun ra = CapturingSession(a).run(feeds);
  const CapturedRun rb = CapturingSession(b).run(feeds);
  // a1 (the expand + Relu, fused) is computed channels-last on side B and captured transposed back.
  ASSERT_EQ(rb.values.count("a1"), 1u);
  EXPECT_NE(rb.op_of.at("a1").find("(channels-last)"), std::string::npos) << rb.op_of.at("a1");
  EXPECT_EQ(rb.values.at("a1").shape(), (std::vector<int64_t>{1, 32, 7, 7}));
  const ModelComparison cmp = compare_runs(ra, rb, 1e-4, 1e-6);
  int compared = 0;
  for (const ValueDiff& d : cmp.values) {
    compared += d.value == "a1" || d.value == "a2" || d.value == "y";
    EXPECT_FALSE(d.diverges) << d.value << " " << d.max_abs;
  }
  EXPECT_EQ(compared, 3);
  EXPECT_LT(cmp.first_divergence, 0);
}

TEST(ChannelsLastCompareTest, NamesTheNodeAnInjectedErrorEntersAt) {
  testing::TempDir dir;
  save_model(inverted_residual(1.0f), dir.file("good.onnx"));
  save_model(inverted_residual(1.01f), dir.file("bad.onnx"));
  CompareSide a{dir.file("good.onnx"), {}, "good"};
  CompareSide b{dir.file("bad.onnx"), {}, "bad"};
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({1, 8, 7, 7}, 9)}};
  const ModelComparison cmp = compare_runs(CapturingSession(a).run(feeds), CapturingSession(b).run(feeds), 1e-4, 1e-6);
  ASSERT_GE(cmp.first_divergence, 0);
  EXPECT_EQ(cmp.values[static_cast<size_t>(cmp.first_divergence)].value, "y");
}

}  // namespace
}  // namespace tessera

// conv_batchnorm_folding: Conv + inference BatchNormalization -> one Conv with folded weights and bias.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

Tensor positive(int64_t n, unsigned seed) {
  Tensor t = random_floats({n}, seed, 1.0f);
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = 0.5f + std::fabs(t.data<float>()[i]);
  return t;
}

// x [1,3,7,7] -> Conv (4 out channels, 3x3, pad 1, bias when `with_bias`) -> BatchNormalization -> y
Model conv_bn(bool with_bias, bool statistics_as_input = false) {
  GraphBuilder b(15);
  b.input("x", DType::kFloat, {1, 3, 7, 7});
  if (statistics_as_input) b.input("mean", DType::kFloat, {4});
  b.initializer("w", random_floats({4, 3, 3, 3}, 1, 0.5f));
  if (with_bias) b.initializer("cb", random_floats({4}, 2, 0.5f));
  b.initializer("scale", positive(4, 3)).initializer("shift", random_floats({4}, 4));
  if (!statistics_as_input) b.initializer("mean", random_floats({4}, 5));
  b.initializer("var", positive(4, 6));
  std::vector<std::string> conv_inputs{"x", "w"};
  if (with_bias) conv_inputs.push_back("cb");
  b.node("Conv", conv_inputs, {"c"}).attr_ints("pads", {1, 1, 1, 1});
  b.node("BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"y"}).attr_float("epsilon", 1e-3f);
  return b.output("y").build();
}

TEST(ConvBatchNormFoldingTest, FoldsIntoOneConv) {
  for (bool with_bias : {false, true}) {
    Model model = conv_bn(with_bias);
    optimize_graph(*model.graph, OptimizationLevel::kBasic);
    ASSERT_EQ(model.graph->nodes.size(), 1u);
    const Node& conv = *model.graph->nodes[0];
    EXPECT_EQ(conv.op_type, "Conv");
    EXPECT_EQ(conv.outputs[0], "y");
    ASSERT_EQ(conv.inputs.size(), 3u);
    // The originals are gone; the folded weights and bias are there.
    EXPECT_EQ(model.graph->initializers.count("w"), 0u);
    EXPECT_EQ(model.graph->initializers.count("var"), 0u);
    EXPECT_EQ(model.graph->initializers.at(conv.inputs[1]).shape(), (std::vector<int64_t>{4, 3, 3, 3}));
    EXPECT_EQ(model.graph->initializers.at(conv.inputs[2]).shape(), (std::vector<int64_t>{4}));
  }
}

TEST(ConvBatchNormFoldingTest, OutputsUnchanged) {
  const Tensor x = random_floats({1, 3, 7, 7}, 9);
  for (bool with_bias : {false, true}) {
    pass_test::expect_same_outputs([&] { return conv_bn(with_bias); }, {{"x", x}}, OptimizationLevel::kBasic, 1e-5);
  }
}

TEST(ConvBatchNormFoldingTest, LeavesNonConstantStatisticsAndSwitchOffAlone) {
  Model model = conv_bn(true, /*statistics_as_input=*/true);
  optimize_graph(*model.graph, OptimizationLevel::kAll);
  EXPECT_EQ(model.graph->nodes.size(), 2u);
  Model off = conv_bn(true);
  optimize_graph(*off.graph, OptimizationLevel::kAll, {"conv_batchnorm_folding"});
  EXPECT_EQ(off.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace tessera

// conv_activation_fusion: Conv + activation -> com.microsoft FusedConv, structure and numerics.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

Tensor scalar(float v) { return Tensor::scalar(DType::kFloat, v); }

// x [1,3,9,9] -> Conv (3x3, pad 1, bias; depthwise when `depthwise`) -> activation -> y
Model conv_then(const std::string& activation, bool depthwise = false) {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {1, 3, 9, 9});
  b.initializer("w", random_floats({depthwise ? 3 : 4, depthwise ? 1 : 3, 3, 3}, 1, 0.5f));
  b.initializer("bias", random_floats({depthwise ? 3 : 4}, 2, 0.5f));
  b.node("Conv", {"x", "w", "bias"}, {"c"}).attr_ints("pads", {1, 1, 1, 1});
  if (depthwise) b.attr_int("group", 3);
  if (activation == "Clip") {
    b.initializer("lo", scalar(-0.25f)).initializer("hi", scalar(0.5f));
    b.node("Clip", {"c", "lo", "hi"}, {"y"});
  } else if (activation == "LeakyRelu") {
    b.node("LeakyRelu", {"c"}, {"y"}).attr_float("alpha", 0.1f);
  } else {
    b.node(activation, {"c"}, {"y"});
  }
  return b.output("y").build();
}

TEST(ConvActivationFusionTest, FusesEachActivation) {
  for (const char* activation : {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid"}) {
    Model model = conv_then(activation);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    ASSERT_EQ(model.graph->nodes.size(), 1u) << activation;
    const Node& fused = *model.graph->nodes[0];
    EXPECT_EQ(fused.domain, "com.microsoft");
    EXPECT_EQ(fused.op_type, "FusedConv");
    EXPECT_EQ(fused.attr_string("activation", ""), activation);
    EXPECT_EQ(fused.outputs[0], "y");
    EXPECT_EQ(fused.attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
    if (std::string(activation) == "Clip") {
      EXPECT_EQ(fused.attr_floats("activation_params"), (std::vector<float>{-0.25f, 0.5f}));
    }
  }
}

TEST(ConvActivationFusionTest, OutputsUnchanged) {
  const Tensor x = random_floats({1, 3, 9, 9}, 3);
  for (const char* activation : {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid"}) {
    for (bool depthwise : {false, true}) {
      SCOPED_TRACE(std::string(activation) + (depthwise ? " depthwise" : ""));
      pass_test::expect_same_outputs([&] { return conv_then(activation, depthwise); }, {{"x", x}},
                                     OptimizationLevel::kExtended, 1e-6);
    }
  }
}

TEST(ConvActivationFusionTest, LeavesSharedOutputsAndBasicLevelAlone) {
  // The Conv output is also a graph output: no fusion.
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {1, 3, 9, 9}).initializer("w", random_floats({4, 3, 3, 3}, 1));
  b.node("Conv", {"x", "w"}, {"c"}).node("Relu", {"c"}, {"y"});
  Model model = b.output("y").output("c").build();
  optimize_graph(*model.graph, OptimizationLevel::kAll);
  EXPECT_EQ(model.graph->nodes.size(), 2u);
  // basic does not run extended passes.
  Model plain = conv_then("Relu");
  optimize_graph(*plain.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(plain.graph->nodes.size(), 2u);
  // and the pass can be switched off by name.
  Model off = conv_then("Relu");
  optimize_graph(*off.graph, OptimizationLevel::kAll, {"conv_activation_fusion"});
  EXPECT_EQ(off.graph->nodes.size(), 2u);
}

}  // namespace
}  // namespace tessera

// conv_add_fusion: Add(Conv(x), z) [+ Relu] -> one com.microsoft FusedConv with z as its sum input, on every
// convolution path (GEMM, Winograd, depthwise); broadcasting Adds stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

struct Shape {
  int64_t channels, size, kernel, group;
};

// x [1,C,S,S] -> Conv(W [C, C/group, k, k], pad k/2) -> Add(z [1,C,S,S] or a [1,C,1,1] broadcast) -> Relu -> y
Model residual(Shape s, bool broadcast_z, bool relu = true) {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {1, s.channels, s.size, s.size});
  b.input("z", DType::kFloat, broadcast_z ? std::vector<int64_t>{1, s.channels, 1, 1}
                                          : std::vector<int64_t>{1, s.channels, s.size, s.size});
  b.initializer("w", random_floats({s.channels, s.channels / s.group, s.kernel, s.kernel}, 1, 0.3f));
  b.initializer("bias", random_floats({s.channels}, 2));
  const int64_t pad = s.kernel / 2;
  b.node("Conv", {"x", "w", "bias"}, {"c"}).attr_ints("pads", {pad, pad, pad, pad}).attr_int("group", s.group);
  b.node("Add", {"z", "c"}, {relu ? "sum" : "y"});
  if (relu) b.node("Relu", {"sum"}, {"y"});
  return b.output("y").build();
}

const Shape kPointwise{16, 6, 1, 1}, kWinograd{32, 12, 3, 1}, kDepthwise{8, 9, 3, 8};

TEST(ConvAddFusionTest, ConvAddReluBecomesOneFusedConv) {
  Model model = residual(kPointwise, false);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& fused = *model.graph->nodes[0];
  EXPECT_EQ(fused.op_type, "FusedConv");
  EXPECT_EQ(fused.domain, kMicrosoftDomain);
  EXPECT_EQ(fused.inputs, (std::vector<std::string>{"x", "w", "bias", "z"}));
  EXPECT_EQ(fused.attr_string("activation", ""), "Relu");
  EXPECT_EQ(fused.outputs[0], "y");
}

TEST(ConvAddFusionTest, OutputsUnchangedOnEveryConvolutionPath) {
  for (const Shape& s : {kPointwise, kWinograd, kDepthwise}) {
    for (bool relu : {true, false}) {
      const auto feeds = std::vector<std::pair<std::string, RuntimeValue>>{
          {"x", random_floats({1, s.channels, s.size, s.size}, 3)}, {"z", random_floats({1, s.channels, s.size, s.size}, 4)}};
      pass_test::expect_same_outputs([&] { return residual(s, false, relu); }, feeds, OptimizationLevel::kExtended, 1e-5);
    }
  }
}

TEST(ConvAddFusionTest, ReportsWhatWasFusedIntoWhat) {
  Model model = residual(kPointwise, false);
  const std::vector<PassReport> reports = optimize_graph(*model.graph, OptimizationLevel::kExtended);
  std::vector<std::string> changes;
  for (const PassReport& r : reports) changes.insert(changes.end(), r.changes.begin(), r.changes.end());
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], "com.microsoft.FusedConv 'Conv_0' <- Conv 'Conv_0', Add 'Add_1'");
  EXPECT_EQ(changes[1], "com.microsoft.FusedConv 'Conv_0' <- com.microsoft.FusedConv 'Conv_0', Relu 'Relu_2'");
}

TEST(ConvAddFusionTest, LeavesABroadcastingAdd) {
  Model model = residual(kPointwise, true);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  bool has_add = false;
  for (const auto& n : model.graph->nodes) has_add |= n->op_type == "Add";
  EXPECT_TRUE(has_add);
}

}  // namespace
}  // namespace tessera

// conv_mul_add_folding: a constant per-channel or scalar Mul / Add after a Conv folds into its weights and bias;
// a constant that varies along another axis, or a non-constant operand, stays.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [1,3,6,6] -> Conv(4 channels, 3x3, pad 1, optional bias) -> Mul c_mul -> Add c_add -> y
Model conv_scale_shift(std::vector<int64_t> mul_shape, std::vector<int64_t> add_shape, bool bias) {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {1, 3, 6, 6});
  b.initializer("w", random_floats({4, 3, 3, 3}, 1, 0.5f));
  if (bias) b.initializer("b", random_floats({4}, 2));
  b.initializer("c_mul", random_floats(mul_shape, 3));
  b.initializer("c_add", random_floats(add_shape, 4));
  std::vector<std::string> conv_inputs{"x", "w"};
  if (bias) conv_inputs.push_back("b");
  b.node("Conv", conv_inputs, {"c"}).attr_ints("pads", {1, 1, 1, 1});
  b.node("Mul", {"c_mul", "c"}, {"m"});
  b.node("Add", {"m", "c_add"}, {"y"});
  return b.output("y").build();
}

TEST(ConvMulAddFoldingTest, PerChannelAndScalarConstantsFold) {
  for (bool bias : {false, true}) {
    Model model = conv_scale_shift({4, 1, 1}, {1, 4, 1, 1}, bias);
    optimize_graph(*model.graph, OptimizationLevel::kBasic);
    ASSERT_EQ(model.graph->nodes.size(), 1u);
    EXPECT_EQ(model.graph->nodes[0]->op_type, "Conv");
    EXPECT_EQ(model.graph->nodes[0]->outputs[0], "y");
  }
  Model scalar = conv_scale_shift({1}, {}, true);
  optimize_graph(*scalar.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(scalar.graph->nodes.size(), 1u);
}

TEST(ConvMulAddFoldingTest, OutputsUnchanged) {
  const Tensor x = random_floats({1, 3, 6, 6}, 5);
  for (bool bias : {false, true}) {
    pass_test::expect_same_outputs([&] { return conv_scale_shift({4, 1, 1}, {1, 4, 1, 1}, bias); }, {{"x", x}},
                                   OptimizationLevel::kBasic, 1e-5);
    pass_test::expect_same_outputs([&] { return conv_scale_shift({1}, {}, bias); }, {{"x", x}},
                                   OptimizationLevel::kBasic, 1e-5);
  }
}

TEST(ConvMulAddFoldingTest, LeavesConstantsThatVaryAlongOtherAxes) {
  Model model = conv_scale_shift({1, 1, 6, 1}, {6}, true);
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes.size(), 3u);
}

}  // namespace
}  // namespace tessera

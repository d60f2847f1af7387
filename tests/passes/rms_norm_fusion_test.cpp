// rms_norm_fusion: the decomposed RMS norm PyTorch exports (Pow or Mul square, ReduceMean over the last axis, Add
// epsilon, Sqrt, Reciprocal + Mul or Div, gamma Mul) becomes one SimplifiedLayerNormalization with the same
// outputs; other axes, a mismatched gamma and intermediates read outside the pattern stay.
#include <gtest/gtest.h>

#include <tuple>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [2, 5, 8] -> RMS norm over axis `axis` with gamma [gamma_size] -> y (+ optional extra reader of the variance)
Model rms_norm(bool pow_square, bool divide, int64_t axis = -1, int64_t gamma_size = 8, bool leak = false,
               int64_t opset = 18) {
  GraphBuilder b(opset);  // from 18, ReduceMean's axes as an input (below, the input is ignored: all axes)
  b.input("x", DType::kFloat, {2, 5, 8})
      .initializer("two", Tensor::scalar<float>(DType::kFloat, 2.0f))
      .initializer("eps", Tensor::scalar<float>(DType::kFloat, 1e-6f))
      .initializer("axes", Tensor::from_vector(DType::kInt64, std::vector<int64_t>{axis}))
      .initializer("gamma", random_floats({gamma_size}, 1));
  if (pow_square) {
    b.node("Pow", {"x", "two"}, {"sq"});
  } else {
    b.node("Mul", {"x", "x"}, {"sq"});
  }
  b.node("ReduceMean", {"sq", "axes"}, {"var"}).node("Add", {"var", "eps"}, {"ve"}).node("Sqrt", {"ve"}, {"root"});
  if (divide) {
    b.node("Div", {"x", "root"}, {"n"});
  } else {
    b.node("Reciprocal", {"root"}, {"inv"}).node("Mul", {"x", "inv"}, {"n"});
  }
  b.node("Mul", {"gamma", "n"}, {"y"}).output("y");
  if (leak) b.output("var");
  return b.build();
}

TEST(RmsNormFusionTest, EveryExportedFormBecomesOneNode) {
  for (const bool pow_square : {false, true}) {
    for (const bool divide : {false, true}) {
      Model model = rms_norm(pow_square, divide);
      optimize_graph(*model.graph, OptimizationLevel::kExtended);
      ASSERT_EQ(model.graph->nodes.size(), 1u) << pow_square << divide;
      const Node& node = *model.graph->nodes[0];
      EXPECT_EQ(node.op_type, "SimplifiedLayerNormalization");
      EXPECT_EQ(node.inputs, (std::vector<std::string>{"x", "gamma"}));
      EXPECT_FLOAT_EQ(node.attr_float("epsilon", 0), 1e-6f);
      pass_test::expect_same_outputs([&] { return rms_norm(pow_square, divide); }, {{"x", random_floats({2, 5, 8}, 3)}},
                                     OptimizationLevel::kExtended, 1e-5);
    }
  }
}

TEST(RmsNormFusionTest, LeavesOtherAxesMismatchedGammaAndSharedIntermediates) {
  for (const auto& [axis, gamma_size, leak] :
       std::vector<std::tuple<int64_t, int64_t, bool>>{{1, 8, false}, {-1, 1, false}, {-1, 8, true}}) {
    Model model = rms_norm(true, false, axis, gamma_size, leak);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "SimplifiedLayerNormalization"), 0);
  }
  Model all_axes = rms_norm(true, false, -1, 8, false, 17);
  optimize_graph(*all_axes.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*all_axes.graph, "SimplifiedLayerNormalization"), 0);
}

}  // namespace
}  // namespace tessera

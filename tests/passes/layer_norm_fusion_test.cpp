// layer_norm_fusion: the decomposed layer normalization of pre-17 exports (ReduceMean, Sub, Pow or Mul,
// ReduceMean, Add epsilon, Sqrt, Div, Mul gamma, Add beta) becomes one LayerNormalization with the same outputs.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

constexpr int64_t kHidden = 12;

// x [2, 3, H] -> decomposed LayerNorm over the last axis -> y. Opset 13: ReduceMean axes as an attribute; 18: as
// an input. `pow`: the square as Pow(d, 2), else Mul(d, d).
Model decomposed(int64_t opset, bool pow, bool with_beta = true) {
  GraphBuilder b(opset);
  b.input("x", DType::kFloat, {2, 3, kHidden});
  b.initializer("gamma", random_floats({kHidden}, 1));
  b.initializer("beta", random_floats({kHidden}, 2));
  b.initializer("eps", Tensor::scalar(DType::kFloat, 1e-5f));
  b.initializer("two", Tensor::scalar(DType::kFloat, 2.0f));
  b.initializer("axes", Tensor::from_vector<int64_t>(DType::kInt64, {-1}));
  auto mean = [&](const std::string& in, const std::string& out) {
    if (opset >= 18) b.node("ReduceMean", {in, "axes"}, {out});
    else b.node("ReduceMean", {in}, {out}).attr_ints("axes", {-1});
  };
  mean("x", "mu");
  b.node("Sub", {"x", "mu"}, {"d"});
  if (pow) b.node("Pow", {"d", "two"}, {"sq"});
  else b.node("Mul", {"d", "d"}, {"sq"});
  mean("sq", "var");
  b.node("Add", {"var", "eps"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"std"});
  b.node("Div", {"d", "std"}, {"n"});
  b.node("Mul", {"n", "gamma"}, {with_beta ? "scaled" : "y"});
  if (with_beta) b.node("Add", {"scaled", "beta"}, {"y"});
  return b.output("y").build();
}

TEST(LayerNormFusionTest, BecomesOneLayerNormalization) {
  for (int64_t opset : {13, 18}) {
    for (bool pow : {true, false}) {
      Model model = decomposed(opset, pow);
      optimize_graph(*model.graph, OptimizationLevel::kExtended);
      ASSERT_EQ(model.graph->nodes.size(), 1u) << "opset " << opset << " pow " << pow;
      const Node& ln = *model.graph->nodes[0];
      EXPECT_EQ(ln.op_type, "LayerNormalization");
      EXPECT_EQ(ln.inputs, (std::vector<std::string>{"x", "gamma", "beta"}));
      EXPECT_FLOAT_EQ(ln.attr_float("epsilon", 0), 1e-5f);
      EXPECT_EQ(ln.outputs[0], "y");
    }
  }
}

TEST(LayerNormFusionTest, OutputsUnchanged) {
  const Tensor x = random_floats({2, 3, kHidden}, 3);
  for (int64_t opset : {13, 18}) {
    for (bool beta : {true, false}) {
      pass_test::expect_same_outputs([&] { return decomposed(opset, true, beta); }, {{"x", x}},
                                     OptimizationLevel::kExtended, 1e-5);
    }
  }
}

}  // namespace
}  // namespace tessera

// skip_layer_norm_fusion: LayerNormalization(residual + (MatMul + bias)) -> one com.microsoft
// SkipLayerNormalization with the bias taken in; a residual sum read elsewhere becomes its fourth output.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

constexpr int64_t kHidden = 20;

// x [batch, 3, H]: h = x W + bias; y = LayerNorm(x + h); with `sum_read_elsewhere`, z = (x + h) * 2 as well.
Model post_norm(bool sum_read_elsewhere, bool with_bias = true) {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {-1, 3, kHidden}, {"batch", "", ""});
  b.initializer("w", random_floats({kHidden, kHidden}, 1, 0.3f));
  b.initializer("bias", random_floats({kHidden}, 2));
  b.initializer("gamma", random_floats({kHidden}, 3));
  b.initializer("beta", random_floats({kHidden}, 4));
  b.initializer("two", Tensor::scalar(DType::kFloat, 2.0f));
  b.node("MatMul", {"x", "w"}, {"xw"});
  if (with_bias) b.node("Add", {"bias", "xw"}, {"h"});
  b.node("Add", {"x", with_bias ? "h" : "xw"}, {"sum"});
  b.node("LayerNormalization", {"sum", "gamma", "beta"}, {"y"}).attr_float("epsilon", 1e-5f).attr_int("axis", -1);
  if (sum_read_elsewhere) b.node("Mul", {"sum", "two"}, {"z"});
  b.output("y");
  if (sum_read_elsewhere) b.output("z");
  return b.build();
}

const Node* find(const Model& model, const std::string& op) {
  for (const auto& n : model.graph->nodes) if (n->op_type == op) return n.get();
  return nullptr;
}

TEST(SkipLayerNormFusionTest, TakesTheResidualAddAndTheBias) {
  Model model = post_norm(false);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 2u);  // MatMul, SkipLayerNormalization
  const Node* fused = find(model, "SkipLayerNormalization");
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(fused->domain, kMicrosoftDomain);
  EXPECT_EQ(fused->inputs, (std::vector<std::string>{"xw", "x", "gamma", "beta", "bias"}));
  EXPECT_EQ(fused->outputs, (std::vector<std::string>{"y"}));
  EXPECT_FLOAT_EQ(fused->attr_float("epsilon", 0), 1e-5f);
}

TEST(SkipLayerNormFusionTest, ASumReadElsewhereIsTheFourthOutput) {
  Model model = post_norm(true);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  const Node* fused = find(model, "SkipLayerNormalization");
  ASSERT_NE(fused, nullptr);
  ASSERT_EQ(fused->outputs.size(), 4u);
  EXPECT_EQ(fused->outputs[3], "sum");
}

TEST(SkipLayerNormFusionTest, OutputsUnchanged) {
  const Tensor x = random_floats({2, 3, kHidden}, 5);
  for (bool elsewhere : {false, true}) {
    for (bool bias : {false, true}) {
      pass_test::expect_same_outputs([&] { return post_norm(elsewhere, bias); }, {{"x", x}}, OptimizationLevel::kExtended,
                                     1e-5);
    }
  }
}

}  // namespace
}  // namespace tessera

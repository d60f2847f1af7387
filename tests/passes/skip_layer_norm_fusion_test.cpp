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

// Two post-norm blocks, the second's input and residual the first's output, as in BERT's layers. Matching the second
// reads the first LayerNormalization through the graph index; the pass used to replace it while still matching, so
// that read was a heap-use-after-free (TSan found it on BERT-base; ASan reports it here).
Model two_post_norm_blocks() {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {-1, 3, kHidden}, {"batch", "", ""});
  b.initializer("gamma", random_floats({kHidden}, 3));
  b.initializer("beta", random_floats({kHidden}, 4));
  std::string in = "x";
  for (const std::string block : {"1", "2"}) {
    b.initializer("w" + block, random_floats({kHidden, kHidden}, 10 + block[0], 0.3f));
    b.initializer("bias" + block, random_floats({kHidden}, 20 + block[0]));
    b.node("MatMul", {in, "w" + block}, {"xw" + block});
    b.node("Add", {"bias" + block, "xw" + block}, {"h" + block});
    b.node("Add", {in, "h" + block}, {"sum" + block});
    b.node("LayerNormalization", {"sum" + block, "gamma", "beta"}, {"y" + block}).attr_float("epsilon", 1e-5f);
    in = "y" + block;
  }
  return b.output(in).build();
}

TEST(SkipLayerNormFusionTest, StackedBlocksBothFuse) {
  Model model = two_post_norm_blocks();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  int fused = 0;
  for (const auto& n : model.graph->nodes) fused += n->op_type == "SkipLayerNormalization";
  EXPECT_EQ(fused, 2);
  pass_test::expect_same_outputs(two_post_norm_blocks, {{"x", random_floats({2, 3, kHidden}, 6)}},
                                 OptimizationLevel::kExtended, 1e-5);
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

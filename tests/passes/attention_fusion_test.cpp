// attention_fusion: the exported multi-head attention subgraph (split heads, QK^T, scale, mask, softmax, times V,
// merge heads) becomes one com.tessera Attention node with the same outputs.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

constexpr int64_t kBatch = 2, kSeq = 5, kHeads = 2, kHeadSize = 4, kHidden = kHeads * kHeadSize;

Tensor int64s(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>(DType::kInt64, v); }

struct Variant {
  bool mask = true;
  bool scale_by_mul = false;     // Mul by 1/sqrt(H) instead of Div by sqrt(H)
  bool probs_are_output = false; // the softmax output is also read outside the pattern
};

// q, k, v [batch, seq, hidden] -> the attention subgraph as PyTorch exports it -> y [batch, seq, hidden]
Model attention(Variant variant) {
  GraphBuilder b(17);
  b.input("q", DType::kFloat, {-1, kSeq, kHidden}, {"batch", "", ""});
  b.input("k", DType::kFloat, {-1, kSeq, kHidden}, {"batch", "", ""});
  b.input("v", DType::kFloat, {-1, kSeq, kHidden}, {"batch", "", ""});
  if (variant.mask) b.input("mask", DType::kFloat, {-1, 1, 1, kSeq}, {"batch", "", "", ""});
  b.initializer("split", int64s({0, kSeq, kHeads, -1}));
  b.initializer("merge", int64s({0, 0, kHidden}));
  b.initializer("c", Tensor::scalar(DType::kFloat, variant.scale_by_mul ? 0.5f : 2.0f));
  b.node("Reshape", {"q", "split"}, {"qr"}).node("Transpose", {"qr"}, {"qt"}).attr_ints("perm", {0, 2, 1, 3});
  b.node("Reshape", {"k", "split"}, {"kr"}).node("Transpose", {"kr"}, {"kt"}).attr_ints("perm", {0, 2, 3, 1});
  b.node("Reshape", {"v", "split"}, {"vr"}).node("Transpose", {"vr"}, {"vt"}).attr_ints("perm", {0, 2, 1, 3});
  b.node("MatMul", {"qt", "kt"}, {"s"});
  b.node(variant.scale_by_mul ? "Mul" : "Div", {"s", "c"}, {"scaled"});
  if (variant.mask) b.node("Add", {"scaled", "mask"}, {"masked"});
  b.node("Softmax", {variant.mask ? "masked" : "scaled"}, {"p"}).attr_int("axis", -1);
  b.node("MatMul", {"p", "vt"}, {"o"});
  b.node("Transpose", {"o"}, {"ot"}).attr_ints("perm", {0, 2, 1, 3});
  b.node("Reshape", {"ot", "merge"}, {"y"});
  b.output("y");
  if (variant.probs_are_output) b.output("p");
  return b.build();
}

std::vector<std::pair<std::string, RuntimeValue>> feeds(bool mask) {
  std::vector<std::pair<std::string, RuntimeValue>> f = {{"q", random_floats({kBatch, kSeq, kHidden}, 1)},
                                                          {"k", random_floats({kBatch, kSeq, kHidden}, 2)},
                                                          {"v", random_floats({kBatch, kSeq, kHidden}, 3)}};
  if (mask) {
    Tensor m(DType::kFloat, {kBatch, 1, 1, kSeq});
    for (int64_t i = 0; i < m.element_count(); ++i) m.data<float>()[i] = (i % kSeq == kSeq - 1 && i >= kSeq) ? -10000.0f : 0.0f;
    f.emplace_back("mask", m);
  }
  return f;
}

TEST(AttentionFusionTest, FusesIntoOneAttentionNode) {
  for (bool mask : {true, false}) {
    for (bool by_mul : {false, true}) {
      Model model = attention({mask, by_mul, false});
      optimize_graph(*model.graph, OptimizationLevel::kExtended);
      ASSERT_EQ(model.graph->nodes.size(), 1u) << "mask " << mask << " mul " << by_mul;
      const Node& fused = *model.graph->nodes[0];
      EXPECT_EQ(fused.op_type, "Attention");
      EXPECT_EQ(fused.domain, kTesseraDomain);
      EXPECT_EQ(fused.attr_int("q_num_heads", 0), kHeads);
      EXPECT_FLOAT_EQ(fused.attr_float("scale", 0), 0.5f);
      EXPECT_EQ(fused.inputs.size(), mask ? 4u : 3u);
      EXPECT_EQ(fused.outputs[0], "y");
    }
  }
}

TEST(AttentionFusionTest, OutputsUnchanged) {
  for (bool mask : {true, false}) {
    for (bool by_mul : {false, true}) {
      pass_test::expect_same_outputs([&] { return attention({mask, by_mul, false}); }, feeds(mask),
                                     OptimizationLevel::kExtended, 1e-5);
    }
  }
}

TEST(AttentionFusionTest, LeavesAPatternWhoseIntermediateIsReadElsewhere) {
  Model model = attention({true, false, true});
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  for (const auto& n : model.graph->nodes) EXPECT_NE(n->op_type, "Attention");
}

// The decoder form: a constant additive causal mask [1, 1, S, S] instead of a padding mask input.
Model causal_attention() {
  Model model = attention({true, false, false});
  Graph& g = *model.graph;
  std::erase_if(g.inputs, [](const ValueInfo& v) { return v.name == "mask"; });
  Tensor mask(DType::kFloat, {1, 1, kSeq, kSeq});
  for (int64_t i = 0; i < kSeq; ++i) {
    for (int64_t j = 0; j < kSeq; ++j) mask.data<float>()[i * kSeq + j] = j <= i ? 0.0f : -10000.0f;
  }
  g.initializers["mask"] = mask;
  return model;
}

TEST(AttentionFusionTest, AConstantCausalMaskBecomesIsCausal) {
  Model model = causal_attention();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& fused = *model.graph->nodes[0];
  EXPECT_EQ(fused.attr_int("is_causal", 0), 1);
  EXPECT_EQ(fused.inputs.size(), 3u);
  auto f = feeds(false);
  pass_test::expect_same_outputs(causal_attention, f, OptimizationLevel::kExtended, 1e-5);
}

// A dynamic-axes export: the mask's key dim is a symbol of its own (the small BERT of tests/models, whose position
// embedding slice hides that the keys are the mask's `sequence`), so the fusion cannot prove the mask spans the
// keys and puts an Expand to the key length before the fused node.
Model dynamic_mask_attention() {
  GraphBuilder b(17);
  for (const char* name : {"q", "k", "v"}) b.input(name, DType::kFloat, {-1, -1, kHidden}, {"batch", "", ""});
  b.input("mask", DType::kFloat, {-1, 1, 1, -1}, {"batch", "", "", "mask_len"});
  b.initializer("split", int64s({0, 0, kHeads, -1}));
  b.initializer("merge", int64s({0, 0, kHidden}));
  b.initializer("c", Tensor::scalar(DType::kFloat, 2.0f));
  b.node("Reshape", {"q", "split"}, {"qr"}).node("Transpose", {"qr"}, {"qt"}).attr_ints("perm", {0, 2, 1, 3});
  b.node("Reshape", {"k", "split"}, {"kr"}).node("Transpose", {"kr"}, {"kt"}).attr_ints("perm", {0, 2, 3, 1});
  b.node("Reshape", {"v", "split"}, {"vr"}).node("Transpose", {"vr"}, {"vt"}).attr_ints("perm", {0, 2, 1, 3});
  b.node("MatMul", {"qt", "kt"}, {"s"}).node("Div", {"s", "c"}, {"scaled"}).node("Add", {"scaled", "mask"}, {"masked"});
  b.node("Softmax", {"masked"}, {"p"}).attr_int("axis", -1);
  b.node("MatMul", {"p", "vt"}, {"o"}).node("Transpose", {"o"}, {"ot"}).attr_ints("perm", {0, 2, 1, 3});
  b.node("Reshape", {"ot", "merge"}, {"y"});
  b.output("y");
  return b.build();
}

TEST(AttentionFusionTest, AMaskOfUnprovenKeyLengthIsExpandedToTheKeys) {
  Model model = dynamic_mask_attention();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  std::vector<std::string> ops;
  for (const auto& n : model.graph->nodes) ops.push_back(n->op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Shape", "Gather", "Expand", "Attention"}));
  const Node& fused = *model.graph->nodes.back();
  ASSERT_EQ(fused.inputs.size(), 4u);
  EXPECT_EQ(fused.inputs[3], model.graph->nodes[2]->outputs[0]);
  // A mask over every key, and one of last dim 1 that the Add broadcast (the Expand keeps that meaning).
  for (int64_t mask_len : {kSeq, int64_t{1}}) {
    auto f = feeds(false);
    f.emplace_back("mask", random_floats({kBatch, 1, 1, mask_len}, 4, 3.0f));
    pass_test::expect_same_outputs(dynamic_mask_attention, f, OptimizationLevel::kExtended, 1e-5);
  }
}

TEST(AttentionFusionTest, NotAtBasicLevel) {
  Model model = attention({true, false, false});
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_GT(model.graph->nodes.size(), 10u);
}

}  // namespace
}  // namespace tessera

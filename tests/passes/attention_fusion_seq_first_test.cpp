// attention_fusion on PyTorch nn.MultiheadAttention's layout, as torch 1.13 exports a dynamic-axes
// TransformerEncoderLayer: q, k, v sliced from one projection of x [S, B, N*H], split to [S, B*N, H] by reshapes
// whose targets are computed from Shape(x), q divided by sqrt(H), K transposed (1,2,0), the merged key padding
// mask [B*N, 1, S] added to the scores, and the output transposed back to [S, B*N, H] for the output projection.
// The pattern becomes Transposes to [B, S, N*H], one com.tessera Attention and a Transpose + Reshape back.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

constexpr int64_t kBatch = 2, kSeq = 5, kHeads = 2, kHeadSize = 4, kHidden = kHeads * kHeadSize;

Tensor int64s(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>(DType::kInt64, v); }

struct Variant {
  bool mask = false;
  bool symbols = true;            // x's dims named (else unknown: dim 0 is then proven through the projection's nodes)
  bool constant_targets = false;  // a static export: x [S, B, N*H] known, targets [S, B*N, H] constants
  bool key_shape = false;         // K's split also read as Shape(Transpose(., (1,0,2))), as the export reads S
};

// Reshape(value, Concat(dim 0 of x, dim 1 of x * heads, [size])) -> Transpose(perm)
void split(GraphBuilder& b, const std::string& value, const std::vector<int64_t>& perm, const std::string& out,
           bool constant_target) {
  if (!constant_target)
    b.node("Concat", {"seq_piece", "batch_heads_piece", "head_size"}, {out + "_target"}).attr_int("axis", 0);
  b.node("Reshape", {value, constant_target ? "static_target" : out + "_target"}, {out + "_split"});
  b.node("Transpose", {out + "_split"}, {out}).attr_ints("perm", perm);
}

Model mha(Variant variant) {
  GraphBuilder b(14);
  if (variant.constant_targets)
    b.input("x", DType::kFloat, {kSeq, kBatch, kHidden});
  else if (variant.symbols)
    b.input("x", DType::kFloat, {-1, -1, kHidden}, {"seq", "batch", ""});
  else
    b.input("x", DType::kFloat, {-1, -1, kHidden});
  if (variant.mask && variant.constant_targets)
    b.input("mask", DType::kFloat, {kBatch * kHeads, 1, kSeq});
  else if (variant.mask)
    b.input("mask", DType::kFloat, {-1, 1, -1}, {"batch_heads", "", "keys"});
  b.initializer("static_target", int64s({kSeq, kBatch * kHeads, kHeadSize}));
  b.initializer("w", random_floats({kHidden, 3 * kHidden}, 7, 0.5f));
  b.initializer("w_out", random_floats({kHidden, kHidden}, 8, 0.5f));
  b.initializer("axis", int64s({-1}));
  for (int i = 0; i <= 3; ++i) b.initializer("at" + std::to_string(i), int64s({i * kHidden}));
  b.initializer("zero", Tensor::scalar(DType::kInt64, int64_t{0}));
  b.initializer("one", Tensor::scalar(DType::kInt64, int64_t{1}));
  b.initializer("axes0", int64s({0}));
  b.initializer("heads", Tensor::scalar(DType::kInt64, kHeads));
  b.initializer("head_size", int64s({kHeadSize}));
  b.initializer("merge", int64s({-1, kHidden}));
  b.initializer("sqrt_h", Tensor::scalar(DType::kFloat, 2.0f));
  b.initializer("alpha", Tensor::scalar(DType::kFloat, 1.0f));
  b.node("MatMul", {"x", "w"}, {"proj"});
  b.node("Slice", {"proj", "at0", "at1", "axis"}, {"q"});
  b.node("Slice", {"proj", "at1", "at2", "axis"}, {"k"});
  b.node("Slice", {"proj", "at2", "at3", "axis"}, {"v"});
  b.node("Shape", {"x"}, {"x_shape"});
  b.node("Gather", {"x_shape", "zero"}, {"seq_dim"}).node("Unsqueeze", {"seq_dim", "axes0"}, {"seq_piece"});
  b.node("Gather", {"x_shape", "one"}, {"batch_dim"}).node("Mul", {"batch_dim", "heads"}, {"batch_heads"});
  b.node("Unsqueeze", {"batch_heads", "axes0"}, {"batch_heads_piece"});
  split(b, "q", {1, 0, 2}, "qt", variant.constant_targets);
  split(b, "k", {1, 2, 0}, "kt", variant.constant_targets);
  split(b, "v", {1, 0, 2}, "vt", variant.constant_targets);
  b.node("Div", {"qt", "sqrt_h"}, {"q_scaled"}).node("MatMul", {"q_scaled", "kt"}, {"s"});
  if (variant.mask) b.node("Mul", {"s", "alpha"}, {"s_alpha"}).node("Add", {"s_alpha", "mask"}, {"masked"});
  b.node("Softmax", {variant.mask ? "masked" : "s"}, {"p"}).attr_int("axis", -1);
  b.node("MatMul", {"p", "vt"}, {"o"}).node("Transpose", {"o"}, {"ot"}).attr_ints("perm", {1, 0, 2});
  b.node("Reshape", {"ot", "merge"}, {"rows"}).node("MatMul", {"rows", "w_out"}, {"y"});
  b.output("y");
  if (variant.key_shape) {
    b.node("Transpose", {"kt_split"}, {"k_heads_first"}).attr_ints("perm", {1, 0, 2});
    b.node("Shape", {"k_heads_first"}, {"k_shape"});
    b.output("k_shape");
  }
  return b.build();
}

std::vector<std::pair<std::string, RuntimeValue>> feeds(bool mask, int64_t mask_len = kSeq) {
  std::vector<std::pair<std::string, RuntimeValue>> f = {{"x", random_floats({kSeq, kBatch, kHidden}, 1)}};
  if (mask) {
    Tensor m(DType::kFloat, {kBatch * kHeads, 1, mask_len});
    for (int64_t i = 0; i < m.element_count(); ++i) m.data<float>()[i] = i % 3 == 2 ? -10000.0f : 0.1f * (i % 4);
    f.emplace_back("mask", m);
  }
  return f;
}

TEST(AttentionFusionSeqFirstTest, FusesIntoOneAttentionNode) {
  for (bool mask : {false, true}) {
    for (bool symbols : {true, false}) {
      Model model = mha({mask, symbols});
      optimize_graph(*model.graph, OptimizationLevel::kExtended);
      const Graph& g = *model.graph;
      ASSERT_EQ(pass_test::count_ops(g, "Attention"), 1) << "mask " << mask << " symbols " << symbols;
      EXPECT_EQ(pass_test::count_ops(g, "Softmax"), 0);
      EXPECT_EQ(pass_test::count_ops(g, "Transpose"), 4);  // Q, K, V to [B, S, N*H], the output back
      for (const auto& n : g.nodes) {
        if (n->op_type != "Attention") continue;
        EXPECT_EQ(n->domain, kTesseraDomain);
        EXPECT_EQ(n->attr_int("q_num_heads", 0), kHeads);
        EXPECT_FLOAT_EQ(n->attr_float("scale", 0), 0.5f);
        EXPECT_EQ(n->inputs.size(), mask ? 4u : 3u);
      }
    }
  }
}

TEST(AttentionFusionSeqFirstTest, OutputsUnchanged) {
  for (bool mask : {false, true}) {
    for (bool symbols : {true, false}) {
      pass_test::expect_same_outputs(
          [&] {
            return mha({mask, symbols});
          },
          feeds(mask), OptimizationLevel::kExtended, 1e-5);
    }
  }
  // A mask of last dim 1 broadcasts over the keys in the Add; the staged mask keeps that meaning.
  pass_test::expect_same_outputs([] { return mha({true, true}); }, feeds(true, 1), OptimizationLevel::kExtended, 1e-5);
}

TEST(AttentionFusionSeqFirstTest, FusesAStaticExportWithConstantTargets) {
  for (bool mask : {false, true}) {
    Model model = mha({mask, false, true});
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "Attention"), 1) << "mask " << mask;
    EXPECT_EQ(pass_test::count_ops(*model.graph, "Softmax"), 0);
    pass_test::expect_same_outputs(
        [&] {
          return mha({mask, false, true});
        },
        feeds(mask), OptimizationLevel::kExtended, 1e-5);
  }
}

TEST(AttentionFusionSeqFirstTest, AShapeReadOfKsSplitBecomesAConcatOfItsDims) {
  for (bool constant_targets : {false, true}) {
    const Variant variant{true, true, constant_targets, true};
    Model model = mha(variant);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "Attention"), 1);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "Transpose"), 4);  // K's copy for its shape is gone
    EXPECT_EQ(pass_test::count_ops(*model.graph, "Reshape"),
              2);  // the mask's, and the output's (merged with the rows' one)
    pass_test::expect_same_outputs([&] { return mha(variant); }, feeds(true), OptimizationLevel::kExtended, 1e-5);
  }
}

TEST(AttentionFusionSeqFirstTest, LeavesAReshapeWhoseFirstPieceIsNotTheSequence) {
  Model model = mha({false, true});
  Graph& g = *model.graph;
  // Dim 1 of x in the first piece: [B, S*N, H] is not the layout the fusion assumes.
  for (auto& n : g.nodes) {
    if (n->outputs[0] == "seq_dim") n->inputs[1] = "one";
  }
  optimize_graph(g, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(g, "Attention"), 0);
}

}  // namespace
}  // namespace tessera

// quantize_dynamic on LSTM (-> com.microsoft DynamicQuantizeLSTM), GRU and batch-major LSTM (8-bit W and R through
// DequantizeLinear) and com.microsoft Attention (-> QAttention):
// the node written as onnxruntime's quantize_dynamic writes it, the weight layouts and parameter shapes, the forms
// left in float with their reason, and outputs within quantization noise of the float model when run.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass_test_util.h"
#include "quantize/dynamic_quantizer.h"
#include "quantize_test_util.h"
#include "runtime/session.h"

namespace tessera::quantize {
namespace {

using pass_test::random_floats;

constexpr int64_t kSeq = 5, kBatch = 2, kInput = 6, kHidden = 4;

// x [seq, batch, input] -> bidirectional `op` (LSTM: 4 gates, GRU: 3; W, R, B constant) -> y, y_h.
Model recurrent_model(const char* op, int64_t gates, int64_t layout) {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {kSeq, kBatch, kInput})
      .initializer("W", random_floats({2, gates * kHidden, kInput}, 1, 0.5f))
      .initializer("R", random_floats({2, gates * kHidden, kHidden}, 2, 0.5f))
      .initializer("B", random_floats({2, 2 * gates * kHidden}, 3, 0.2f))
      .node(op, {"x", "W", "R", "B"}, {"y", "y_h"})
      .attr_int("hidden_size", kHidden)
      .attr_string("direction", "bidirectional")
      .attr_int("layout", layout)
      .output("y")
      .output("y_h")
      .build();
}

Model lstm_model(int64_t layout = 0) { return recurrent_model("LSTM", 4, layout); }
Model gru_model() { return recurrent_model("GRU", 3, 0); }

// x [batch, seq, 8] -> com.microsoft Attention (weights [8, 24], bias, mask_index [batch]) -> y.
Model attention_model(bool qkv_hidden_sizes = false) {
  GraphBuilder b(17);
  b.opset(kMicrosoftDomain, 1)
      .input("x", DType::kFloat, {kBatch, kSeq, 8})
      .input("mask", DType::kInt32, {kBatch})
      .initializer("w", random_floats({8, 24}, 4, 0.5f))
      .initializer("b", random_floats({24}, 5, 0.2f))
      .node("Attention", {"x", "w", "b", "mask"}, {"y"}, kMicrosoftDomain)
      .attr_int("num_heads", 2);
  if (qkv_hidden_sizes) b.attr_ints("qkv_hidden_sizes", {8, 8, 8});
  return b.output("y").build();
}

const Node* find_op(const Graph& graph, const std::string& op_type) {
  for (const auto& node : graph.nodes) {
    if (node->op_type == op_type) return node.get();
  }
  return nullptr;
}

// Relative L2 distance of output 0 of `quantized` from `original`'s on the same feeds.
double relative_error(Model original, Model quantized, const std::vector<std::pair<std::string, RuntimeValue>>& feeds) {
  const Tensor want = Session(std::move(original)).run(feeds)[0].tensor();
  const Tensor got = Session(std::move(quantized)).run(feeds)[0].tensor();
  return test::relative_l2(got, want);
}

TEST(DynamicQuantizerLstmTest, LstmBecomesDynamicQuantizeLstmWithTransposedInt8Weights) {
  Model model = lstm_model();
  const QuantizeReport report = quantize_dynamic(model, {});
  ASSERT_EQ(report.quantized.size(), 1u);
  const Graph& g = *model.graph;
  const Node* q = find_op(g, "DynamicQuantizeLSTM");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->domain, kMicrosoftDomain);
  EXPECT_EQ(q->inputs.size(), 12u);
  EXPECT_EQ(q->inputs[1], "W_quantized");
  EXPECT_EQ(q->inputs[8], "W_scale");
  EXPECT_FALSE(q->has_attribute("layout"));
  EXPECT_EQ(q->attr_int("hidden_size", 0), kHidden);
  EXPECT_EQ(g.initializers.count("W"), 0u);
  const Tensor& w = g.initializers.at("W_quantized");
  EXPECT_EQ(w.dtype(), DType::kInt8);
  EXPECT_EQ(w.shape(), (std::vector<int64_t>{2, kInput, 4 * kHidden}));  // [dirs, input, 4 * hidden]
  EXPECT_EQ(g.initializers.at("R_quantized").shape(), (std::vector<int64_t>{2, kHidden, 4 * kHidden}));
  EXPECT_EQ(g.initializers.at("W_scale").shape(), (std::vector<int64_t>{2}));  // one per direction
  EXPECT_EQ(g.initializers.at("W_zero_point").dtype(), DType::kInt8);
  // Element [d, k, j] of the quantized weight is W[d, j, k] over the direction's scale.
  const Tensor original = random_floats({2, 4 * kHidden, kInput}, 1, 0.5f);
  const float scale = g.initializers.at("W_scale").data<float>()[1];
  const float value = original.data<float>()[(1 * 4 * kHidden + 3) * kInput + 2];
  EXPECT_EQ(w.data<int8_t>()[(1 * kInput + 2) * 4 * kHidden + 3], static_cast<int8_t>(std::nearbyint(value / scale)));
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({kSeq, kBatch, kInput}, 9)}};
  EXPECT_LT(relative_error(lstm_model(), std::move(model), feeds), 0.03);
}

TEST(DynamicQuantizerLstmTest, PerChannelGivesOneScalePerRowAndUint8WeightTypeStaysInt8) {
  Model model = lstm_model();
  DynamicQuantizeOptions options;
  options.per_channel = true;
  options.weights.type = DType::kUint8;  // onnxruntime quantizes LSTM weights to int8 whatever the weight type
  options.weights.symmetric = false;
  quantize_dynamic(model, options);
  const Graph& g = *model.graph;
  EXPECT_EQ(g.initializers.at("R_scale").shape(), (std::vector<int64_t>{2, 4 * kHidden}));
  EXPECT_EQ(g.initializers.at("R_zero_point").shape(), (std::vector<int64_t>{2, 4 * kHidden}));
  EXPECT_EQ(g.initializers.at("R_quantized").dtype(), DType::kInt8);
  EXPECT_EQ(g.initializers.at("R_zero_point").data<int8_t>()[5], 0);  // symmetric
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({kSeq, kBatch, kInput}, 9)}};
  EXPECT_LT(relative_error(lstm_model(), std::move(model), feeds), 0.03);
}

// The DequantizeLinear node producing input `index` of the only `op_type` node, or nullptr.
const Node* dequantize_of(const Graph& graph, const std::string& op_type, size_t index) {
  const Node* op = find_op(graph, op_type);
  if (op == nullptr) return nullptr;
  for (const auto& node : graph.nodes) {
    if (node->op_type == "DequantizeLinear" && node->outputs[0] == op->inputs[index]) return node.get();
  }
  return nullptr;
}

TEST(DynamicQuantizerRecurrentTest, GruReadsInt8WeightsThroughDequantizeLinearPerDirectionOrPerGateRow) {
  for (bool per_channel : {false, true}) {
    SCOPED_TRACE(per_channel ? "per channel" : "per direction");
    Model model = gru_model();
    DynamicQuantizeOptions options;
    options.per_channel = per_channel;
    const QuantizeReport report = quantize_dynamic(model, options);
    ASSERT_EQ(report.quantized.size(), 1u);
    EXPECT_NE(report.quantized[0].detail.find(per_channel ? "per gate row" : "per direction"), std::string::npos)
        << report.quantized[0].detail;
    const Graph& g = *model.graph;
    EXPECT_EQ(g.initializers.count("W"), 0u);  // the float weights are gone
    for (size_t i : {1, 2}) {
      const Node* dq = dequantize_of(g, "GRU", i);
      ASSERT_NE(dq, nullptr);
      EXPECT_EQ(dq->attr_int("axis", -1), per_channel ? 1 : 0);
      const Tensor& q = g.initializers.at(dq->inputs[0]);
      EXPECT_EQ(q.dtype(), DType::kInt8);
      EXPECT_EQ(q.dim(1), 3 * kHidden);
      EXPECT_EQ(g.initializers.at(dq->inputs[1]).element_count(), per_channel ? 3 * kHidden : 2);
    }
    const std::vector<std::pair<std::string, RuntimeValue>> feeds = {
        {"x", RuntimeValue(random_floats({kSeq, kBatch, kInput}, 7))}};
    // Run as com.tessera DynamicQuantizeRecurrent (the session's default level fuses it).
    EXPECT_LT(relative_error(gru_model(), std::move(model), feeds), 0.03);
  }
}

TEST(DynamicQuantizerRecurrentTest, BatchMajorLstmReadsDequantizedWeightsAndOldOpsetsQuantizePerTensor) {
  Model model = lstm_model(1);
  QuantizeReport report = quantize_dynamic(model, {});
  ASSERT_EQ(report.quantized.size(), 1u);
  EXPECT_EQ(find_op(*model.graph, "DynamicQuantizeLSTM"), nullptr);  // it has no layout attribute
  ASSERT_NE(dequantize_of(*model.graph, "LSTM", 1), nullptr);
  const std::vector<std::pair<std::string, RuntimeValue>> feeds = {
      {"x", RuntimeValue(random_floats({kSeq, kBatch, kInput}, 7))}};  // read as [batch 5, seq 2, input]
  EXPECT_LT(relative_error(lstm_model(1), std::move(model), feeds), 0.03);

  // Before opset 13 DequantizeLinear has no axis: one scale for each whole weight.
  Model gru = gru_model();
  gru.opset_imports[""] = 12;
  for (auto& node : gru.graph->nodes) node->opset = 12;
  report = quantize_dynamic(gru, {});
  ASSERT_EQ(report.quantized.size(), 1u);
  const Node* dq = dequantize_of(*gru.graph, "GRU", 1);
  ASSERT_NE(dq, nullptr);
  EXPECT_FALSE(dq->has_attribute("axis"));
  EXPECT_EQ(gru.graph->initializers.at(dq->inputs[1]).element_count(), 1);
}

TEST(DynamicQuantizerAttentionTest, AttentionBecomesDynamicQuantizeLinearAndQAttention) {
  Model model = attention_model();
  DynamicQuantizeOptions options;
  options.per_channel = true;
  const QuantizeReport report = quantize_dynamic(model, options);
  ASSERT_EQ(report.quantized.size(), 1u);
  const Graph& g = *model.graph;
  const Node* q = find_op(g, "QAttention");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->domain, kMicrosoftDomain);
  EXPECT_EQ(q->inputs, (std::vector<std::string>{"x_quantized", "w_quantized", "b", "x_scale", "w_scale", "mask",
                                                 "x_zero_point", "w_zero_point"}));
  EXPECT_EQ(q->attr_int("num_heads", 0), 2);
  EXPECT_NE(find_op(g, "DynamicQuantizeLinear"), nullptr);
  EXPECT_EQ(g.initializers.at("w_quantized").shape(), (std::vector<int64_t>{8, 24}));
  EXPECT_EQ(g.initializers.at("w_scale").shape(), (std::vector<int64_t>{24}));  // per column
  Tensor mask(DType::kInt32, {kBatch});
  mask.data<int32_t>()[0] = kSeq;
  mask.data<int32_t>()[1] = kSeq - 2;
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({kBatch, kSeq, 8}, 6)},
                                                                {"mask", mask}};
  EXPECT_LT(relative_error(attention_model(), std::move(model), feeds), 0.03);
}

// x [batch, 1, 8] and a past of 3 positions -> com.microsoft Attention (unidirectional) -> y, present.
Model past_attention_model() {
  return GraphBuilder(17)
      .opset(kMicrosoftDomain, 1)
      .input("x", DType::kFloat, {kBatch, 1, 8})
      .input("past", DType::kFloat, {2, kBatch, 2, 3, 4})
      .initializer("w", random_floats({8, 24}, 4, 0.5f))
      .initializer("b", random_floats({24}, 5, 0.2f))
      .node("Attention", {"x", "w", "b", "", "past"}, {"y", "present"}, kMicrosoftDomain)
      .attr_int("num_heads", 2)
      .attr_int("unidirectional", 1)
      .output("y")
      .output("present")
      .build();
}

TEST(DynamicQuantizerAttentionTest, PastGoesToInput8AndAttentionBiasStaysFloat) {
  Model model = past_attention_model();
  quantize_dynamic(model, {});
  const Node* q = find_op(*model.graph, "QAttention");
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(q->inputs.size(), 9u);
  EXPECT_EQ(q->inputs[5], "");
  EXPECT_EQ(q->inputs[8], "past");
  EXPECT_EQ(q->outputs, (std::vector<std::string>{"y", "present"}));
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({kBatch, 1, 8}, 6)},
                                                                {"past", random_floats({2, kBatch, 2, 3, 4}, 7)}};
  EXPECT_LT(relative_error(past_attention_model(), std::move(model), feeds), 0.03);

  Model biased = GraphBuilder(17)
                     .opset(kMicrosoftDomain, 1)
                     .input("x", DType::kFloat, {kBatch, kSeq, 8})
                     .input("bias", DType::kFloat, {1, 2, kSeq, kSeq})
                     .initializer("w", random_floats({8, 24}, 4, 0.5f))
                     .initializer("b", random_floats({24}, 5, 0.2f))
                     .node("Attention", {"x", "w", "b", "", "", "bias"}, {"y"}, kMicrosoftDomain)
                     .attr_int("num_heads", 2)
                     .output("y")
                     .build();
  const QuantizeReport report = quantize_dynamic(biased, {});
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].detail, "input 5 has no QAttention counterpart");
}

TEST(DynamicQuantizerAttentionTest, QkvHiddenSizesStayFloat) {
  Model model = attention_model(true);
  const QuantizeReport report = quantize_dynamic(model, {});
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].detail.find("qkv_hidden_sizes"), std::string::npos) << report.skipped[0].detail;
  EXPECT_EQ(find_op(*model.graph, "QAttention"), nullptr);
}

}  // namespace
}  // namespace tessera::quantize

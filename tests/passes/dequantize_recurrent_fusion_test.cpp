// dequantize_recurrent_fusion: a GRU / LSTM / RNN reading W and R through DequantizeLinear nodes of constant 8-bit
// tensors (as `tessera quantize` writes a GRU) becomes com.tessera DynamicQuantizeRecurrent at the extended level,
// with the parameters written per direction, and runs within quantization noise of the float graph; at the basic
// level the DequantizeLinears fold into float weights. Weights dequantized along their input axis, or whose
// DequantizeLinear has another reader, are handled as the conditions say.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using pass_test::count_ops;
using pass_test::floats;
using pass_test::random_int8;

constexpr int64_t kSeq = 5, kBatch = 2, kInput = 6, kHidden = 4;

struct Case {
  std::string op = "GRU";
  int64_t gates = 3;
  int64_t dirs = 2;
  int64_t axis = 0;               // DequantizeLinear axis: 0 per direction, 1 per gate row, 2 per input column
  bool per_tensor = false;        // one scale, no axis
  bool w_read_elsewhere = false;  // W's dequantized value is also a graph output
};

// x [seq, batch, input] -> op(DQ(W_q), DQ(R_q), B) -> y, y_h.
Model model(const Case& c) {
  const int64_t columns = c.gates * kHidden;
  const auto scales = [&](int64_t rows, float base) {
    if (c.per_tensor) return Tensor::scalar<float>(DType::kFloat, base);
    const int64_t n = c.axis == 0 ? c.dirs : (c.axis == 1 ? columns : rows);
    std::vector<float> v;
    for (int64_t i = 0; i < n; ++i) v.push_back(base * (1.0f + 0.1f * static_cast<float>(i % 4)));
    return floats(v);
  };
  const auto zero_points = [&](int64_t rows) {
    const int64_t n = c.per_tensor ? 1 : (c.axis == 0 ? c.dirs : (c.axis == 1 ? columns : rows));
    Tensor t = c.per_tensor ? Tensor::scalar<int8_t>(DType::kInt8, 1) : Tensor(DType::kInt8, {n});
    for (int64_t i = 0; i < n; ++i) t.data<int8_t>()[i] = static_cast<int8_t>(i % 3 - 1);
    return t;
  };
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {kSeq, kBatch, kInput})
      .initializer("W_q", random_int8({c.dirs, columns, kInput}, 1))
      .initializer("W_scale", scales(kInput, 0.004f))
      .initializer("W_zero", zero_points(kInput))
      .initializer("R_q", random_int8({c.dirs, columns, kHidden}, 2))
      .initializer("R_scale", scales(kHidden, 0.005f))
      .initializer("R_zero", zero_points(kHidden))
      .initializer("B", pass_test::random_floats({c.dirs, 2 * columns}, 3, 0.2f))
      .node("DequantizeLinear", {"W_q", "W_scale", "W_zero"}, {"W"});
  if (!c.per_tensor) b.attr_int("axis", c.axis);
  b.node("DequantizeLinear", {"R_q", "R_scale", "R_zero"}, {"R"});
  if (!c.per_tensor) b.attr_int("axis", c.axis == 2 ? 2 : c.axis);
  b.node(c.op, {"x", "W", "R", "B"}, {"y", "y_h"})
      .attr_int("hidden_size", kHidden)
      .attr_string("direction", c.dirs == 2 ? "bidirectional" : "forward")
      .output("y")
      .output("y_h");
  if (c.w_read_elsewhere) b.output("W");
  return b.build();
}

std::vector<std::pair<std::string, RuntimeValue>> feeds() {
  return {{"x", RuntimeValue(pass_test::random_floats({kSeq, kBatch, kInput}, 9, 1.5f))}};
}

const Node* fused_node(const Graph& graph) {
  for (const auto& node : graph.nodes) {
    if (node->domain == kTesseraDomain && node->op_type == "DynamicQuantizeRecurrent") return node.get();
  }
  return nullptr;
}

void expect_fused_within_noise(const Case& c) {
  SCOPED_TRACE(c.op + " axis " + std::to_string(c.axis) + (c.per_tensor ? " per tensor" : ""));
  Model m = model(c);
  optimize_graph(*m.graph, OptimizationLevel::kExtended);
  const Node* fused = fused_node(*m.graph);
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(fused->attr_string("cell", ""), c.op);
  EXPECT_EQ(count_ops(*m.graph, "DequantizeLinear"), c.w_read_elsewhere ? 1 : 0);
  ASSERT_EQ(fused->inputs.size(), 12u);
  EXPECT_EQ(fused->inputs[1], "W_q");
  EXPECT_EQ(fused->inputs[2], "R_q");
  // Parameters per direction: [dirs] or [dirs, gates * hidden].
  const Tensor& w_scale = m.graph->initializers.at(fused->inputs[8]);
  EXPECT_EQ(w_scale.dim(0), c.dirs);
  EXPECT_EQ(w_scale.element_count(), c.axis == 1 && !c.per_tensor ? c.dirs * c.gates * kHidden : c.dirs);
  // X's and h's uint8 steps (range / 255) keep the outputs within a few 1e-3 of the float graph's.
  pass_test::expect_same_outputs([&] { return model(c); }, feeds(), OptimizationLevel::kExtended, 1e-2);
}

TEST(DequantizeRecurrentFusionTest, GruLstmAndRnnWithDequantizedWeightsBecomeOneQuantizedOp) {
  expect_fused_within_noise({});
  expect_fused_within_noise({.axis = 1});  // per gate row, the one scale vector shared by both directions
  expect_fused_within_noise({.per_tensor = true});
  expect_fused_within_noise({.op = "LSTM", .gates = 4, .dirs = 1, .axis = 1});
  expect_fused_within_noise({.op = "RNN", .gates = 1});
  expect_fused_within_noise({.w_read_elsewhere = true});  // W's DequantizeLinear stays for the graph output
}

TEST(DequantizeRecurrentFusionTest, BasicLevelFoldsTheWeightsAndInputAxisScalesStayFloat) {
  Model basic = model({});
  optimize_graph(*basic.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(fused_node(*basic.graph), nullptr);
  EXPECT_EQ(count_ops(*basic.graph, "GRU"), 1);

  // Scales along the input axis (one per column of X W^T's depth) have no place in the q8 GEMM's column scales.
  Model per_input = model({.axis = 2});
  optimize_graph(*per_input.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(fused_node(*per_input.graph), nullptr);
  EXPECT_EQ(count_ops(*per_input.graph, "GRU"), 1);
  pass_test::expect_same_outputs([] { return model({.axis = 2}); }, feeds(), OptimizationLevel::kExtended, 1e-5);
}

}  // namespace
}  // namespace tessera

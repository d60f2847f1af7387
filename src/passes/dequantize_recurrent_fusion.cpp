// DequantizeLinear(W_q) and DequantizeLinear(R_q) -> RNN | GRU | LSTM  =>  com.tessera DynamicQuantizeRecurrent
// (extended level): a recurrent op whose weights are stored as 8-bit integers and dequantized in the graph, as
// `tessera quantize` writes a GRU (ONNX Runtime has no quantized GRU op, and loads this form as a float GRU on the
// dequantized weights). The fused op keeps W_q and R_q as 8-bit GEMM operands and quantizes X and h to uint8 at run
// time, as com.microsoft DynamicQuantizeLSTM does: not the float result of the graph but within its quantization
// noise, as ONNX Runtime's own DQ + MatMul -> MatMulNBits fusion is with its default accuracy level (int8
// activations). At opt-level basic the DequantizeLinear nodes fold into float weights and the op runs in float.
//
// Conditions: W_q [dirs, gates * hidden, input] and R_q [dirs, gates * hidden, hidden] constant int8/uint8 tensors
// (dirs from `direction`, gates 1 / 3 / 4), each DequantizeLinear with constant float32 parameters (quant_params)
// quantizing per tensor, per direction (axis 0) or per gate row (axis 1, shared by the directions), its zero point
// of W_q's type. The scales and zero points are written out per direction ([dirs] or [dirs, gates * hidden]) as new
// initializers; a DequantizeLinear read by other nodes stays for them.
//
// Runs before constant_folding, which would fold the weight DequantizeLinears into float initializers.
#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;
using fusion::QParams;

int gates_of(const Node& node) {
  if (is_onnx_op(node, "RNN")) return 1;
  if (is_onnx_op(node, "GRU")) return 3;
  if (is_onnx_op(node, "LSTM")) return 4;
  return 0;
}

// The 8-bit weight behind one of the op's DequantizeLinear-fed weights, with its parameters per direction.
struct QuantizedWeight {
  const Node* dq = nullptr;
  std::string values;          // the constant 8-bit tensor
  Tensor scales, zero_points;  // [dirs] or [dirs, columns]
};

// W or R (input `slot`) of `node` as a QuantizedWeight of [dirs, columns, rows], or nullopt.
std::optional<QuantizedWeight> quantized_weight(const Graph& graph, const fusion::GraphIndex& index, const Node& node,
                                                size_t slot, int64_t dirs, int64_t columns) {
  const std::optional<QParams> q = fusion::dequantize_of(graph, index, node.inputs[slot], true);
  if (!q) return std::nullopt;
  const Tensor* values = fusion::constant_tensor(graph, q->node->inputs[0]);
  if (values == nullptr || (values->dtype() != DType::kInt8 && values->dtype() != DType::kUint8) ||
      values->rank() != 3 || values->dim(0) != dirs || values->dim(1) != columns || values->dim(2) < 1) {
    return std::nullopt;
  }
  if (q->zp_t != nullptr && q->zp_t->dtype() != values->dtype()) return std::nullopt;
  const int64_t axis = q->axis < 0 ? q->axis + 3 : q->axis;
  const bool per_direction_axis = !q->per_tensor() && axis == 0 && q->count() == dirs;
  const bool per_row_axis = !q->per_tensor() && axis == 1 && q->count() == columns;
  if (!q->per_tensor() && !per_direction_axis && !per_row_axis) return std::nullopt;
  const int64_t per_direction = per_row_axis ? columns : 1;  // parameters each direction keeps
  QuantizedWeight out;
  out.dq = q->node;
  out.values = q->node->inputs[0];
  const std::vector<int64_t> shape =
      per_direction == 1 ? std::vector<int64_t>{dirs} : std::vector<int64_t>{dirs, per_direction};
  out.scales = Tensor(DType::kFloat, shape);
  out.zero_points = Tensor(values->dtype(), shape);
  for (int64_t d = 0; d < dirs; ++d) {
    for (int64_t j = 0; j < per_direction; ++j) {
      // Direction d's parameter j from the DequantizeLinear's: its one value, its value d, or its value j.
      const int64_t from = per_row_axis ? j : (per_direction_axis ? d : 0), to = d * per_direction + j;
      out.scales.data<float>()[to] = q->scale_at(from);
      const int32_t zp = q->zp_at(from);
      if (values->dtype() == DType::kInt8) {
        out.zero_points.data<int8_t>()[to] = static_cast<int8_t>(zp);
      } else {
        out.zero_points.data<uint8_t>()[to] = static_cast<uint8_t>(zp);
      }
    }
  }
  return out;
}

class DequantizeRecurrentFusion final : public GraphPass {
 public:
  std::string name() const override { return "dequantize_recurrent_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "DequantizeLinear")) return false;
    const fusion::GraphIndex index(graph);
    fusion::NodeReplacements replacements;
    std::vector<const Node*> removed;
    for (const auto& slot : graph.nodes) {
      const Node& node = *slot;
      const int gates = gates_of(node);
      if (gates == 0 || node.inputs.size() < 3 || node.inputs[1] == node.inputs[2]) continue;
      const int64_t hidden = node.attr_int("hidden_size", 0);
      const int64_t dirs = node.attr_string("direction", "forward") == "bidirectional" ? 2 : 1;
      if (hidden <= 0) continue;
      std::optional<QuantizedWeight> w = quantized_weight(graph, index, node, 1, dirs, gates * hidden);
      std::optional<QuantizedWeight> r = quantized_weight(graph, index, node, 2, dirs, gates * hidden);
      if (!w || !r) continue;
      const Tensor* r_values = fusion::constant_tensor(graph, r->values);
      if (r_values->dim(2) != hidden) continue;
      auto fused = std::make_unique<Node>();
      fused->name = node.name.empty() ? node.outputs[0] + "_dynamic_quantize" : node.name;
      fused->op_type = "DynamicQuantizeRecurrent";
      fused->domain = kTesseraDomain;
      fused->opset = 1;
      fused->attributes = node.attributes;
      fused->set_attr_string("cell", node.op_type);
      fused->inputs = node.inputs;
      fused->inputs.resize(8);
      fused->inputs[1] = w->values;
      fused->inputs[2] = r->values;
      for (QuantizedWeight* q : {&*w, &*r}) {
        for (Tensor* t : {&q->scales, &q->zero_points}) {
          // Added at once (the index and the tensors matched so far stay valid: initializers is node-based).
          const std::string name =
              fusion::fresh_name(graph, q->values + (t == &q->scales ? "_scale" : "_zero_point") + "_per_direction");
          fused->inputs.push_back(name);
          graph.initializers.emplace(name, std::move(*t));
        }
      }
      fused->outputs = node.outputs;
      std::vector<const Node*> replaced{w->dq, r->dq, &node};
      note(fusion::describe_fusion(*fused, replaced));
      for (const QuantizedWeight* q : {&*w, &*r}) {
        if (index.reads(q->dq->outputs[0]) == 1) removed.push_back(q->dq);
      }
      replacements.emplace_back(&node, std::move(fused));
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_dequantize_recurrent_fusion() { return std::make_unique<DequantizeRecurrentFusion>(); }

}  // namespace tessera

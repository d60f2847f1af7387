// DequantizeLinear -> MaxPool | Reshape | Transpose | Flatten | Squeeze | Unsqueeze -> QuantizeLinear, with the same
// per-tensor scale, zero point and 8-bit type on both sides  =>  the op on the 8-bit tensor (extended level; what
// ONNX Runtime's QDQ transformer does by dropping such Q/DQ pairs). QDQ models wrap every op in Q/DQ pairs, so a
// quantized ResNet's MaxPool otherwise runs as a dequantization of its [64, 112, 112] input, a float MaxPool and a
// quantization.
// Exact: these ops only pick and move values (MaxPool takes a maximum, and dequantization is increasing for a
// positive scale), and Q(DQ(q)) == q for every q of the type when both use one positive finite scale and zero point
// ((q - z) * s / s rounds back to q - z). Conditions: the op's output read only by the QuantizeLinear; MaxPool at
// opset 12 or later (the first with 8-bit inputs) without its Indices output. The DequantizeLinear stays while other
// nodes read it.
#include <cmath>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// Whether op(DQ(x)) may run as op(x): an op of the list above in a form that takes 8-bit tensors.
bool moves_values_only(const Node& op) {
  if (is_onnx_op(op, "MaxPool")) return op.opset >= 12 && (op.outputs.size() < 2 || op.outputs[1].empty());
  return is_onnx_op(op, "Reshape") || is_onnx_op(op, "Transpose") || is_onnx_op(op, "Flatten") ||
         is_onnx_op(op, "Squeeze") || is_onnx_op(op, "Unsqueeze");
}

// Whether two per-tensor 8-bit Q/DQ nodes use the same positive finite scale and the same zero point.
bool same_quantization(const Graph& graph, const Node& a, const Node& b) {
  const DType type = fusion::per_tensor_q8(graph, a);
  if (type == DType::kUndefined || fusion::per_tensor_q8(graph, b) != type) return false;
  const float scale = *fusion::scalar_float_constant(graph, a.inputs[1]);
  if (!(scale > 0 && std::isfinite(scale)) || *fusion::scalar_float_constant(graph, b.inputs[1]) != scale) {
    return false;
  }
  const Tensor* za = fusion::constant_tensor(graph, a.inputs[2]);
  const Tensor* zb = fusion::constant_tensor(graph, b.inputs[2]);
  return type == DType::kInt8 ? za->data<int8_t>()[0] == zb->data<int8_t>()[0]
                              : za->data<uint8_t>()[0] == zb->data<uint8_t>()[0];
}

class QdqPassThrough final : public GraphPass {
 public:
  std::string name() const override { return "qdq_pass_through"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    return fusion::rewrite_quantize_linears(
        graph,
        [&](const fusion::GraphIndex& index, const Node& q,
            std::vector<const Node*>& removed) -> std::unique_ptr<Node> {
          const Node* op = index.private_producer(q.inputs[0]);
          if (op == nullptr || !moves_values_only(*op) || op->inputs.empty()) return nullptr;
          const Node* dq = index.producer(op->inputs[0]);
          if (dq == nullptr || !is_onnx_op(*dq, "DequantizeLinear") || !same_quantization(graph, *dq, q)) {
            return nullptr;
          }
          auto moved = std::make_unique<Node>(*op);
          moved->inputs[0] = dq->inputs[0];
          moved->outputs = {q.outputs[0]};
          note(fusion::describe_fusion(*moved, {dq, op, &q}));
          removed.push_back(op);
          return moved;
        });
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_qdq_pass_through() { return std::make_unique<QdqPassThrough>(); }

}  // namespace tessera

// DequantizeLinear x2 -> Add|Mul -> [Relu] -> QuantizeLinear  =>  com.microsoft QLinearAdd|QLinearMul (extended
// level): the residual joins and scalings of QDQ models (what `tessera quantize --mode static` and onnxruntime's
// quantize_static write between quantized convolutions) run as one 8-bit elementwise op instead of two
// dequantizations, a float op and a quantization. The fused op takes the same roundings (bit-identical outputs).
// Conditions: every scale and zero point a constant scalar, one 8-bit type throughout; the Add/Mul output read only
// by the Relu or the QuantizeLinear, the Relu's only by the QuantizeLinear; a Relu is absorbed only when the output
// zero point is the type's minimum (then Q(Relu(x)) == Q(x) exactly).
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

using fusion::per_tensor_q8;

bool zero_point_is_minimum(const Graph& graph, const Node& q) {
  const Tensor* zp = fusion::constant_tensor(graph, q.inputs[2]);
  return zp->dtype() == DType::kInt8 ? zp->data<int8_t>()[0] == -128 : zp->data<uint8_t>()[0] == 0;
}

class QdqBinaryFusion final : public GraphPass {
 public:
  std::string name() const override { return "qdq_binary_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    return fusion::rewrite_quantize_linears(
        graph,
        [&](const fusion::GraphIndex& index, const Node& q,
            std::vector<const Node*>& removed) -> std::unique_ptr<Node> {
          const DType type = per_tensor_q8(graph, q);
          if (type == DType::kUndefined) return nullptr;
          const Node* op = index.private_producer(q.inputs[0]);
          const Node* relu = nullptr;
          if (op != nullptr && is_onnx_op(*op, "Relu")) {
            if (!zero_point_is_minimum(graph, q)) return nullptr;
            relu = op;
            op = index.private_producer(relu->inputs[0]);
          }
          if (op == nullptr || !(is_onnx_op(*op, "Add") || is_onnx_op(*op, "Mul")) || op->inputs.size() != 2) {
            return nullptr;
          }
          const Node* da = index.producer(op->inputs[0]);
          const Node* db = index.producer(op->inputs[1]);
          if (da == nullptr || db == nullptr || !is_onnx_op(*da, "DequantizeLinear") ||
              !is_onnx_op(*db, "DequantizeLinear") || per_tensor_q8(graph, *da) != type ||
              per_tensor_q8(graph, *db) != type) {
            return nullptr;
          }
          auto fused = std::make_unique<Node>();
          fused->name = op->name.empty() ? q.outputs[0] + "_qlinear" : op->name;
          fused->op_type = op->op_type == "Add" ? "QLinearAdd" : "QLinearMul";
          fused->domain = kMicrosoftDomain;
          fused->opset = 1;
          fused->inputs = {da->inputs[0], da->inputs[1], da->inputs[2], db->inputs[0],
                           db->inputs[1], db->inputs[2], q.inputs[1],   q.inputs[2]};
          fused->outputs = {q.outputs[0]};
          std::vector<const Node*> group{da, db, op};
          if (relu != nullptr) group.push_back(relu);
          group.push_back(&q);
          note(fusion::describe_fusion(*fused, group));
          removed.push_back(op);
          if (relu != nullptr) removed.push_back(relu);
          return fused;
        });
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_qdq_binary_fusion() { return std::make_unique<QdqBinaryFusion>(); }

}  // namespace tessera

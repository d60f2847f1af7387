// MatMul + bias [+ GELU] -> com.tessera MatMulBias (extended level): Add(MatMul(a, b), bias), BiasGelu(MatMul(a, b),
// bias) and FastGelu(MatMul(a, b), bias) with a and b of rank 2 or more (the batched MatMuls of transformer layers,
// which matmul_add_fusion's Gemm cannot take) and bias a 1-D float32 [N] of the product's last dim N. The bias is
// added in the GEMM epilogue and the GELU runs on each block of the output while it is in cache, instead of a
// separate pass over the whole product. Outputs are bit-identical. Only when the MatMul output has no other reader
// and every operand is float32. Runs after gelu_fusion, attention_fusion and skip_layer_norm_fusion, which match
// MatMul + Add patterns of their own.
#include <string>
#include <utility>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// The MatMulBias activation an anchor node stands for ("" for Add), or nullptr when it is no anchor.
const char* anchor_activation(const Node& node) {
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return nullptr;
  if (is_onnx_op(node, "Add")) return "";
  if (node.domain != kMicrosoftDomain) return nullptr;
  if (node.op_type == "BiasGelu") return "Gelu";
  if (node.op_type == "FastGelu" && !node.inputs[1].empty()) return "FastGelu";
  return nullptr;
}

class MatMulBiasFusion final : public GraphPass {
 public:
  std::string name() const override { return "matmul_bias_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "MatMul")) return false;
    fusion::infer_types(graph);
    const fusion::GraphIndex index(graph);
    fusion::NodeReplacements replacements;
    std::vector<const Node*> removed;
    for (const auto& slot : graph.nodes) {
      const Node& anchor = *slot;
      const char* activation = anchor_activation(anchor);
      if (activation == nullptr) continue;
      // Add is commutative; the GELU ops take the product first.
      const int sides = *activation == '\0' ? 2 : 1;
      for (int side = 0; side < sides; ++side) {
        const Node* mm = index.private_producer(anchor.inputs[side]);
        if (mm == nullptr || !matches(graph, *mm, anchor.inputs[1 - side])) continue;
        auto fused = std::make_unique<Node>();
        fused->name = anchor.name.empty() ? anchor.outputs[0] + "_matmul_bias" : anchor.name;
        fused->op_type = "MatMulBias";
        fused->domain = kTesseraDomain;
        fused->opset = 1;
        fused->inputs = {mm->inputs[0], mm->inputs[1], anchor.inputs[1 - side]};
        fused->outputs = {anchor.outputs[0]};
        if (*activation != '\0') fused->set_attr_string("activation", activation);
        note(fusion::describe_fusion(*fused, {mm, &anchor}));
        removed.push_back(mm);
        replacements.emplace_back(&anchor, std::move(fused));  // the anchor's place: after every operand
        break;
      }
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }

 private:
  // True when `mm` is a float32 MatMul of operands of rank >= 2 and `bias` a float32 [N] of its last dim N.
  static bool matches(const Graph& graph, const Node& mm, const std::string& bias) {
    if (!is_onnx_op(mm, "MatMul") || mm.inputs.size() != 2 || mm.outputs.size() != 1) return false;
    const std::vector<Dim>* a = fusion::float_shape(graph, mm.inputs[0]);
    const std::vector<Dim>* b = fusion::float_shape(graph, mm.inputs[1]);
    const std::vector<Dim>* c = fusion::float_shape(graph, bias);
    if (a == nullptr || b == nullptr || c == nullptr || a->size() < 2 || b->size() < 2 || c->size() != 1) return false;
    const Dim& n = b->back();
    return n.is_known() && (*c)[0].is_known() && (*c)[0].value == n.value;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_matmul_bias_fusion() { return std::make_unique<MatMulBiasFusion>(); }

}  // namespace tessera

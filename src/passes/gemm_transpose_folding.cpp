// Transposes folded into Gemm (basic level: standard ONNX out): a 2-D Transpose (perm [1, 0], or none) read only by
// a Gemm's A or B flips that Gemm's transA / transB and the Gemm reads the Transpose's input; a 2-D float32 MatMul
// with a Transpose on either side becomes Gemm(a, b) with transA / transB (alpha 1, no C). The GEMM reads the
// operand transposed as it packs it, so the separate copy goes. Runs after matmul_add_fusion, so MatMul(a,
// Transpose(b)) + bias first becomes a Gemm with C and then loses its Transpose here.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using fusion::is_onnx_op;

// The input of `node` when it is a 2-D transpose (perm [1, 0] or absent, input rank 2 inferred), else nullptr.
const std::string* transposed_source(const Graph& graph, const Node& node) {
  if (!is_onnx_op(node, "Transpose") || node.inputs.size() != 1 || node.outputs.size() != 1) return nullptr;
  const TypeInfo* type = graph.find_type(node.inputs[0]);
  if (type == nullptr || !type->shape || type->shape->size() != 2) return nullptr;
  if (node.has_attribute("perm") && node.attr_ints("perm") != std::vector<int64_t>{1, 0}) return nullptr;
  return &node.inputs[0];
}

class GemmTransposeFolding final : public GraphPass {
 public:
  std::string name() const override { return "gemm_transpose_folding"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "Transpose")) return false;
    fusion::infer_types(graph);
    const fusion::GraphIndex index(graph);
    std::vector<const Node*> removed;  // the folded Transposes: read only by the node that now reads their input
    for (const auto& slot : graph.nodes) {
      Node& node = *slot;
      const bool gemm = is_onnx_op(node, "Gemm");
      if (!(gemm || is_onnx_op(node, "MatMul")) || node.inputs.size() < 2 || node.outputs.size() != 1) continue;
      if (!gemm) {
        // MatMul -> Gemm only for 2-D float32 operands (Gemm's rank and this kernel's dtype).
        const std::vector<Dim>* a = fusion::float_shape(graph, node.inputs[0]);
        const std::vector<Dim>* b = fusion::float_shape(graph, node.inputs[1]);
        if (a == nullptr || b == nullptr || a->size() != 2 || b->size() != 2) continue;
      }
      std::vector<const Node*> folded;
      std::string inputs[2] = {node.inputs[0], node.inputs[1]};
      bool flips[2] = {false, false};
      for (int side = 0; side < 2; ++side) {
        const Node* t = index.private_producer(node.inputs[side]);
        const std::string* source = t != nullptr ? transposed_source(graph, *t) : nullptr;
        if (source == nullptr) continue;
        inputs[side] = *source;
        flips[side] = true;
        folded.push_back(t);
      }
      if (folded.empty()) continue;
      std::string before = fusion::node_text(node);
      if (!gemm) {
        node.op_type = "Gemm";
        node.attributes.clear();
      }
      const char* keys[2] = {"transA", "transB"};
      for (int side = 0; side < 2; ++side) {
        node.inputs[static_cast<size_t>(side)] = inputs[side];
        if (flips[side]) node.set_attr_int(keys[side], 1 - node.attr_int(keys[side], 0));
      }
      for (const Node* t : folded) before += ", " + fusion::node_text(*t);
      note(fusion::node_text(node) + " <- " + before);
      removed.insert(removed.end(), folded.begin(), folded.end());
    }
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
    });
    return !removed.empty();
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_gemm_transpose_folding() { return std::make_unique<GemmTransposeFolding>(); }

}  // namespace tessera

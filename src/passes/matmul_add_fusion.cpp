// MatMul + Add(bias) -> Gemm (basic level: standard ONNX out): Add(MatMul(a, b), c) where a and b are 2-D (inferred)
// and c broadcasts to the product unidirectionally (a bias row [N] or [1, N], a column [M, 1], a full [M, N], or one
// value) becomes Gemm(a, b, c); the Gemm kernel adds a bias row in its GEMM epilogue. Only when the MatMul output
// has no other reader and every operand is float32.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// True when `c` broadcasts to [m, n] without making the result bigger (Gemm's C rule).
bool broadcasts_to(const std::vector<Dim>& c, const Dim& m, const Dim& n) {
  if (c.size() > 2) return false;
  auto fits = [](const Dim& d, const Dim& target) {
    return (d.is_known() && d.value == 1) || (d.is_known() && target.is_known() && d.value == target.value) ||
           (!d.symbol.empty() && d.symbol == target.symbol);
  };
  if (c.empty()) return true;
  if (c.size() == 1) return fits(c[0], n);
  return fits(c[0], m) && fits(c[1], n);
}

class MatMulAddFusion final : public GraphPass {
 public:
  std::string name() const override { return "matmul_add_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "MatMul")) return false;
    fusion::infer_types(graph);
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    std::vector<const Node*> removed;
    fusion::NodeReplacements replacements;
    for (const auto& slot : graph.nodes) {
      const Node& add = *slot;
      if (!is_onnx_op(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
      for (int side = 0; side < 2; ++side) {
        auto p = producer.find(add.inputs[side]);
        if (p == producer.end() || !is_onnx_op(*p->second, "MatMul") || p->second->inputs.size() != 2) continue;
        const Node& mm = *p->second;
        auto r = reads.find(mm.outputs[0]);
        if (r == reads.end() || r->second != 1) continue;
        const std::vector<Dim>* a = fusion::float_shape(graph, mm.inputs[0]);
        const std::vector<Dim>* b = fusion::float_shape(graph, mm.inputs[1]);
        const std::vector<Dim>* c = fusion::float_shape(graph, add.inputs[1 - side]);
        if (a == nullptr || b == nullptr || c == nullptr || a->size() != 2 || b->size() != 2) continue;
        if (!broadcasts_to(*c, (*a)[0], (*b)[1])) continue;
        auto gemm = std::make_unique<Node>();
        gemm->name = mm.name.empty() ? add.outputs[0] + "_gemm" : mm.name;
        gemm->op_type = "Gemm";
        gemm->opset = add.opset;
        gemm->inputs = {mm.inputs[0], mm.inputs[1], add.inputs[1 - side]};
        gemm->outputs = {add.outputs[0]};
        note(fusion::node_text(*gemm) + " <- " + fusion::node_text(mm) + ", " + fusion::node_text(add));
        removed.push_back(&mm);
        // The Add's place (after both operands), once matching is done: `producer` still names the Add for a
        // later Add that reads its output.
        replacements.emplace_back(&add, std::move(gemm));
        break;
      }
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_matmul_add_fusion() { return std::make_unique<MatMulAddFusion>(); }

}  // namespace tessera

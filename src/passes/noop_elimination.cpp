// No-op elimination (basic level): nodes that provably return their input unchanged become Identity, which
// identity_elimination then removes; a Reshape of a Reshape reads the original.
//   Cast to the input's own element type                      -> Identity
//   Reshape / Expand whose constant target gives the input's own static shape -> Identity
//   Pad with constant all-zero pads                           -> Identity
//   Reshape(Reshape(x, s1), s2), s2 constant without 0 entries -> Reshape(x, s2)
// Types come from shape inference run at the start of the pass.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

std::optional<std::vector<int64_t>> static_shape(const Graph& graph, const std::string& value) {
  const TypeInfo* t = graph.find_type(value);
  if (t == nullptr || !t->is_tensor() || !t->has_static_shape()) return std::nullopt;
  return t->static_shape();
}

std::optional<std::vector<int64_t>> int64_constant(const Graph& graph, const std::string& value) {
  const Tensor* t = fusion::constant_tensor(graph, value);
  if (t == nullptr || t->dtype() != DType::kInt64 || t->rank() != 1) return std::nullopt;
  return std::vector<int64_t>(t->data<int64_t>(), t->data<int64_t>() + t->element_count());
}

class NoopElimination final : public GraphPass {
 public:
  std::string name() const override { return "noop_elimination"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    fusion::infer_types(graph);
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    bool changed = false;
    for (auto& slot : graph.nodes) {
      Node& node = *slot;
      if (!node.domain.empty() || node.inputs.empty() || node.outputs.size() != 1) continue;
      if (is_identity(graph, node)) {
        note("Identity '" + node.name + "' <- " + fusion::node_text(node));
        node.op_type = "Identity";
        node.inputs.resize(1);
        node.attributes.clear();
        changed = true;
        continue;
      }
      // Reshape of a Reshape: the inner one's target does not matter when the outer copies no dims (no 0).
      if (node.op_type == "Reshape" && node.inputs.size() == 2 && node.attr_int("allowzero", 0) == 0) {
        auto p = producer.find(node.inputs[0]);
        auto r = reads.find(node.inputs[0]);
        const std::optional<std::vector<int64_t>> target = int64_constant(graph, node.inputs[1]);
        if (p == producer.end() || !is_onnx_op(*p->second, "Reshape") || r == reads.end() || r->second != 1 ||
            !target || std::find(target->begin(), target->end(), 0) != target->end()) {
          continue;
        }
        note(fusion::node_text(node) + " <- " + fusion::node_text(*p->second) + ", " + fusion::node_text(node));
        node.inputs[0] = p->second->inputs[0];
        changed = true;
      }
    }
    return changed;
  }

 private:
  static bool is_identity(const Graph& graph, const Node& node) {
    const std::string& x = node.inputs[0];
    if (node.op_type == "Cast") {
      const TypeInfo* t = graph.find_type(x);
      return t != nullptr && t->is_tensor() && t->elem_type != DType::kUndefined &&
             node.attr_int("to", -1) == static_cast<int64_t>(t->elem_type) && node.attr_int("saturate", 1) == 1;
    }
    if ((node.op_type == "Reshape" || node.op_type == "Expand") && node.inputs.size() == 2) {
      const std::optional<std::vector<int64_t>> shape = static_shape(graph, x);
      const std::optional<std::vector<int64_t>> target = int64_constant(graph, node.inputs[1]);
      if (!shape || !target) return false;
      if (node.op_type == "Reshape") {
        return *shape == *target && node.attr_int("allowzero", 0) == 0 &&
               std::find(target->begin(), target->end(), -1) == target->end();
      }
      // Expand keeps x's shape when the target broadcasts into it without growing any dim.
      if (target->size() > shape->size()) return false;
      for (size_t i = 0; i < target->size(); ++i) {
        const int64_t t = (*target)[i], s = (*shape)[shape->size() - target->size() + i];
        if (t != 1 && t != s) return false;
      }
      return true;
    }
    if (node.op_type == "Pad" && node.opset >= 11 && node.inputs.size() >= 2) {
      const std::optional<std::vector<int64_t>> pads = int64_constant(graph, node.inputs[1]);
      return pads && std::all_of(pads->begin(), pads->end(), [](int64_t p) { return p == 0; });
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_noop_elimination() { return std::make_unique<NoopElimination>(); }

}  // namespace tessera

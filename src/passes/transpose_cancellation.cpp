// Transpose cancellation (basic level): Transpose(Transpose(x, p1), p2) becomes one Transpose(x, p1 ∘ p2), or
// nothing at all when the two undo each other (readers then read x; an output name that must survive keeps an
// Identity). Only when the inner Transpose's output has no other reader and both perms are given.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

class TransposeCancellation final : public GraphPass {
 public:
  std::string name() const override { return "transpose_cancellation"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    std::vector<const Node*> removed;
    for (auto& slot : graph.nodes) {
      Node& outer = *slot;
      if (!is_onnx_op(outer, "Transpose") || outer.inputs.size() != 1 || !outer.has_attribute("perm")) continue;
      auto p = producer.find(outer.inputs[0]);
      if (p == producer.end() || !is_onnx_op(*p->second, "Transpose") || !p->second->has_attribute("perm")) continue;
      const Node& inner = *p->second;
      if (std::find(removed.begin(), removed.end(), &inner) != removed.end()) continue;
      auto r = reads.find(inner.outputs[0]);
      if (r == reads.end() || r->second != 1) continue;
      const std::vector<int64_t> p1 = inner.attr_ints("perm"), p2 = outer.attr_ints("perm");
      if (p1.size() != p2.size()) continue;
      // outer[i] = inner[p2[i]] = x[p1[p2[i]]]
      std::vector<int64_t> composed(p2.size());
      bool valid = true;
      for (size_t i = 0; i < p2.size() && valid; ++i) {
        valid = p2[i] >= 0 && static_cast<size_t>(p2[i]) < p1.size();
        if (valid) composed[i] = p1[static_cast<size_t>(p2[i])];
      }
      if (!valid) continue;
      bool identity = true;
      for (size_t i = 0; i < composed.size(); ++i) identity &= composed[i] == static_cast<int64_t>(i);
      const std::string before = fusion::node_text(inner) + ", " + fusion::node_text(outer);
      outer.inputs[0] = inner.inputs[0];
      if (identity) {
        outer.op_type = "Identity";
        outer.attributes.clear();
      } else {
        outer.attributes["perm"].ints = composed;
      }
      note(fusion::node_text(outer) + " <- " + before);
      removed.push_back(&inner);
    }
    if (removed.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
    });
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_transpose_cancellation() { return std::make_unique<TransposeCancellation>(); }

}  // namespace tessera

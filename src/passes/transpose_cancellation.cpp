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
      const std::string before = fusion::node_text(inner) + ", " + fusion::node_text(outer);
      if (!fusion::read_through_transpose(outer, inner)) continue;
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

// Removes nodes none of whose outputs reach a graph output (directly or through other nodes or subgraphs), then the
// initializers nothing reads any more (those that are also graph inputs stay: a caller may feed them). Folding
// passes leave the originals of what they folded behind; this frees them (and keeps them out of saved models).
#include <unordered_set>

#include "passes/pass.h"

namespace tessera {

namespace {
void add_subgraph_reads(const Graph& graph, std::unordered_set<std::string>& live) {
  for (const auto& node : graph.nodes) {
    for (const std::string& in : node->inputs) live.insert(in);
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g) add_subgraph_reads(*attr.g, live);
      for (const auto& g : attr.graphs) if (g) add_subgraph_reads(*g, live);
    }
  }
  for (const ValueInfo& out : graph.outputs) live.insert(out.name);
}

class DeadCodeElimination final : public GraphPass {
 public:
  std::string name() const override { return "dead_code_elimination"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }
  bool run(Graph& graph) override {
    std::unordered_set<std::string> live;
    for (const ValueInfo& out : graph.outputs) live.insert(out.name);
    std::vector<bool> keep(graph.nodes.size(), false);
    for (size_t i = graph.nodes.size(); i-- > 0;) {
      const Node& node = *graph.nodes[i];
      for (const std::string& out : node.outputs) keep[i] = keep[i] || (!out.empty() && live.count(out));
      if (!keep[i]) continue;
      for (const std::string& in : node.inputs) live.insert(in);
      for (const auto& [key, attr] : node.attributes) {
        if (attr.g) add_subgraph_reads(*attr.g, live);
        for (const auto& g : attr.graphs) if (g) add_subgraph_reads(*g, live);
      }
    }
    std::vector<std::unique_ptr<Node>> kept;
    for (size_t i = 0; i < graph.nodes.size(); ++i) if (keep[i]) kept.push_back(std::move(graph.nodes[i]));
    bool changed = kept.size() != graph.nodes.size();
    graph.nodes = std::move(kept);
    std::unordered_set<std::string> inputs;
    for (const ValueInfo& in : graph.inputs) inputs.insert(in.name);
    for (auto it = graph.initializers.begin(); it != graph.initializers.end();) {
      if (live.count(it->first) || inputs.count(it->first)) {
        ++it;
      } else {
        it = graph.initializers.erase(it);
        changed = true;
      }
    }
    return changed;
  }
};
}  // namespace

std::unique_ptr<GraphPass> make_dead_code_elimination() { return std::make_unique<DeadCodeElimination>(); }

}  // namespace tessera

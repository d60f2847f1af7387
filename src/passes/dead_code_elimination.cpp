// Removes nodes none of whose outputs reach a graph output (directly or through other nodes or subgraphs).
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
    const bool changed = kept.size() != graph.nodes.size();
    graph.nodes = std::move(kept);
    return changed;
  }
};
}  // namespace

std::unique_ptr<GraphPass> make_dead_code_elimination() { return std::make_unique<DeadCodeElimination>(); }

}  // namespace tessera

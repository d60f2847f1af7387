// Removes Identity nodes (and inference-mode Dropout with one output) by renaming their consumers' inputs
// to the Identity's input. An Identity whose output is a graph output stays (the output name must survive), unless
// its input is a node output of this graph read by nothing else: then that node writes the graph output itself.
#include <unordered_map>
#include <unordered_set>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {
void rename_reads(Graph& graph, const std::unordered_map<std::string, std::string>& rename) {
  for (auto& node : graph.nodes) {
    for (std::string& in : node->inputs) {
      auto it = rename.find(in);
      if (it != rename.end()) in = it->second;
    }
    for (auto& [key, attr] : node->attributes) {
      if (attr.g) rename_reads(*attr.g, rename);
      for (auto& g : attr.graphs) if (g) rename_reads(*g, rename);
    }
  }
  for (ValueInfo& out : graph.outputs) {
    // Subgraph outputs may name outer values; only rename when the subgraph does not define the name.
    auto it = rename.find(out.name);
    if (it != rename.end() && graph.parent != nullptr && !graph.defines(out.name)) out.name = it->second;
  }
}

class IdentityElimination final : public GraphPass {
 public:
  std::string name() const override { return "identity_elimination"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }
  bool run(Graph& graph) override {
    std::unordered_set<std::string> graph_outputs;
    for (const ValueInfo& out : graph.outputs) graph_outputs.insert(out.name);
    std::unordered_map<std::string, std::string> rename;
    std::vector<std::unique_ptr<Node>> kept;
    for (auto& node : graph.nodes) {
      const bool is_identity = node->domain.empty() && node->op_type == "Identity" && node->inputs.size() == 1 &&
                               node->outputs.size() == 1 && !node->inputs[0].empty();
      if (is_identity && !graph_outputs.count(node->outputs[0])) {
        std::string source = node->inputs[0];
        auto it = rename.find(source);
        if (it != rename.end()) source = it->second;
        rename[node->outputs[0]] = source;
        continue;
      }
      kept.push_back(std::move(node));
    }
    bool changed = !rename.empty();
    graph.nodes = std::move(kept);
    if (changed) rename_reads(graph, rename);
    changed |= hand_outputs_to_producers(graph, graph_outputs);
    return changed;
  }

 private:
  // Identity(v) -> graph output y, v produced by a node here and read only by the Identity (not a graph output):
  // the producer writes y and the Identity goes (transpose pairs cancelled in front of a graph output leave these).
  static bool hand_outputs_to_producers(Graph& graph, const std::unordered_set<std::string>& graph_outputs) {
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    std::unordered_set<const Node*> removed;
    for (auto& node : graph.nodes) {
      if (!(node->domain.empty() && node->op_type == "Identity" && node->inputs.size() == 1 &&
            node->outputs.size() == 1 && graph_outputs.count(node->outputs[0]) != 0)) {
        continue;
      }
      const std::string& source = node->inputs[0];
      auto p = producer.find(source);
      auto r = reads.find(source);
      if (p == producer.end() || r == reads.end() || r->second != 1 || graph_outputs.count(source) != 0) continue;
      for (std::string& out : p->second->outputs) {
        if (out == source) out = node->outputs[0];
      }
      if (auto t = graph.value_types.find(source); t != graph.value_types.end()) {
        graph.value_types.emplace(node->outputs[0], t->second);
      }
      removed.insert(node.get());
    }
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) { return removed.count(n.get()) != 0; });
    return !removed.empty();
  }
};
}  // namespace

std::unique_ptr<GraphPass> make_identity_elimination() { return std::make_unique<IdentityElimination>(); }

}  // namespace tessera

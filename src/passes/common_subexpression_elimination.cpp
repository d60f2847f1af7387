// Common subexpression elimination: a node computing exactly what an earlier node computes (same op, domain,
// attributes and inputs) is removed and its readers read the earlier node's outputs. Exporters write such
// duplicates (a Shape of the same value per head, the same mask preprocessing per layer). Not merged:
// nondeterministic ops, nodes with subgraphs, and a duplicate whose output is a graph output (its name must
// survive).
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.dtype() == DType::kString) {
    for (int64_t i = 0; i < a.element_count(); ++i) {
      if (a.data<std::string>()[i] != b.data<std::string>()[i]) return false;
    }
    return true;
  }
  return a.byte_size() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

bool same_attribute(const Attribute& a, const Attribute& b) {
  if (a.type != b.type || !a.ref_attr_name.empty() || !b.ref_attr_name.empty()) return false;
  switch (a.type) {
    case Attribute::Type::kFloat:
      return std::memcmp(&a.f, &b.f, sizeof a.f) == 0;
    case Attribute::Type::kInt:
      return a.i == b.i;
    case Attribute::Type::kString:
      return a.s == b.s;
    case Attribute::Type::kFloats:
      return a.floats.size() == b.floats.size() &&
             std::memcmp(a.floats.data(), b.floats.data(), a.floats.size() * sizeof(float)) == 0;
    case Attribute::Type::kInts:
      return a.ints == b.ints;
    case Attribute::Type::kStrings:
      return a.strings == b.strings;
    case Attribute::Type::kTensor:
    case Attribute::Type::kSparseTensor:
      return same_tensor(a.t, b.t);
    default:
      return false;  // graphs, tensor lists, type protos: never treated as equal
  }
}

bool mergeable(const Node& node) {
  static const std::set<std::string> kNondeterministic = {
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"};
  if (node.outputs.empty() || (node.domain.empty() && kNondeterministic.count(node.op_type))) return false;
  for (const auto& [key, attr] : node.attributes) {
    if (attr.g || !attr.graphs.empty()) return false;
  }
  return true;
}

bool same_computation(const Node& a, const Node& b) {
  if (a.op_type != b.op_type || a.domain != b.domain || a.opset != b.opset || a.inputs != b.inputs ||
      a.outputs.size() != b.outputs.size() || a.attributes.size() != b.attributes.size()) {
    return false;
  }
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    if (a.outputs[i].empty() != b.outputs[i].empty()) return false;  // one omits an output the other makes
  }
  for (const auto& [key, attr] : a.attributes) {
    auto other = b.attributes.find(key);
    if (other == b.attributes.end() || !same_attribute(attr, other->second)) return false;
  }
  return true;
}

// Renames reads of `from` to `to` in `graph`'s nodes and, where not shadowed, in its subgraphs.
void rename_reads(Graph& graph, const std::string& from, const std::string& to) {
  for (auto& node : graph.nodes) {
    for (std::string& in : node->inputs) {
      if (in == from) in = to;
    }
    for (auto& [key, attr] : node->attributes) {
      if (attr.g && !attr.g->defines(from)) rename_reads(*attr.g, from, to);
      for (auto& g : attr.graphs) {
        if (g && !g->defines(from)) rename_reads(*g, from, to);
      }
    }
  }
}

class CommonSubexpressionElimination final : public GraphPass {
 public:
  std::string name() const override { return "common_subexpression_elimination"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    std::set<std::string> graph_outputs;
    for (const ValueInfo& out : graph.outputs) graph_outputs.insert(out.name);
    // Candidates keyed by (op, first input) so each node is compared with few others.
    std::map<std::pair<std::string, std::string>, std::vector<const Node*>> seen;
    std::vector<const Node*> removed;
    for (const auto& slot : graph.nodes) {
      Node& node = *slot;
      if (!mergeable(node)) continue;
      const auto key = std::make_pair(node.domain + "." + node.op_type, node.inputs.empty() ? "" : node.inputs[0]);
      auto& candidates = seen[key];
      const Node* earlier = nullptr;
      for (const Node* c : candidates) {
        if (same_computation(*c, node)) {
          earlier = c;
          break;
        }
      }
      const bool output_is_graph_output = std::any_of(
          node.outputs.begin(), node.outputs.end(), [&](const std::string& o) { return graph_outputs.count(o) != 0; });
      if (earlier == nullptr || output_is_graph_output) {
        candidates.push_back(&node);
        continue;
      }
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        if (!node.outputs[i].empty()) rename_reads(graph, node.outputs[i], earlier->outputs[i]);
      }
      removed.push_back(&node);
    }
    if (removed.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
    });
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_common_subexpression_elimination() {
  return std::make_unique<CommonSubexpressionElimination>();
}

}  // namespace tessera

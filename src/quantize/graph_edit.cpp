#include "quantize/graph_edit.h"

#include <algorithm>
#include <set>

#include "passes/fusion_utils.h"

namespace tessera::quantize {

NameSource::NameSource(const Graph& graph) {
  for (const ValueInfo& v : graph.inputs) used_.insert(v.name);
  for (const auto& [name, tensor] : graph.initializers) used_.insert(name);
  for (const auto& node : graph.nodes) {
    used_.insert(node->name);
    used_.insert(node->outputs.begin(), node->outputs.end());
  }
}

std::string NameSource::fresh(const std::string& base) {
  std::string name = base;
  for (int k = 1; used_.count(name) != 0; ++k) name = base + "_" + std::to_string(k);
  used_.insert(name);
  return name;
}

Node& append_node(std::vector<std::unique_ptr<Node>>& out, NameSource& names, const std::string& op_type,
                  std::vector<std::string> inputs, std::vector<std::string> outputs, const std::string& name,
                  int64_t opset) {
  auto node = std::make_unique<Node>();
  node->op_type = op_type;
  node->inputs = std::move(inputs);
  node->outputs = std::move(outputs);
  node->name = names.fresh(name);
  node->opset = opset;
  out.push_back(std::move(node));
  return *out.back();
}

void drop_unread_initializers(Graph& graph, const std::vector<std::string>& names) {
  const auto reads = fusion::count_reads(graph);
  std::set<std::string> graph_inputs;
  for (const ValueInfo& v : graph.inputs) graph_inputs.insert(v.name);
  for (const std::string& name : names) {
    if (name.empty() || reads.count(name) != 0 || graph_inputs.count(name) != 0) continue;
    graph.initializers.erase(name);
    graph.value_types.erase(name);
  }
}

std::string node_key(const Node& node) { return node.name.empty() ? node.outputs[0] : node.name; }

bool listed(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

std::string list_exclusion(const Node& node, const std::vector<std::string>& include,
                           const std::vector<std::string>& exclude) {
  if (!include.empty() && !listed(include, node_key(node))) return "not in the include list";
  if (listed(exclude, node_key(node))) return "in the exclude list";
  return {};
}

Tensor integer_parameter(DType dtype, const std::vector<int32_t>& values, bool per_channel) {
  Tensor t(dtype, per_channel ? std::vector<int64_t>{static_cast<int64_t>(values.size())} : std::vector<int64_t>{});
  for (size_t i = 0; i < (per_channel ? values.size() : 1); ++i) {
    if (dtype == DType::kInt8) {
      t.data<int8_t>()[i] = static_cast<int8_t>(values[i]);
    } else if (dtype == DType::kUint8) {
      t.data<uint8_t>()[i] = static_cast<uint8_t>(values[i]);
    } else {
      t.data<int32_t>()[i] = values[i];
    }
  }
  return t;
}

}  // namespace tessera::quantize

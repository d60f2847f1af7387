#include "passes/fusion_utils.h"

#include "ir/shape_inference.h"
#include "ops/registry.h"

namespace tessera::fusion {

namespace {

void add_reads(const Graph& graph, std::unordered_map<std::string, int>& reads, bool outer_only) {
  for (const auto& node : graph.nodes) {
    for (const std::string& in : node->inputs) {
      if (!in.empty() && (!outer_only || !graph.defines(in))) ++reads[in];
    }
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g) add_reads(*attr.g, reads, true);
      for (const auto& g : attr.graphs) if (g) add_reads(*g, reads, true);
    }
  }
  for (const ValueInfo& out : graph.outputs) {
    if (!outer_only || !graph.defines(out.name)) ++reads[out.name];
  }
}

}  // namespace

std::unordered_map<std::string, int> count_reads(const Graph& graph) {
  std::unordered_map<std::string, int> reads;
  add_reads(graph, reads, false);
  return reads;
}

std::unordered_map<std::string, Node*> producers(const Graph& graph) {
  std::unordered_map<std::string, Node*> out;
  for (const auto& node : graph.nodes) {
    for (const std::string& o : node->outputs) if (!o.empty()) out[o] = node.get();
  }
  return out;
}

const Tensor* constant_tensor(const Graph& graph, const std::string& name) {
  auto it = graph.initializers.find(name);
  if (it != graph.initializers.end()) {
    for (const ValueInfo& in : graph.inputs) if (in.name == name) return nullptr;  // a feed may override it
    return &it->second;
  }
  for (const auto& node : graph.nodes) {
    if (is_onnx_op(*node, "Constant") && node->outputs.size() == 1 && node->outputs[0] == name) {
      return node->attr_tensor("value");
    }
  }
  return nullptr;
}

std::optional<float> scalar_float_constant(const Graph& graph, const std::string& name) {
  const Tensor* t = constant_tensor(graph, name);
  if (t == nullptr || t->dtype() != DType::kFloat || t->element_count() != 1) return std::nullopt;
  return t->data<float>()[0];
}

void infer_types(Graph& graph) {
  infer_graph_types(graph, [](const Node& node) {
    const OpRegistration* entry = OpRegistry::instance().find(node.domain, node.op_type, node.opset);
    return entry ? entry->infer : ShapeInferenceFn{};
  });
}

std::optional<int64_t> scalar_int_constant(const Graph& graph, const std::string& name) {
  const Tensor* t = constant_tensor(graph, name);
  if (t == nullptr || t->element_count() != 1) return std::nullopt;
  if (t->dtype() == DType::kInt64) return t->data<int64_t>()[0];
  if (t->dtype() == DType::kInt32) return t->data<int32_t>()[0];
  return std::nullopt;
}

}  // namespace tessera::fusion

#include "passes/fusion_utils.h"

#include <algorithm>
#include <cmath>
#include <limits>

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
      for (const auto& g : attr.graphs)
        if (g) add_reads(*g, reads, true);
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

GraphIndex::GraphIndex(const Graph& graph) : reads_(count_reads(graph)), producer_(producers(graph)) {
  for (const auto& node : graph.nodes) {
    for (const std::string& in : node->inputs) {
      if (!in.empty()) consumers_[in].push_back(node.get());
    }
  }
}

int GraphIndex::reads(const std::string& value) const {
  auto r = reads_.find(value);
  return r == reads_.end() ? 0 : r->second;
}

Node* GraphIndex::producer(const std::string& value) const {
  auto p = producer_.find(value);
  return p == producer_.end() ? nullptr : p->second;
}

Node* GraphIndex::private_producer(const std::string& value) const {
  return reads(value) == 1 ? producer(value) : nullptr;
}

const std::vector<Node*>& GraphIndex::consumers(const std::string& value) const {
  static const std::vector<Node*> kNone;
  auto c = consumers_.find(value);
  return c == consumers_.end() ? kNone : c->second;
}

Node* GraphIndex::only_consumer(const std::string& value) const {
  auto c = consumers_.find(value);
  return reads(value) == 1 && c != consumers_.end() && c->second.size() == 1 ? c->second[0] : nullptr;
}

bool same_float_shape(const TypeInfo* a, const TypeInfo* b, bool unknown_matches) {
  if (a == nullptr || b == nullptr || !a->is_tensor() || !b->is_tensor() || !a->shape || !b->shape) return false;
  if (a->elem_type != DType::kFloat || b->elem_type != DType::kFloat || a->shape->size() != b->shape->size())
    return false;
  for (size_t i = 0; i < a->shape->size(); ++i) {
    const Dim& x = (*a->shape)[i];
    const Dim& y = (*b->shape)[i];
    const bool unknown = (!x.is_known() && x.symbol.empty()) || (!y.is_known() && y.symbol.empty());
    const bool same =
        (x.is_known() && y.is_known() && x.value == y.value) || (!x.symbol.empty() && x.symbol == y.symbol);
    if (!same && !(unknown_matches && unknown)) return false;
  }
  return true;
}

std::unordered_map<std::string, Node*> producers(const Graph& graph) {
  std::unordered_map<std::string, Node*> out;
  for (const auto& node : graph.nodes) {
    for (const std::string& o : node->outputs)
      if (!o.empty()) out[o] = node.get();
  }
  return out;
}

const std::vector<Dim>* float_shape(const Graph& graph, const std::string& value) {
  const TypeInfo* t = graph.find_type(value);
  return t != nullptr && t->is_tensor() && t->elem_type == DType::kFloat && t->shape ? &*t->shape : nullptr;
}

const Tensor* constant_tensor(const Graph& graph, const std::string& name) {
  auto it = graph.initializers.find(name);
  if (it != graph.initializers.end()) {
    for (const ValueInfo& in : graph.inputs)
      if (in.name == name) return nullptr;  // a feed may override it
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

bool rewrite_quantize_linears(Graph& graph, const QuantizeLinearMatcher& match) {
  if (!has_onnx_op(graph, "QuantizeLinear")) return false;
  const GraphIndex index(graph);
  std::vector<const Node*> removed;
  NodeReplacements replacements;
  for (const auto& slot : graph.nodes) {
    if (!is_onnx_op(*slot, "QuantizeLinear")) continue;
    if (std::unique_ptr<Node> replacement = match(index, *slot, removed)) {
      replacements.emplace_back(slot.get(), std::move(replacement));
    }
  }
  return apply_replacements(graph, replacements, removed);
}

DType per_tensor_q8(const Graph& graph, const Node& node) {
  if (node.inputs.size() < 3 || !node.has_input(2) || !scalar_float_constant(graph, node.inputs[1])) {
    return DType::kUndefined;
  }
  const Tensor* zp = constant_tensor(graph, node.inputs[2]);
  if (zp == nullptr || zp->element_count() != 1 || (zp->dtype() != DType::kInt8 && zp->dtype() != DType::kUint8)) {
    return DType::kUndefined;
  }
  return zp->dtype();
}

bool activation_of(const Graph& graph, const Node& act, std::string& name, std::vector<float>& params) {
  name = act.op_type;
  params.clear();
  if (!act.domain.empty()) return false;
  if (act.op_type == "Relu" || act.op_type == "Sigmoid" || act.op_type == "Tanh") return true;
  if (act.op_type == "LeakyRelu") {
    params = {act.attr_float("alpha", 0.01f)};
    return true;
  }
  if (act.op_type == "HardSigmoid") {
    params = {act.attr_float("alpha", 0.2f), act.attr_float("beta", 0.5f)};
    return true;
  }
  if (act.op_type == "Clip") {
    float lo = -std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::max();
    if (act.opset < 11) {
      lo = act.attr_float("min", lo);
      hi = act.attr_float("max", hi);
    } else {
      for (size_t i = 1; i < 3; ++i) {
        if (!act.has_input(i)) continue;
        const auto value = fusion::scalar_float_constant(graph, act.inputs[i]);
        if (!value) return false;
        (i == 1 ? lo : hi) = *value;
      }
    }
    params = {lo, hi};
    return true;
  }
  return false;
}

bool fuse_activations(Graph& graph, const std::function<bool(const Node&)>& accepts,
                      const std::function<void(Node&, const std::string&, const std::vector<float>&)>& rewrite,
                      std::vector<std::string>* changes) {
  const auto reads = count_reads(graph);
  const auto producer = producers(graph);
  std::vector<const Node*> fused_away;
  for (const auto& node : graph.nodes) {
    const Node& act = *node;
    if (act.inputs.empty() || act.outputs.size() != 1) continue;
    auto p = producer.find(act.inputs[0]);
    if (p == producer.end() || p->second->outputs.size() != 1 || !accepts(*p->second)) continue;
    auto r = reads.find(act.inputs[0]);
    if (r == reads.end() || r->second != 1) continue;
    std::string name;
    std::vector<float> params;
    if (!activation_of(graph, act, name, params)) continue;
    const std::string before = node_text(*p->second);
    rewrite(*p->second, name, params);
    p->second->outputs[0] = act.outputs[0];
    if (changes != nullptr) changes->push_back(node_text(*p->second) + " <- " + before + ", " + node_text(act));
    fused_away.push_back(&act);
  }
  if (fused_away.empty()) return false;
  std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
    return std::find(fused_away.begin(), fused_away.end(), n.get()) != fused_away.end();
  });
  return true;
}

bool read_through_transpose(Node& outer, const Node& inner) {
  const std::vector<int64_t> p1 = inner.attr_ints("perm"), p2 = outer.attr_ints("perm");
  if (p1.size() != p2.size() || inner.inputs.size() != 1) return false;
  std::vector<int64_t> composed(p2.size());  // outer[i] = inner[p2[i]] = x[p1[p2[i]]]
  bool identity = true;
  for (size_t i = 0; i < p2.size(); ++i) {
    if (p2[i] < 0 || static_cast<size_t>(p2[i]) >= p1.size()) return false;
    composed[i] = p1[static_cast<size_t>(p2[i])];
    identity &= composed[i] == static_cast<int64_t>(i);
  }
  outer.inputs[0] = inner.inputs[0];
  if (identity) {
    outer.op_type = "Identity";
    outer.attributes.clear();
  } else {
    outer.attributes["perm"].ints = composed;
  }
  return true;
}

std::string node_text(const Node& node) {
  return (node.domain.empty() ? node.op_type : node.domain + "." + node.op_type) + " '" + node.name + "'";
}

std::string describe_fusion(const Node& fused, const std::vector<const Node*>& replaced) {
  std::string text = node_text(fused) + " <-";
  constexpr size_t kListed = 6;
  for (size_t i = 0; i < replaced.size() && i < kListed; ++i) text += (i == 0 ? " " : ", ") + node_text(*replaced[i]);
  if (replaced.size() > kListed) text += " and " + std::to_string(replaced.size() - kListed) + " more";
  return text;
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

std::optional<std::vector<int64_t>> unsqueeze_axes(const Graph& graph, const Node& unsqueeze) {
  if (unsqueeze.inputs.size() < 2) return unsqueeze.attr_ints("axes");
  const Tensor* a = constant_tensor(graph, unsqueeze.inputs[1]);
  if (a == nullptr || a->dtype() != DType::kInt64) return std::nullopt;
  return std::vector<int64_t>(a->data<int64_t>(), a->data<int64_t>() + a->element_count());
}

bool reduce_mean_over_last_axis(const Graph& graph, const Node& mean) {
  if (!is_onnx_op(mean, "ReduceMean") || mean.attr_int("keepdims", 1) != 1) return false;
  std::vector<int64_t> axes = mean.attr_ints("axes");
  // The axes input exists from opset 18 (before, ReduceMean reads the attribute only).
  if (mean.opset >= 18 && mean.inputs.size() > 1 && !mean.inputs[1].empty()) {
    const Tensor* t = constant_tensor(graph, mean.inputs[1]);
    if (t == nullptr || t->dtype() != DType::kInt64) return false;
    axes.assign(t->data<int64_t>(), t->data<int64_t>() + t->element_count());
  }
  const TypeInfo* type = graph.find_type(mean.inputs[0]);
  if (type == nullptr || !type->is_tensor() || type->elem_type != DType::kFloat || !type->shape) return false;
  const auto rank = static_cast<int64_t>(type->shape->size());
  return axes.size() == 1 && (axes[0] == -1 || axes[0] == rank - 1);
}

bool apply_replacements(Graph& graph, NodeReplacements& replacements, const std::vector<const Node*>& removed) {
  if (replacements.empty()) return false;
  for (auto& slot : graph.nodes) {
    for (auto& replacement : replacements) {
      if (slot.get() == replacement.first) slot = std::move(replacement.second);
    }
  }
  std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
    return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
  });
  return true;
}

int32_t QParams::zp_at(int64_t i) const {
  if (zp_t == nullptr) return 0;
  const int64_t k = zp_t->element_count() == 1 ? 0 : i;
  switch (zp_t->dtype()) {
    case DType::kInt8:
      return zp_t->data<int8_t>()[k];
    case DType::kUint8:
      return zp_t->data<uint8_t>()[k];
    case DType::kInt32:
      return zp_t->data<int32_t>()[k];
    default:
      return 0;
  }
}

std::optional<QParams> quant_params(const Graph& graph, const Node& node, bool zero_scale_ok) {
  if (node.inputs.size() < 2 || node.outputs.size() != 1) return std::nullopt;
  if (node.attr_int("block_size", 0) != 0) return std::nullopt;
  QParams p;
  p.node = &node;
  p.scale = node.inputs[1];
  p.scale_t = fusion::constant_tensor(graph, p.scale);
  if (p.scale_t == nullptr || p.scale_t->dtype() != DType::kFloat || p.scale_t->element_count() == 0) {
    return std::nullopt;
  }
  if (!p.per_tensor() && (p.scale_t->rank() != 1 || node.opset < 13)) return std::nullopt;
  for (int64_t i = 0; i < p.count(); ++i) {
    const float s = p.scale_t->data<float>()[i];
    if (!std::isfinite(s) || s < 0 || (s == 0 && !zero_scale_ok)) return std::nullopt;
  }
  if (node.has_input(2)) {
    p.zero_point = node.inputs[2];
    p.zp_t = fusion::constant_tensor(graph, p.zero_point);
    if (p.zp_t == nullptr || p.zp_t->element_count() != p.count()) return std::nullopt;
  }
  p.axis = node.attr_int("axis", 1);
  const int64_t output_dtype = node.attr_int("output_dtype", 0);
  if (output_dtype != 0) {
    const DType want =
        node.op_type == "QuantizeLinear" ? (p.zp_t ? p.zp_t->dtype() : DType::kUndefined) : DType::kFloat;
    if (static_cast<DType>(output_dtype) != want) return std::nullopt;
  }
  return p;
}

std::optional<QParams> dequantize_of(const Graph& graph, const GraphIndex& index, const std::string& value,
                                     bool zero_scale_ok) {
  const Node* dq = index.producer(value);
  if (dq == nullptr || !is_onnx_op(*dq, "DequantizeLinear")) return std::nullopt;
  return quant_params(graph, *dq, zero_scale_ok);
}

std::string fresh_name(const Graph& graph, const std::string& base) {
  std::string name = base;
  for (int k = 1; graph.defines(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

}  // namespace tessera::fusion

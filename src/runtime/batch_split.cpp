#include "runtime/batch_split.h"

#include <algorithm>
#include <set>
#include <unordered_set>

namespace tessera {
namespace {

// How an op treats the items of its batched inputs (see batch_split_symbol).
enum class Rule {
  kElementwise,  // any input batched or an initializer that does not broadcast along the batch
  kConv,         // X (0) and a residual Z (3) batched, the weights and bias initializers
  kFirstOnly,    // input 0 batched, every other input an initializer
  kAllBatched,   // every input batched (Concat)
};

struct OpRule {
  const char* domain;
  const char* op_type;
  Rule rule;
};

// The ops known to be item-wise, each with the attribute checks in op_keeps_items below.
constexpr OpRule kOps[] = {
    {kOnnxDomain, "Add", Rule::kElementwise},
    {kOnnxDomain, "Sub", Rule::kElementwise},
    {kOnnxDomain, "Mul", Rule::kElementwise},
    {kOnnxDomain, "Div", Rule::kElementwise},
    {kOnnxDomain, "Pow", Rule::kElementwise},
    {kOnnxDomain, "Max", Rule::kElementwise},
    {kOnnxDomain, "Min", Rule::kElementwise},
    {kOnnxDomain, "Sum", Rule::kElementwise},
    {kOnnxDomain, "Mean", Rule::kElementwise},
    {kOnnxDomain, "Relu", Rule::kElementwise},
    {kOnnxDomain, "LeakyRelu", Rule::kElementwise},
    {kOnnxDomain, "PRelu", Rule::kElementwise},
    {kOnnxDomain, "Elu", Rule::kElementwise},
    {kOnnxDomain, "Selu", Rule::kElementwise},
    {kOnnxDomain, "Sigmoid", Rule::kElementwise},
    {kOnnxDomain, "HardSigmoid", Rule::kElementwise},
    {kOnnxDomain, "HardSwish", Rule::kElementwise},
    {kOnnxDomain, "Tanh", Rule::kElementwise},
    {kOnnxDomain, "Exp", Rule::kElementwise},
    {kOnnxDomain, "Log", Rule::kElementwise},
    {kOnnxDomain, "Erf", Rule::kElementwise},
    {kOnnxDomain, "Neg", Rule::kElementwise},
    {kOnnxDomain, "Abs", Rule::kElementwise},
    {kOnnxDomain, "Sqrt", Rule::kElementwise},
    {kOnnxDomain, "Reciprocal", Rule::kElementwise},
    {kOnnxDomain, "Softplus", Rule::kElementwise},
    {kOnnxDomain, "Floor", Rule::kElementwise},
    {kOnnxDomain, "Ceil", Rule::kElementwise},
    {kOnnxDomain, "Identity", Rule::kElementwise},
    {kOnnxDomain, "Cast", Rule::kElementwise},
    {kOnnxDomain, "Clip", Rule::kElementwise},
    {kOnnxDomain, "Conv", Rule::kConv},
    {kOnnxDomain, "ConvTranspose", Rule::kConv},
    {kMicrosoftDomain, "FusedConv", Rule::kConv},
    {kTesseraDomain, "NhwcConv", Rule::kConv},
    {kOnnxDomain, "BatchNormalization", Rule::kFirstOnly},
    {kOnnxDomain, "InstanceNormalization", Rule::kFirstOnly},
    {kOnnxDomain, "LRN", Rule::kFirstOnly},
    {kOnnxDomain, "MaxPool", Rule::kFirstOnly},
    {kOnnxDomain, "AveragePool", Rule::kFirstOnly},
    {kOnnxDomain, "LpPool", Rule::kFirstOnly},
    {kOnnxDomain, "GlobalAveragePool", Rule::kFirstOnly},
    {kOnnxDomain, "GlobalMaxPool", Rule::kFirstOnly},
    {kTesseraDomain, "NhwcGlobalAveragePool", Rule::kFirstOnly},
    {kOnnxDomain, "Flatten", Rule::kFirstOnly},
    {kOnnxDomain, "Gemm", Rule::kFirstOnly},
    {kOnnxDomain, "MatMul", Rule::kFirstOnly},
    {kOnnxDomain, "Reshape", Rule::kFirstOnly},
    {kOnnxDomain, "Transpose", Rule::kFirstOnly},
    {kOnnxDomain, "Softmax", Rule::kFirstOnly},
    {kOnnxDomain, "LogSoftmax", Rule::kFirstOnly},
    {kOnnxDomain, "Concat", Rule::kAllBatched},
};

const OpRule* find_rule(const Node& node) {
  for (const OpRule& r : kOps) {
    if (node.op_type == r.op_type && node.domain == r.domain) return &r;
  }
  return nullptr;
}

// The rank of `name`'s inferred tensor type, or -1.
int64_t rank_of(const Graph& graph, const std::string& name) {
  const TypeInfo* type = graph.find_type(name);
  return type != nullptr && type->kind == TypeInfo::Kind::kTensor && type->shape
             ? static_cast<int64_t>(type->shape->size())
             : -1;
}

// Whether the node's axis attribute (default `fallback`) names an axis other than the batch's for an input of rank
// `rank` (-1: unknown, when only a non-negative axis can be judged).
bool axis_is_not_batch(const Node& node, int64_t fallback, int64_t rank) {
  const int64_t axis = node.attr_int("axis", fallback);
  if (axis > 0) return true;
  if (axis == 0 || rank < 0) return false;
  return axis + rank > 0;
}

// The op-specific checks: attributes that keep the first dimension as the item index, and outputs that do not mix
// items (MaxPool's indices count across the whole tensor; BatchNormalization's training outputs are batch means).
bool op_keeps_items(const Graph& graph, const Node& node, std::string* why) {
  const std::string& op = node.op_type;
  const int64_t rank = node.inputs.empty() ? -1 : rank_of(graph, node.inputs[0]);
  const auto only_first_output = [&] {
    for (size_t i = 1; i < node.outputs.size(); ++i)
      if (!node.outputs[i].empty()) return false;
    return true;
  };
  bool ok = true;
  if (op == "MaxPool") {
    ok = only_first_output();
  } else if (op == "BatchNormalization") {
    ok = only_first_output() && node.attr_int("training_mode", 0) == 0;  // training mode: the batch's statistics
  } else if (op == "Cast") {
    ok = node.attr_int("to", 0) != static_cast<int64_t>(DType::kString);  // split runs join numeric outputs only
  } else if (op == "Flatten") {
    ok = axis_is_not_batch(node, 1, rank);
  } else if (op == "Softmax" || op == "LogSoftmax") {
    ok = axis_is_not_batch(node, node.opset >= 13 ? -1 : 1, rank);
  } else if (op == "Concat") {
    ok = axis_is_not_batch(node, 0, rank);
  } else if (op == "Gemm") {
    // C, when present, of one row at most (a [batch, n] constant would give each item its own row).
    const int64_t c_rank = node.inputs.size() > 2 && !node.inputs[2].empty() ? rank_of(graph, node.inputs[2]) : 0;
    const bool c_one_row = c_rank <= 1 || (c_rank == 2 && graph.initializers.at(node.inputs[2]).dim(0) == 1);
    ok = node.attr_int("transA", 0) == 0 && c_one_row;
  } else if (op == "MatMul") {
    // B constant and not broadcast along A's leading (batch) dimension.
    const int64_t b_rank = node.inputs.size() > 1 ? rank_of(graph, node.inputs[1]) : -1;
    ok = rank >= 2 && b_rank >= 1 && b_rank <= 2;
  } else if (op == "Transpose") {
    const std::vector<int64_t> perm = node.attr_ints("perm");
    ok = !perm.empty() && perm[0] == 0;
  } else if (op == "Reshape") {
    // The target's first entry 0 (copy the batch dimension), without allowzero.
    auto it = node.inputs.size() > 1 ? graph.initializers.find(node.inputs[1]) : graph.initializers.end();
    ok = node.attr_int("allowzero", 0) == 0 && it != graph.initializers.end() && it->second.dtype() == DType::kInt64 &&
         it->second.element_count() >= 1 && it->second.data<int64_t>()[0] == 0;
  }
  if (!ok && why != nullptr) *why = node.label() + ": its attributes or outputs combine items of the batch";
  return ok;
}

// Whether initializer `name`, an input of an element-wise node whose batched inputs have rank `rank`, cannot vary
// along the batch: of lower rank, or of size 1 in the batch's dimension.
bool constant_does_not_broadcast(const Graph& graph, const std::string& name, int64_t rank) {
  const Tensor& t = graph.initializers.at(name);
  if (rank < 0) return t.rank() == 0;
  if (static_cast<int64_t>(t.rank()) < rank) return true;
  return static_cast<int64_t>(t.rank()) == rank && t.dim(0) == 1;
}

}  // namespace

std::string batch_split_symbol(const Graph& graph, std::string* why_not) {
  std::string why;
  const auto refuse = [&](std::string reason) {
    if (why_not != nullptr) *why_not = std::move(reason);
    return std::string{};
  };
  std::string symbol;
  std::unordered_set<std::string> batched;
  for (const ValueInfo& input : graph.inputs) {
    if (graph.initializers.count(input.name) != 0) continue;  // overridable: a constant for every item
    const TypeInfo& type = input.type;
    if (type.kind != TypeInfo::Kind::kTensor || !type.shape || type.shape->empty() ||
        type.elem_type == DType::kString || (*type.shape)[0].symbol.empty()) {
      return refuse("input '" + input.name + "' (" + type.to_string() + ") has no symbolic first dimension");
    }
    const std::string& first = (*type.shape)[0].symbol;
    if (!symbol.empty() && first != symbol) {
      return refuse("inputs disagree on the batch dimension ('" + symbol + "', '" + first + "')");
    }
    symbol = first;
    batched.insert(input.name);
  }
  if (symbol.empty()) return refuse("the graph has no inputs");
  for (const auto& owned : graph.nodes) {
    const Node& node = *owned;
    for (const auto& [key, attribute] : node.attributes) {
      if (attribute.g || !attribute.graphs.empty()) return refuse(node.label() + " holds a subgraph");
    }
    const OpRule* rule = find_rule(node);
    if (rule == nullptr) return refuse(node.label() + " is not known to keep the items of a batch apart");
    int64_t batched_rank = -1;
    std::set<int64_t> batched_ranks;  // element-wise broadcasting aligns trailing dimensions: ranks must agree
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      if (in.empty()) continue;
      const bool constant = graph.initializers.count(in) != 0;
      const bool item_wise = batched.count(in) != 0;
      if (!constant && !item_wise) return refuse(node.label() + ": input '" + in + "' is not computed item by item");
      const bool may_be_batched = rule->rule == Rule::kElementwise || rule->rule == Rule::kAllBatched || i == 0 ||
                                  (rule->rule == Rule::kConv && i == 3);
      const bool must_be_batched = rule->rule == Rule::kAllBatched || i == 0;
      if ((item_wise && !may_be_batched) || (constant && must_be_batched)) {
        return refuse(node.label() + ": input '" + in + "' in a position that would mix items");
      }
      if (item_wise) {
        batched_rank = std::max(batched_rank, rank_of(graph, in));
        batched_ranks.insert(rank_of(graph, in));
      }
    }
    if (batched_ranks.size() > 1 || batched_ranks.count(-1) != 0) {
      return refuse(node.label() + ": its batched inputs' ranks are unknown or differ");
    }
    if (rule->rule == Rule::kElementwise) {
      for (const std::string& in : node.inputs) {
        if (!in.empty() && graph.initializers.count(in) != 0 && !constant_does_not_broadcast(graph, in, batched_rank)) {
          return refuse(node.label() + ": constant '" + in + "' may broadcast along the batch");
        }
      }
      if (batched_rank < 0 && std::none_of(node.inputs.begin(), node.inputs.end(),
                                           [&](const std::string& in) { return batched.count(in) != 0; })) {
        return refuse(node.label() + " reads no batched input");
      }
    }
    if (!op_keeps_items(graph, node, &why)) return refuse(why);
    for (const std::string& out : node.outputs) {
      if (!out.empty()) batched.insert(out);
    }
  }
  for (const ValueInfo& output : graph.outputs) {
    if (batched.count(output.name) == 0) return refuse("output '" + output.name + "' is not computed item by item");
  }
  return symbol;
}

namespace {

// Elements of one item of `name` (every dimension past the first known), or -1.
double item_elements(const Graph& graph, const std::string& name) {
  const TypeInfo* type = graph.find_type(name);
  if (type == nullptr || type->kind != TypeInfo::Kind::kTensor || !type->shape || type->shape->empty()) return -1;
  double elements = 1;
  for (size_t i = 1; i < type->shape->size(); ++i) {
    const Dim& d = (*type->shape)[i];
    if (!d.is_known()) return -1;
    elements *= static_cast<double>(d.value);
  }
  return elements;
}

}  // namespace

BatchItemCost batch_item_cost(const Graph& graph) {
  double multiply_adds = 0, bytes = 0;
  for (const auto& owned : graph.nodes) {
    const Node& node = *owned;
    const TypeInfo* out_type = node.outputs.empty() ? nullptr : graph.find_type(node.outputs[0]);
    const double out = node.outputs.empty() ? -1 : item_elements(graph, node.outputs[0]);
    if (out > 0 && out_type != nullptr) bytes += out * static_cast<double>(dtype_size(out_type->elem_type));
    if (out <= 0 || node.inputs.size() < 2) continue;
    const auto weights = graph.initializers.find(node.inputs[1]);
    if (weights == graph.initializers.end() || !weights->second.defined() || weights->second.rank() < 2) continue;
    const Tensor& w = weights->second;
    const bool conv = (node.op_type == "Conv" && node.domain == kOnnxDomain) ||
                      (node.op_type == "FusedConv" && node.domain == kMicrosoftDomain) ||
                      (node.op_type == "NhwcConv" && node.domain == kTesseraDomain);
    if (conv) {
      // W is [M, C / group, kernel...]: each output element takes the rest of its row.
      multiply_adds += out * static_cast<double>(w.element_count() / w.dim(0));
    } else if ((node.op_type == "Gemm" || node.op_type == "MatMul") && node.domain == kOnnxDomain) {
      const bool trans_b = node.op_type == "Gemm" && node.attr_int("transB", 0) != 0;
      multiply_adds += out * static_cast<double>(trans_b ? w.dim(w.rank() - 1) : w.dim(w.rank() - 2));
    }
  }
  return {multiply_adds, bytes};
}

}  // namespace tessera

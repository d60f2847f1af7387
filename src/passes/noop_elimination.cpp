// No-op elimination (basic level): nodes that provably return their input unchanged become Identity, which
// identity_elimination then removes; a Reshape of a Reshape reads the original.
//   Cast to the input's own element type                      -> Identity
//   Reshape / Expand whose constant target gives the input's own static shape -> Identity
//   Pad with constant all-zero pads                           -> Identity
//   Slice (opset 10+) whose constant starts/ends/axes/steps keep every element of a static-shaped input -> Identity
//   Reshape(Reshape(x, s1), s2), s2 constant without 0 entries -> Reshape(x, s2)
//   Cast(Cast(x, T1), T2) where T1 holds every value of x's type exactly -> Cast(x, T2) (and Identity when T2 is
//   x's own type: float -> double -> float, int32 -> int64 -> int32)
// Types come from shape inference run at the start of the pass.
#include <algorithm>
#include <unordered_map>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

std::optional<std::vector<int64_t>> static_shape(const Graph& graph, const std::string& value) {
  const TypeInfo* t = graph.find_type(value);
  if (t == nullptr || !t->is_tensor() || !t->has_static_shape()) return std::nullopt;
  return t->static_shape();
}

std::optional<std::vector<int64_t>> int64_constant(const Graph& graph, const std::string& value) {
  const Tensor* t = fusion::constant_tensor(graph, value);
  if (t == nullptr || t->dtype() != DType::kInt64 || t->rank() != 1) return std::nullopt;
  return std::vector<int64_t>(t->data<int64_t>(), t->data<int64_t>() + t->element_count());
}

class NoopElimination final : public GraphPass {
 public:
  std::string name() const override { return "noop_elimination"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    fusion::infer_types(graph);
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    bool changed = false;
    for (auto& slot : graph.nodes) {
      Node& node = *slot;
      if (!node.domain.empty() || node.inputs.empty() || node.outputs.size() != 1) continue;
      if (is_identity(graph, node)) {
        note("Identity '" + node.name + "' <- " + fusion::node_text(node));
        node.op_type = "Identity";
        node.inputs.resize(1);
        node.attributes.clear();
        changed = true;
        continue;
      }
      if (node.op_type == "Cast" && shorten_cast_chain(graph, node, reads, producer)) {
        changed = true;
        continue;
      }
      // Reshape of a Reshape: the inner one's target does not matter when the outer copies no dims (no 0).
      if (node.op_type == "Reshape" && node.inputs.size() == 2 && node.attr_int("allowzero", 0) == 0) {
        auto p = producer.find(node.inputs[0]);
        auto r = reads.find(node.inputs[0]);
        const std::optional<std::vector<int64_t>> target = int64_constant(graph, node.inputs[1]);
        if (p == producer.end() || !is_onnx_op(*p->second, "Reshape") || r == reads.end() || r->second != 1 ||
            !target || std::find(target->begin(), target->end(), 0) != target->end()) {
          continue;
        }
        note(fusion::node_text(node) + " <- " + fusion::node_text(*p->second) + ", " + fusion::node_text(node));
        node.inputs[0] = p->second->inputs[0];
        changed = true;
      }
    }
    return changed;
  }

 private:
  static bool is_identity(const Graph& graph, const Node& node) {
    const std::string& x = node.inputs[0];
    if (node.op_type == "Cast") {
      const TypeInfo* t = graph.find_type(x);
      return t != nullptr && t->is_tensor() && t->elem_type != DType::kUndefined &&
             node.attr_int("to", -1) == static_cast<int64_t>(t->elem_type) && node.attr_int("saturate", 1) == 1;
    }
    if ((node.op_type == "Reshape" || node.op_type == "Expand") && node.inputs.size() == 2) {
      const std::optional<std::vector<int64_t>> shape = static_shape(graph, x);
      const std::optional<std::vector<int64_t>> target = int64_constant(graph, node.inputs[1]);
      if (!shape || !target) return false;
      if (node.op_type == "Reshape") {
        return *shape == *target && node.attr_int("allowzero", 0) == 0 &&
               std::find(target->begin(), target->end(), -1) == target->end();
      }
      // Expand keeps x's shape when the target broadcasts into it without growing any dim.
      if (target->size() > shape->size()) return false;
      for (size_t i = 0; i < target->size(); ++i) {
        const int64_t t = (*target)[i], s = (*shape)[shape->size() - target->size() + i];
        if (t != 1 && t != s) return false;
      }
      return true;
    }
    if (node.op_type == "Slice" && node.opset >= 10 && node.inputs.size() >= 3) return is_full_slice(graph, node);
    if (node.op_type == "Pad" && node.opset >= 11 && node.inputs.size() >= 2) {
      const std::optional<std::vector<int64_t>> pads = int64_constant(graph, node.inputs[1]);
      return pads && std::all_of(pads->begin(), pads->end(), [](int64_t p) { return p == 0; });
    }
    return false;
  }

  // A Slice whose every sliced axis runs from its first element past its last with step 1.
  static bool is_full_slice(const Graph& graph, const Node& node) {
    const std::optional<std::vector<int64_t>> shape = static_shape(graph, node.inputs[0]);
    const std::optional<std::vector<int64_t>> starts = int64_constant(graph, node.inputs[1]);
    const std::optional<std::vector<int64_t>> ends = int64_constant(graph, node.inputs[2]);
    if (!shape || !starts || !ends || starts->size() != ends->size()) return false;
    const auto optional_input = [&](size_t i) -> std::optional<std::vector<int64_t>> {
      if (node.inputs.size() <= i || node.inputs[i].empty()) return std::vector<int64_t>{};
      return int64_constant(graph, node.inputs[i]);
    };
    const std::optional<std::vector<int64_t>> axes = optional_input(3), steps = optional_input(4);
    if (!axes || !steps || (!axes->empty() && axes->size() != starts->size()) ||
        (!steps->empty() && steps->size() != starts->size())) {
      return false;
    }
    const auto rank = static_cast<int64_t>(shape->size());
    for (size_t i = 0; i < starts->size(); ++i) {
      int64_t axis = axes->empty() ? static_cast<int64_t>(i) : (*axes)[i];
      if (axis < 0) axis += rank;
      if (axis < 0 || axis >= rank) return false;
      const int64_t dim = (*shape)[static_cast<size_t>(axis)];
      const int64_t start = (*starts)[i], end = (*ends)[i];
      const bool keeps_all = (start == 0 || start <= -dim) && end >= dim;
      if ((!steps->empty() && (*steps)[i] != 1) || !keeps_all) return false;
    }
    return true;
  }

  // Cast(Cast(x, T1), T2) -> Cast(x, T2) when the inner Cast is read only here and T1 holds every value of x's
  // type exactly (then converting through T1 changes nothing); Identity when T2 is x's own type.
  bool shorten_cast_chain(const Graph& graph, Node& node, const std::unordered_map<std::string, int>& reads,
                          const std::unordered_map<std::string, Node*>& producer) {
    auto p = producer.find(node.inputs[0]);
    auto r = reads.find(node.inputs[0]);
    if (p == producer.end() || !is_onnx_op(*p->second, "Cast") || r == reads.end() || r->second != 1) return false;
    const Node& inner = *p->second;
    const TypeInfo* source = graph.find_type(inner.inputs[0]);
    if (source == nullptr || !source->is_tensor()) return false;
    const auto middle = static_cast<DType>(inner.attr_int("to", 0));
    if (!is_exact_widening(source->elem_type, middle)) return false;
    note(fusion::node_text(node) + " <- " + fusion::node_text(inner) + ", " + fusion::node_text(node));
    node.inputs[0] = inner.inputs[0];
    if (node.attr_int("to", -1) == static_cast<int64_t>(source->elem_type) && node.attr_int("saturate", 1) == 1) {
      node.op_type = "Identity";
      node.attributes.clear();
    }
    return true;
  }

  // True when every value of `from` converts to `to` exactly and back: integers into integers of a wider range,
  // small integers into floats whose significand holds them, floats into wider floats, bool into any number.
  static bool is_exact_widening(DType from, DType to) {
    if (from == to) return true;
    struct Range {
      DType type;
      int bits;  // value bits: significand bits for floats
      bool is_signed, is_float;
    };
    static const Range kRanges[] = {
        {DType::kBool, 1, false, false},    {DType::kUint8, 8, false, false},   {DType::kInt8, 8, true, false},
        {DType::kUint16, 16, false, false}, {DType::kInt16, 16, true, false},   {DType::kUint32, 32, false, false},
        {DType::kInt32, 32, true, false},   {DType::kUint64, 64, false, false}, {DType::kInt64, 64, true, false},
        {DType::kFloat16, 11, true, true},  {DType::kBFloat16, 8, true, true},  {DType::kFloat, 24, true, true},
        {DType::kDouble, 53, true, true}};
    const Range* a = nullptr;
    const Range* b = nullptr;
    for (const Range& range : kRanges) {
      if (range.type == from) a = &range;
      if (range.type == to) b = &range;
    }
    if (a == nullptr || b == nullptr) return false;
    if (a->type == DType::kBool) return true;
    if (a->is_float) {
      // float16 and bfloat16 both fit float (and double) exactly, not each other.
      return b->is_float && b->bits > a->bits && !(a->type == DType::kFloat16 && b->type == DType::kBFloat16);
    }
    if (b->is_float) return b->bits >= a->bits;  // every integer of a's bits is a float of that significand
    if (a->is_signed && !b->is_signed) return false;
    return b->bits > a->bits || (b->bits == a->bits && a->is_signed == b->is_signed);
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_noop_elimination() { return std::make_unique<NoopElimination>(); }

}  // namespace tessera

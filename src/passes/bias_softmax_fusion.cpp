// The softmax-with-mask pattern: Softmax(Add(x, mask)) over the last axis, the Add read only by the Softmax, x
// float32 and mask a broadcast of whole softmax rows -> com.microsoft BiasSoftmax (ONNX Runtime's contrib op), one
// pass per row: the add, then the same vectorised softmax the Softmax kernel runs (bit-identical outputs). The
// mask's row dims (all but the last, left-padded with 1s to x's rank) must be x's leading dims followed by 1s
// (is_inner_broadcast = 1: a [B, 1, 1, S] padding mask on [B, N, S, S] scores) or 1s followed by x's trailing dims
// (is_inner_broadcast = 0: a [1, 1, S, S] causal mask); its last dim the softmax size. What attention_fusion
// leaves: attention whose shape it does not match, or masked softmaxes elsewhere.
#include <algorithm>
#include <optional>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using fusion::is_onnx_op;

// Known dims agree, or the same symbol.
bool same_dim(const Dim& a, const Dim& b) { return a.is_known() ? a.value == b.value : (!a.symbol.empty() && a == b); }
bool is_one(const Dim& d) { return d.is_known() && d.value == 1; }

// is_inner_broadcast for a mask of dims `m` (left-padded to x's rank) on x's dims, or nullopt when BiasSoftmax
// cannot index it.
std::optional<bool> broadcast_form(const std::vector<Dim>& x, const std::vector<Dim>& m) {
  const size_t rows = x.size() - 1;
  if (!same_dim(m[rows], x[rows])) return std::nullopt;
  // Inner: x's leading dims, then 1s.
  size_t k = 0;
  while (k < rows && same_dim(m[k], x[k]) && !is_one(m[k])) ++k;
  bool inner = true;
  for (size_t i = k; i < rows; ++i) inner = inner && is_one(m[i]);
  if (inner) return true;
  // Outer: 1s, then x's trailing dims.
  k = 0;
  while (k < rows && is_one(m[k])) ++k;
  bool outer = true;
  for (size_t i = k; i < rows; ++i) outer = outer && same_dim(m[i], x[i]);
  if (outer) return false;
  return std::nullopt;
}

class BiasSoftmaxFusion final : public GraphPass {
 public:
  std::string name() const override { return "bias_softmax_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "Softmax")) return false;
    fusion::infer_types(graph);
    const fusion::GraphIndex index(graph);
    bool changed = false;
    std::vector<const Node*> removed;
    for (const auto& node : graph.nodes) {
      Node& softmax = *node;
      if (!is_onnx_op(softmax, "Softmax") || softmax.inputs.empty()) continue;
      Node* add = index.private_producer(softmax.inputs[0]);
      if (add == nullptr || !is_onnx_op(*add, "Add") || add->inputs.size() != 2) continue;
      const std::vector<Dim>* y = fusion::float_shape(graph, add->outputs[0]);
      if (y == nullptr || y->size() < 2) continue;
      const int64_t rank = static_cast<int64_t>(y->size());
      int64_t axis = softmax.attr_int("axis", softmax.opset < 13 ? 1 : -1);
      if (axis < 0) axis += rank;
      if (axis != rank - 1) continue;
      // Which operand is x (the Add's own shape) and which the mask.
      for (int side = 0; side < 2; ++side) {
        const std::vector<Dim>* x = fusion::float_shape(graph, add->inputs[side]);
        const std::vector<Dim>* m = fusion::float_shape(graph, add->inputs[1 - side]);
        if (x == nullptr || m == nullptr || x->size() != y->size() || m->size() > x->size()) continue;
        bool x_full = true;
        for (size_t i = 0; i < x->size(); ++i) x_full = x_full && same_dim((*x)[i], (*y)[i]);
        if (!x_full) continue;
        std::vector<Dim> padded(x->size() - m->size(), Dim::known(1));
        padded.insert(padded.end(), m->begin(), m->end());
        const std::optional<bool> inner = broadcast_form(*x, padded);
        if (!inner) continue;
        const std::string data = add->inputs[side], mask = add->inputs[1 - side];
        note("com.microsoft.BiasSoftmax '" + softmax.name + "' <- " + fusion::node_text(*add) + ", " +
             fusion::node_text(softmax));
        softmax.domain = kMicrosoftDomain;
        softmax.op_type = "BiasSoftmax";
        softmax.opset = 1;
        softmax.inputs = {data, mask};
        softmax.attributes.clear();
        softmax.set_attr_int("axis", rank - 1);
        softmax.set_attr_int("is_inner_broadcast", *inner ? 1 : 0);
        removed.push_back(add);
        changed = true;
        break;
      }
    }
    if (!removed.empty()) {
      std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
        return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
      });
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_bias_softmax_fusion() { return std::make_unique<BiasSoftmaxFusion>(); }

}  // namespace tessera

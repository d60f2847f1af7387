// Reshape shape folding: the target shape exporters assemble at run time for a Reshape,
//   Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), Unsqueeze(Gather(Shape(x), 1)), [12], [64]))
// becomes a constant shape: a piece that copies dim p of x into position p becomes 0 ("keep this dim", as
// Reshape with allowzero = 0 defines it), a piece naming a dim that type inference knows becomes its value,
// constants stay. Applies only when every piece resolves; the Shape/Gather/Unsqueeze/Concat chain is then
// left to dead-code elimination. Types come from shape inference run at the start of the pass.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

class ReshapeShapeFolding final : public GraphPass {
 public:
  std::string name() const override { return "reshape_shape_folding"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    graph_ = &graph;
    producer_ = fusion::producers(graph);
    bool inferred = false;
    bool changed = false;
    for (const auto& slot : graph.nodes) {
      Node& reshape = *slot;
      if (!is_onnx_op(reshape, "Reshape") || reshape.inputs.size() != 2 || reshape.attr_int("allowzero", 0) != 0)
        continue;
      const Node* concat = producer(reshape.inputs[1]);
      if (concat == nullptr || !is_onnx_op(*concat, "Concat") || concat->attr_int("axis", 0) != 0) continue;
      if (!inferred) {
        fusion::infer_types(graph);
        inferred = true;
      }
      std::vector<int64_t> target;
      bool resolved = true;
      for (const std::string& piece : concat->inputs) {
        resolved = append_piece(piece, reshape.inputs[0], target);
        if (!resolved) break;
      }
      if (!resolved) continue;
      const std::string name = unique_name(reshape.outputs[0] + "_folded_shape");
      graph.initializers[name] = Tensor::from_vector<int64_t>(DType::kInt64, target);
      reshape.inputs[1] = name;
      changed = true;
    }
    return changed;
  }

 private:
  const Node* producer(const std::string& value) const {
    auto p = producer_.find(value);
    return p == producer_.end() ? nullptr : p->second;
  }

  std::string unique_name(const std::string& base) const {
    std::string name = base;
    for (int k = 1; graph_->defines(name); ++k) name = base + "_" + std::to_string(k);
    return name;
  }

  // Appends the dims `piece` stands for to `target`; false when it cannot be resolved statically.
  bool append_piece(const std::string& piece, const std::string& data, std::vector<int64_t>& target) const {
    if (const Tensor* t = fusion::constant_tensor(*graph_, piece)) {
      if (t->dtype() != DType::kInt64 || t->rank() != 1) return false;
      target.insert(target.end(), t->data<int64_t>(), t->data<int64_t>() + t->element_count());
      return true;
    }
    // One dim of some value: Unsqueeze(Gather(Shape(v), k), [0]) or Gather(Shape(v), [k]).
    const Node* node = producer(piece);
    if (node == nullptr) return false;
    std::string gathered;
    if (is_onnx_op(*node, "Unsqueeze")) {
      if (fusion::unsqueeze_axes(*graph_, *node) != std::vector<int64_t>{0}) return false;
      gathered = node->inputs[0];
      node = producer(gathered);
      if (node == nullptr || !is_onnx_op(*node, "Gather")) return false;
      const Tensor* index = fusion::constant_tensor(*graph_, node->inputs[1]);
      if (index == nullptr || index->rank() != 0) return false;
    } else if (is_onnx_op(*node, "Gather")) {
      const Tensor* index = fusion::constant_tensor(*graph_, node->inputs[1]);
      if (index == nullptr || index->rank() != 1 || index->element_count() != 1) return false;
    } else {
      return false;
    }
    if (node->inputs.size() != 2 || node->attr_int("axis", 0) != 0) return false;
    std::optional<int64_t> k = fusion::scalar_int_constant(*graph_, node->inputs[1]);
    const Node* shape = producer(node->inputs[0]);
    if (!k || shape == nullptr || !is_onnx_op(*shape, "Shape") || shape->inputs.size() != 1) return false;
    if (shape->has_attribute("start") || shape->has_attribute("end")) return false;
    const TypeInfo* type = graph_->find_type(shape->inputs[0]);
    if (type == nullptr || !type->is_tensor() || !type->shape) return false;
    const auto rank = static_cast<int64_t>(type->shape->size());
    const int64_t dim = *k < 0 ? *k + rank : *k;
    if (dim < 0 || dim >= rank) return false;
    const auto position = static_cast<int64_t>(target.size());
    if (shape->inputs[0] == data && dim == position) {
      target.push_back(0);
      return true;
    }
    const Dim& d = (*type->shape)[static_cast<size_t>(dim)];
    if (!d.is_known() || d.value == 0) return false;
    target.push_back(d.value);
    return true;
  }

  Graph* graph_ = nullptr;
  std::unordered_map<std::string, Node*> producer_;
};

}  // namespace

std::unique_ptr<GraphPass> make_reshape_shape_folding() { return std::make_unique<ReshapeShapeFolding>(); }

}  // namespace tessera

// Shape folding: the dims a model computes from Shape nodes become constants where type inference knows them.
//   Shape(x)                 -> initializer, when every dim of x it returns is static
//   Gather(Shape(x), k)      -> initializer, when the dims it picks are static (the others may be symbolic:
//                               Shape(input_ids)[1] is 128 even when dim 0 is `batch`)
// Constant folding then folds the Unsqueeze/Concat/Slice chains exporters build on them. Shape's start/end
// (opset 15) are honoured. Types come from shape inference run at the start of the pass.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// The dims of x that Shape(x) returns, [start, end) clamped as the spec says; nullopt when x's rank is unknown.
std::optional<std::vector<Dim>> shape_output_dims(const Graph& graph, const Node& shape) {
  const TypeInfo* type = graph.find_type(shape.inputs[0]);
  if (type == nullptr || !type->is_tensor() || !type->shape) return std::nullopt;
  const auto rank = static_cast<int64_t>(type->shape->size());
  auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  const int64_t start = clamp(shape.attr_int("start", 0));
  const int64_t end = clamp(shape.attr_int("end", rank));
  if (end <= start) return std::vector<Dim>{};
  return std::vector<Dim>(type->shape->begin() + start, type->shape->begin() + end);
}

class ShapeFolding final : public GraphPass {
 public:
  std::string name() const override { return "shape_folding"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    const bool has_shape = std::any_of(graph.nodes.begin(), graph.nodes.end(),
                                       [](const auto& n) { return is_onnx_op(*n, "Shape") && n->inputs.size() == 1; });
    if (!has_shape) return false;
    fusion::infer_types(graph);
    std::unordered_map<std::string, std::vector<Dim>> shape_values;  // Shape output -> the dims it holds
    std::vector<const Node*> folded;
    for (const auto& slot : graph.nodes) {
      const Node& node = *slot;
      if (is_onnx_op(node, "Shape") && node.inputs.size() == 1 && node.outputs.size() == 1) {
        std::optional<std::vector<Dim>> dims = shape_output_dims(graph, node);
        if (!dims) continue;
        if (fold_if_static(graph, node.outputs[0], *dims, {static_cast<int64_t>(dims->size())}))
          folded.push_back(&node);
        else
          shape_values[node.outputs[0]] = *dims;
      } else if (is_onnx_op(node, "Gather") && node.inputs.size() == 2 && node.outputs.size() == 1 &&
                 node.attr_int("axis", 0) == 0) {
        auto source = shape_values.find(node.inputs[0]);
        const Tensor* indices = fusion::constant_tensor(graph, node.inputs[1]);
        if (source == shape_values.end() || indices == nullptr || indices->element_count() > 64) continue;
        std::vector<Dim> picked;
        const auto count = static_cast<int64_t>(source->second.size());
        bool valid = true;
        for (int64_t i = 0; i < indices->element_count() && valid; ++i) {
          int64_t k = indices->dtype() == DType::kInt64   ? indices->data<int64_t>()[i]
                      : indices->dtype() == DType::kInt32 ? indices->data<int32_t>()[i]
                                                          : count;
          if (k < 0) k += count;
          valid = k >= 0 && k < count;
          if (valid) picked.push_back(source->second[static_cast<size_t>(k)]);
        }
        if (valid && fold_if_static(graph, node.outputs[0], picked, indices->shape())) folded.push_back(&node);
      }
    }
    if (folded.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(folded.begin(), folded.end(), n.get()) != folded.end();
    });
    return true;
  }

 private:
  // Makes `name` an int64 initializer of `shape` holding `dims` when all are known; false otherwise.
  static bool fold_if_static(Graph& graph, const std::string& name, const std::vector<Dim>& dims,
                             const std::vector<int64_t>& shape) {
    if (!std::all_of(dims.begin(), dims.end(), [](const Dim& d) { return d.is_known(); })) return false;
    for (const ValueInfo& out : graph.outputs)
      if (out.name == name) return false;
    Tensor value(DType::kInt64, shape);
    for (size_t i = 0; i < dims.size(); ++i) value.data<int64_t>()[i] = dims[i].value;
    graph.initializers[name] = std::move(value);
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_shape_folding() { return std::make_unique<ShapeFolding>(); }

}  // namespace tessera

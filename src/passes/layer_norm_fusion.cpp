// Fuses the decomposed layer normalization that exporters write below opset 17,
//   mean = ReduceMean(x, last axis); d = x - mean; var = ReduceMean(d * d | Pow(d, 2), last axis)
//   y = d / Sqrt(var + epsilon) [* gamma] [+ beta]
// into one LayerNormalization (axis -1, epsilon from the constant). Tessera serves LayerNormalization in ai.onnx at
// every opset (as ONNX Runtime does), so the fused model keeps the model's opset. Only over the last axis (axes
// [-1] or [rank - 1] with keepdims), with scalar float epsilon and 1-D float constant gamma/beta, and every
// intermediate read only inside the pattern.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

class LayerNormFusion final : public GraphPass {
 public:
  std::string name() const override { return "layer_norm_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "ReduceMean")) return false;
    graph_ = &graph;
    fusion::infer_types(graph);
    index_ = fusion::GraphIndex(graph);
    std::vector<const Node*> removed;
    fusion::NodeReplacements replacements;
    for (const auto& slot : graph.nodes) {
      const Node& div = *slot;
      if (!is_onnx_op(div, "Div") || std::find(removed.begin(), removed.end(), &div) != removed.end()) continue;
      std::vector<const Node*> nodes;
      std::unique_ptr<Node> fused = match(div, nodes);
      if (!fused) continue;
      // The fused node takes the slot of the pattern's last node (the Div, or the gamma Mul / beta Add after it),
      // once matching is done, so index_ never names a freed node (the next pattern reads this one's output).
      const Node* last = nodes.back();
      note(fusion::describe_fusion(*fused, nodes));
      for (const Node* n : nodes) {
        if (n != last) removed.push_back(n);
      }
      replacements.emplace_back(last, std::move(fused));
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }

 private:
  bool mean_over_last_axis(const Node& mean) const { return fusion::reduce_mean_over_last_axis(*graph_, mean); }

  // A 1-D float constant, or nullptr.
  const Tensor* vector_constant(const std::string& name) const {
    const Tensor* t = fusion::constant_tensor(*graph_, name);
    return t != nullptr && t->dtype() == DType::kFloat && t->rank() == 1 ? t : nullptr;
  }

  std::unique_ptr<Node> match(const Node& div, std::vector<const Node*>& nodes) const {
    // div = d / Sqrt(var + eps)
    const Node* sqrt = index_.producer(div.inputs[1]);
    if (sqrt == nullptr || !is_onnx_op(*sqrt, "Sqrt") || index_.reads(div.inputs[1]) != 1) return nullptr;
    const Node* add_eps = index_.producer(sqrt->inputs[0]);
    if (add_eps == nullptr || !is_onnx_op(*add_eps, "Add") || index_.reads(sqrt->inputs[0]) != 1) return nullptr;
    std::optional<float> epsilon;
    std::string var_name;
    for (int side = 0; side < 2 && !epsilon; ++side) {
      epsilon = fusion::scalar_float_constant(*graph_, add_eps->inputs[side]);
      var_name = add_eps->inputs[1 - side];
    }
    if (!epsilon) return nullptr;
    const Node* var = index_.producer(var_name);
    if (var == nullptr || !mean_over_last_axis(*var) || index_.reads(var_name) != 1) return nullptr;
    const Node* square = index_.producer(var->inputs[0]);
    if (square == nullptr || index_.reads(var->inputs[0]) != 1) return nullptr;
    const std::string& d = div.inputs[0];
    const bool squares_d = (is_onnx_op(*square, "Mul") && square->inputs.size() == 2 && square->inputs[0] == d &&
                            square->inputs[1] == d) ||
                           (is_onnx_op(*square, "Pow") && square->inputs[0] == d &&
                            fusion::scalar_float_constant(*graph_, square->inputs[1]) == 2.0f);
    if (!squares_d) return nullptr;
    const Node* sub = index_.producer(d);
    // d is read by the square (once or twice) and by the Div, nothing else.
    const int d_reads_inside = (is_onnx_op(*square, "Mul") ? 2 : 1) + 1;
    if (sub == nullptr || !is_onnx_op(*sub, "Sub") || index_.reads(d) != d_reads_inside) return nullptr;
    const std::string& x = sub->inputs[0];
    const Node* mean = index_.producer(sub->inputs[1]);
    if (mean == nullptr || !mean_over_last_axis(*mean) || mean->inputs[0] != x || index_.reads(sub->inputs[1]) != 1)
      return nullptr;
    nodes = {mean, sub, square, var, add_eps, sqrt, &div};
    // Optional * gamma and + beta.
    std::string y = div.outputs[0], gamma, beta;
    const Tensor* hidden_type_check = nullptr;
    if (const Node* mul = index_.only_consumer(y);
        mul != nullptr && is_onnx_op(*mul, "Mul") && mul->inputs.size() == 2) {
      const std::string& other = mul->inputs[0] == y ? mul->inputs[1] : mul->inputs[0];
      if ((hidden_type_check = vector_constant(other)) != nullptr) {
        gamma = other;
        nodes.push_back(mul);
        y = mul->outputs[0];
      }
    }
    if (const Node* add = index_.only_consumer(y);
        !gamma.empty() && add != nullptr && is_onnx_op(*add, "Add") && add->inputs.size() == 2) {
      const std::string& other = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
      if (vector_constant(other) != nullptr) {
        beta = other;
        nodes.push_back(add);
        y = add->outputs[0];
      }
    }
    // LayerNormalization needs a Scale: without gamma the pattern stays (rare in exported models).
    if (gamma.empty()) return nullptr;
    const TypeInfo* x_type = graph_->find_type(x);
    const Dim& last = x_type->shape->back();
    if (!last.is_known() || hidden_type_check->dim(0) != last.value) return nullptr;
    if (!beta.empty() && vector_constant(beta)->dim(0) != last.value) return nullptr;
    auto node = std::make_unique<Node>();
    node->name = (div.name.empty() ? y : div.name) + "_layer_norm";
    node->op_type = "LayerNormalization";
    node->opset = div.opset;
    node->inputs = {x, gamma};
    if (!beta.empty()) node->inputs.push_back(beta);
    node->outputs = {y};
    node->set_attr_int("axis", -1);
    node->set_attr_float("epsilon", *epsilon);
    return node;
  }

  Graph* graph_ = nullptr;
  fusion::GraphIndex index_;
};

}  // namespace

std::unique_ptr<GraphPass> make_layer_norm_fusion() { return std::make_unique<LayerNormFusion>(); }

}  // namespace tessera

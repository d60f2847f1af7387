// Fuses the decomposed RMS normalization that PyTorch exports for LLaMA-style models (LlamaRMSNorm, T5LayerNorm),
//   var = ReduceMean(Pow(x, 2) | x * x, last axis); r = Sqrt(var + epsilon)
//   y = gamma * (x * Reciprocal(r) | x / r)
// into one SimplifiedLayerNormalization (ONNX Runtime's RMS norm; axis -1, epsilon from the constant; extended level,
// as ONNX Runtime's SimplifiedLayerNormFusion). Only over the last axis with keepdims, with a scalar float epsilon
// and a 1-D float constant gamma of the last dim's size, and every intermediate read only inside the pattern.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

class RmsNormFusion final : public GraphPass {
 public:
  std::string name() const override { return "rms_norm_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "ReduceMean")) return false;
    graph_ = &graph;
    fusion::infer_types(graph);
    index_ = fusion::GraphIndex(graph);
    std::vector<const Node*> removed;
    fusion::NodeReplacements replacements;
    for (const auto& slot : graph.nodes) {
      const Node& mul = *slot;
      if (!is_onnx_op(mul, "Mul") || mul.inputs.size() != 2) continue;
      std::vector<const Node*> nodes;
      std::unique_ptr<Node> fused = match(mul, nodes);
      if (!fused) continue;
      if (std::any_of(nodes.begin(), nodes.end(),
                      [&](const Node* n) { return std::find(removed.begin(), removed.end(), n) != removed.end(); })) {
        continue;
      }
      note(fusion::describe_fusion(*fused, nodes));
      for (const Node* n : nodes) {
        if (n != &mul) removed.push_back(n);
      }
      replacements.emplace_back(&mul, std::move(fused));
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }

 private:
  // The normalized value n = x * Reciprocal(Sqrt(var + eps)) or x / Sqrt(var + eps): x, epsilon and the nodes
  // (from the square to n's node), or false.
  bool normalized(const std::string& n, std::string& x, float& epsilon, std::vector<const Node*>& nodes) const {
    const Node* node = index_.private_producer(n);
    if (node == nullptr || node->inputs.size() != 2) return false;
    std::string root;  // the Sqrt's output
    const Node* reciprocal = nullptr;
    if (is_onnx_op(*node, "Div")) {
      x = node->inputs[0];
      root = node->inputs[1];
    } else if (is_onnx_op(*node, "Mul")) {
      for (int side = 0; side < 2 && reciprocal == nullptr; ++side) {
        const Node* r = index_.private_producer(node->inputs[side]);
        if (r != nullptr && is_onnx_op(*r, "Reciprocal")) {
          reciprocal = r;
          x = node->inputs[1 - side];
          root = r->inputs[0];
        }
      }
      if (reciprocal == nullptr) return false;
    } else {
      return false;
    }
    const Node* sqrt = index_.private_producer(root);
    if (sqrt == nullptr || !is_onnx_op(*sqrt, "Sqrt")) return false;
    const Node* add = index_.private_producer(sqrt->inputs[0]);
    if (add == nullptr || !is_onnx_op(*add, "Add") || add->inputs.size() != 2) return false;
    std::optional<float> eps;
    std::string var;
    for (int side = 0; side < 2 && !eps; ++side) {
      eps = fusion::scalar_float_constant(*graph_, add->inputs[side]);
      var = add->inputs[1 - side];
    }
    if (!eps) return false;
    const Node* mean = index_.private_producer(var);
    if (mean == nullptr || !fusion::reduce_mean_over_last_axis(*graph_, *mean)) return false;
    const Node* square = index_.private_producer(mean->inputs[0]);
    const bool squares_x = square != nullptr && ((is_onnx_op(*square, "Mul") && square->inputs.size() == 2 &&
                                                  square->inputs[0] == x && square->inputs[1] == x) ||
                                                 (is_onnx_op(*square, "Pow") && square->inputs[0] == x &&
                                                  fusion::scalar_float_constant(*graph_, square->inputs[1]) == 2.0f));
    if (!squares_x) return false;
    epsilon = *eps;
    nodes = {square, mean, add, sqrt};
    if (reciprocal != nullptr) nodes.push_back(reciprocal);
    nodes.push_back(node);
    return true;
  }

  std::unique_ptr<Node> match(const Node& mul, std::vector<const Node*>& nodes) const {
    for (int side = 0; side < 2; ++side) {
      const Tensor* gamma = fusion::constant_tensor(*graph_, mul.inputs[side]);
      if (gamma == nullptr || gamma->dtype() != DType::kFloat || gamma->rank() != 1) continue;
      std::string x;
      float epsilon = 0;
      if (!normalized(mul.inputs[1 - side], x, epsilon, nodes)) continue;
      const TypeInfo* x_type = graph_->find_type(x);
      if (x_type == nullptr || !x_type->shape || x_type->shape->empty()) return nullptr;
      const Dim& last = x_type->shape->back();
      if (!last.is_known() || gamma->dim(0) != last.value) return nullptr;
      nodes.push_back(&mul);
      auto node = std::make_unique<Node>();
      node->name = (mul.name.empty() ? mul.outputs[0] : mul.name) + "_rms_norm";
      node->op_type = "SimplifiedLayerNormalization";
      node->opset = mul.opset;
      node->inputs = {x, mul.inputs[side]};
      node->outputs = {mul.outputs[0]};
      node->set_attr_int("axis", -1);
      node->set_attr_float("epsilon", epsilon);
      return node;
    }
    return nullptr;
  }

  Graph* graph_ = nullptr;
  fusion::GraphIndex index_;
};

}  // namespace

std::unique_ptr<GraphPass> make_rms_norm_fusion() { return std::make_unique<RmsNormFusion>(); }

}  // namespace tessera

// Fuses a residual Add and the LayerNormalization after it into ONNX Runtime's com.microsoft
// SkipLayerNormalization, taking in a bias Add on either operand too:
//   LayerNormalization(Add(Add(MatMul(..), bias)?, residual), gamma, beta)  ->  SkipLayerNormalization
// When the sum is also read elsewhere (the pre-norm residual stream of GPT-2), it becomes the fused node's fourth
// output, input_skip_bias_sum. Only over the last axis, with float constant 1-D gamma/beta/bias of the hidden
// size, operands of the same inferred shape (a dim inference could not name matches any; the kernel refuses, naming
// both shapes, a skip that does not fit the input), and the LayerNormalization's Mean/InvStdDev outputs unused.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// Same float shape of rank 2 or more; an unknown dim matches any (the kernel refuses, naming both shapes, a skip that
// does not fit the input).
bool same_shape(const TypeInfo* a, const TypeInfo* b) {
  return fusion::same_float_shape(a, b, true) && a->shape->size() >= 2;
}

class SkipLayerNormFusion final : public GraphPass {
 public:
  std::string name() const override { return "skip_layer_norm_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "LayerNormalization")) return false;
    graph_ = &graph;
    fusion::infer_types(graph);
    index_ = fusion::GraphIndex(graph);
    std::vector<const Node*> removed;
    fusion::NodeReplacements replacements;
    for (const auto& slot : graph.nodes) {
      const Node& norm = *slot;
      if (!is_onnx_op(norm, "LayerNormalization") || norm.inputs.size() < 2) continue;
      if (std::find(removed.begin(), removed.end(), &norm) != removed.end()) continue;
      std::vector<const Node*> taken;
      std::unique_ptr<Node> fused = match(norm, taken);
      if (!fused) continue;
      removed.insert(removed.end(), taken.begin(), taken.end());
      taken.push_back(&norm);
      note(fusion::describe_fusion(*fused, taken));
      // The fused node takes the LayerNormalization's place, after every operand. Rewritten only once matching is
      // done: replacing it here freed a node index_ still named (the next layer's residual is this one's output),
      // a heap-use-after-free TSan found on BERT-base.
      replacements.emplace_back(&norm, std::move(fused));
    }
    if (!fusion::apply_replacements(graph, replacements, removed)) return false;
    graph.sort_topologically();  // a reader of the residual sum may sit between the Add and the normalization
    return true;
  }

 private:
  // A float 1-D constant of `hidden` elements.
  bool hidden_vector(const std::string& name, int64_t hidden) const {
    const Tensor* t = fusion::constant_tensor(*graph_, name);
    return t != nullptr && t->dtype() == DType::kFloat && t->rank() == 1 && t->dim(0) == hidden;
  }

  std::unique_ptr<Node> match(const Node& norm, std::vector<const Node*>& taken) const {
    for (size_t i = 1; i < norm.outputs.size(); ++i) {
      if (!norm.outputs[i].empty() && index_.reads(norm.outputs[i]) > 0) return nullptr;
    }
    const TypeInfo* type = graph_->find_type(norm.inputs[0]);
    if (type == nullptr || !type->is_tensor() || !type->shape || type->shape->size() < 2) return nullptr;
    const auto rank = static_cast<int64_t>(type->shape->size());
    const int64_t axis = norm.attr_int("axis", -1);
    const Dim& last = type->shape->back();
    if ((axis != -1 && axis != rank - 1) || !last.is_known()) return nullptr;
    const int64_t hidden = last.value;
    if (!hidden_vector(norm.inputs[1], hidden) || (norm.has_input(2) && !hidden_vector(norm.inputs[2], hidden)))
      return nullptr;
    const Node* add = index_.producer(norm.inputs[0]);
    if (add == nullptr || !is_onnx_op(*add, "Add") || add->inputs.size() != 2 || add->outputs.size() != 1)
      return nullptr;
    if (!same_shape(graph_->find_type(add->inputs[0]), graph_->find_type(add->inputs[1]))) return nullptr;
    std::string input = add->inputs[0], skip = add->inputs[1], bias;
    // A bias Add on either operand (read only here) is taken in.
    for (int side = 0; side < 2 && bias.empty(); ++side) {
      const std::string& operand = add->inputs[side];
      const Node* bias_add = index_.producer(operand);
      if (bias_add == nullptr || !is_onnx_op(*bias_add, "Add") || bias_add->inputs.size() != 2 ||
          index_.reads(operand) != 1)
        continue;
      for (int b = 0; b < 2; ++b) {
        const std::string& rest = bias_add->inputs[1 - b];
        if (hidden_vector(bias_add->inputs[b], hidden) && same_shape(graph_->find_type(rest), type)) {
          bias = bias_add->inputs[b];
          input = rest;
          skip = add->inputs[1 - side];
          taken.push_back(bias_add);
          break;
        }
      }
    }
    taken.push_back(add);
    auto node = std::make_unique<Node>();
    node->name = (norm.name.empty() ? norm.outputs[0] : norm.name) + "_skip";
    node->op_type = "SkipLayerNormalization";
    node->domain = kMicrosoftDomain;
    node->opset = 1;
    node->inputs = {input, skip, norm.inputs[1], norm.has_input(2) ? norm.inputs[2] : ""};
    if (!bias.empty()) node->inputs.push_back(bias);
    node->outputs = {norm.outputs[0]};
    // The residual sum read elsewhere too: the fused node's input_skip_bias_sum output.
    if (index_.reads(add->outputs[0]) > 1) node->outputs = {norm.outputs[0], "", "", add->outputs[0]};
    node->set_attr_float("epsilon", norm.attr_float("epsilon", 1e-5f));
    return node;
  }

  Graph* graph_ = nullptr;
  fusion::GraphIndex index_;
};

}  // namespace

std::unique_ptr<GraphPass> make_skip_layer_norm_fusion() { return std::make_unique<SkipLayerNormFusion>(); }

}  // namespace tessera

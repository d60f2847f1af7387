// Fuses chains of float32 elementwise nodes into one com.tessera ElementwiseChain (extended level): each node's
// output read only by the next, every value of the chain input X's shape (no broadcast widens it), and every
// other operand X itself, a one-element value or a value of X's shape (PyTorch's SiLU x * Sigmoid(x), scale-and-
// shift chains, residual adds followed by activations). Unfused, each node is a pass over memory; fused, the chain
// is one (ops/elementwise/elementwise_chain.h). Runs after every other fusion, so it takes only what they left.
#include <algorithm>
#include <unordered_set>

#include "ops/elementwise/elementwise_chain.h"
#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {


// One step of a chain being matched: its node, and (binary steps) the operand's name and side.
struct ChainStep {
  const Node* node;
  std::string operand;  // empty for a unary step
  bool operand_first = false;
};

Attribute list_attribute(const std::string& name, Attribute::Type type) {
  Attribute a;
  a.name = name;
  a.type = type;
  return a;
}

class ElementwiseChainFusion final : public GraphPass {
 public:
  std::string name() const override { return "elementwise_chain_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (std::none_of(graph.nodes.begin(), graph.nodes.end(), [](const auto& n) { return candidate(*n); })) return false;
    // A training graph's Gradient nodes differentiate the ops they name: those stay as they are.
    if (std::any_of(graph.nodes.begin(), graph.nodes.end(),
                    [](const auto& n) { return n->domain == kTrainingDomain; })) {
      return false;
    }
    graph_ = &graph;
    fusion::infer_types(graph);
    index_ = fusion::GraphIndex(graph);
    std::unordered_set<const Node*> taken;
    std::vector<const Node*> removed;
    fusion::NodeReplacements replacements;
    for (const auto& slot : graph.nodes) {
      const Node& first = *slot;
      if (taken.count(&first) != 0 || !candidate(first)) continue;
      std::string x;
      std::vector<ChainStep> steps;
      if (!start(first, x, steps)) continue;
      // Extend while the value is read only by the next supported node.
      while (true) {
        const Node* next = index_.only_consumer(steps.back().node->outputs[0]);
        if (next == nullptr || taken.count(next) != 0 || !candidate(*next)) break;
        ChainStep step{next};
        if (!extend(*next, steps.back().node->outputs[0], x, step)) break;
        steps.push_back(step);
      }
      if (steps.size() < 2) continue;
      std::vector<const Node*> nodes;
      for (const ChainStep& s : steps) {
        nodes.push_back(s.node);
        taken.insert(s.node);
      }
      std::unique_ptr<Node> fused = make_chain(x, steps);
      note(fusion::describe_fusion(*fused, nodes));
      removed.insert(removed.end(), nodes.begin(), nodes.end() - 1);
      replacements.emplace_back(nodes.back(), std::move(fused));
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }

 private:
  // An ai.onnx node the chain op takes as a step (no legacy broadcast attributes, one output).
  static bool candidate(const Node& node) {
    return node.domain.empty() && elementwise_chain_step_supported(node.op_type) && node.outputs.size() == 1 &&
           !node.has_attribute("broadcast") && !node.has_attribute("axis") &&
           node.inputs.size() == (elementwise_chain_step_binary(node.op_type) ? 2u : 1u);
  }

  // True when `value` is float32 with X's shape.
  bool shaped_like_x(const std::string& value, const std::string& x) const {
    return fusion::same_float_shape(graph_->find_type(value), graph_->find_type(x), false);
  }

  // True when `value` is float32 with one element (rank 0, or every dim 1).
  bool one_element(const std::string& value) const {
    const std::vector<Dim>* dims = fusion::float_shape(*graph_, value);
    return dims != nullptr && std::all_of(dims->begin(), dims->end(), [](const Dim& d) { return d.is_known() && d.value == 1; });
  }

  // The chain's first step: X is the unary node's input, or the binary node's input of the output's shape.
  bool start(const Node& node, std::string& x, std::vector<ChainStep>& steps) const {
    const std::string& out = node.outputs[0];
    if (!elementwise_chain_step_binary(node.op_type)) {
      x = node.inputs[0];
      if (!shaped_like_x(out, x)) return false;
      steps.push_back(ChainStep{&node});
      return true;
    }
    for (int side = 0; side < 2; ++side) {
      x = node.inputs[side];
      if (!shaped_like_x(out, x)) continue;
      ChainStep step{&node, node.inputs[1 - side], side == 1};
      if (!operand_ok(step.operand, x)) continue;
      steps.push_back(step);
      return true;
    }
    return false;
  }

  // A later step reading the chain's value `v`.
  bool extend(const Node& node, const std::string& v, const std::string& x, ChainStep& step) const {
    if (!shaped_like_x(node.outputs[0], x)) return false;
    if (!elementwise_chain_step_binary(node.op_type)) return node.inputs[0] == v;
    if (node.inputs[0] == v && node.inputs[1] == v) return false;  // v op v: not a step
    const int side = node.inputs[0] == v ? 0 : 1;
    step.operand = node.inputs[1 - side];
    step.operand_first = side == 1;
    return operand_ok(step.operand, x);
  }

  bool operand_ok(const std::string& operand, const std::string& x) const {
    return operand == x || one_element(operand) || shaped_like_x(operand, x);
  }

  std::unique_ptr<Node> make_chain(const std::string& x, const std::vector<ChainStep>& steps) const {
    const Node& last = *steps.back().node;
    auto node = std::make_unique<Node>();
    node->name = (last.name.empty() ? last.outputs[0] : last.name) + "_chain";
    node->domain = kTesseraDomain;
    node->op_type = "ElementwiseChain";
    node->opset = 1;
    node->inputs = {x};
    node->outputs = {last.outputs[0]};
    Attribute names = list_attribute("steps", Attribute::Type::kStrings);
    Attribute operands = list_attribute("operands", Attribute::Type::kInts);
    Attribute first = list_attribute("operand_first", Attribute::Type::kInts);
    Attribute alphas = list_attribute("alphas", Attribute::Type::kFloats);
    for (const ChainStep& s : steps) {
      names.strings.push_back(s.node->op_type);
      int64_t index = -1;
      if (!s.operand.empty()) {
        const auto at = std::find(node->inputs.begin(), node->inputs.end(), s.operand);
        index = at - node->inputs.begin();
        if (at == node->inputs.end()) node->inputs.push_back(s.operand);
      }
      operands.ints.push_back(index);
      first.ints.push_back(s.operand_first ? 1 : 0);
      alphas.floats.push_back(s.node->op_type == "LeakyRelu" ? s.node->attr_float("alpha", 0.01f) : 0.0f);
    }
    for (Attribute* a : {&names, &operands, &first, &alphas}) node->attributes[a->name] = *a;
    return node;
  }

  Graph* graph_ = nullptr;
  fusion::GraphIndex index_;
};

}  // namespace

std::unique_ptr<GraphPass> make_elementwise_chain_fusion() { return std::make_unique<ElementwiseChainFusion>(); }

}  // namespace tessera

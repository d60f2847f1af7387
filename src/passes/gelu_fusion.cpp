// Fuses the two GELU subgraphs exporters write into ONNX Runtime's contrib ops:
//   erf form   y = x * (Erf(x / sqrt 2) + 1) * 0.5           -> com.microsoft Gelu   (BiasGelu with a bias Add)
//   tanh form  y = x * (Tanh(sqrt(2/pi) * (x + 0.044715 x^3)) + 1) * 0.5
//                                                            -> com.microsoft FastGelu (bias as its 2nd input)
// x / sqrt 2 may be x * (1 / sqrt 2); x^3 may be x * (x * x) or Pow(x, 3); the 0.5 may multiply x first. When x
// is Add(a, bias) with a 1-D float32 constant bias and x is read only inside the pattern, the Add is taken in.
// Constants must match to 1e-6 (relative, 1e-5 for the rounded sqrt(2/pi) exporters write) and every
// intermediate must be read only inside the pattern.
#include <algorithm>
#include <cmath>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

bool near(std::optional<float> value, double expected, double relative = 1e-6) {
  return value && std::fabs(*value - expected) <= relative * std::fabs(expected);
}

// The operand of a two-input node that is not `known`, or "" when neither is.
const std::string& other_input(const Node& node, const std::string& known) {
  static const std::string kNone;
  if (node.inputs.size() != 2) return kNone;
  if (node.inputs[0] == known) return node.inputs[1];
  if (node.inputs[1] == known) return node.inputs[0];
  return kNone;
}

struct Match {
  std::string x;                   // GELU's input
  std::string y;                   // GELU's output
  std::vector<const Node*> nodes;  // the nodes replaced, the anchor (Erf / Tanh) first
};

class GeluFusion final : public GraphPass {
 public:
  std::string name() const override { return "gelu_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    graph_ = &graph;
    index_ = fusion::GraphIndex(graph);
    std::vector<const Node*> removed;
    fusion::NodeReplacements replacements;
    for (const auto& slot : graph.nodes) {
      const Node& anchor = *slot;
      const bool erf = is_onnx_op(anchor, "Erf");
      if (!erf && !is_onnx_op(anchor, "Tanh")) continue;
      std::optional<Match> m = erf ? match_erf(anchor) : match_tanh(anchor);
      if (!m || !finish(*m)) continue;
      std::unique_ptr<Node> fused = make_fused(*m, erf, anchor);
      note(fusion::describe_fusion(*fused, m->nodes));
      for (const Node* n : m->nodes)
        if (n != &anchor) removed.push_back(n);
      // The fused node takes the anchor's slot: after x's producer, before y's readers. Rewritten once matching is
      // done, so index_ never names a freed node.
      replacements.emplace_back(&anchor, std::move(fused));
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }

 private:
  std::optional<float> scalar(const std::string& name) const { return fusion::scalar_float_constant(*graph_, name); }

  const Node* producer(const std::string& value) const { return index_.producer(value); }
  const Node* private_producer(const std::string& value) const { return index_.private_producer(value); }
  const Node* only_reader(const std::string& value) const { return index_.only_consumer(value); }

  // Erf's input: x / sqrt 2, or x * (1 / sqrt 2).
  std::optional<Match> match_erf(const Node& erf) const {
    if (erf.inputs.size() != 1 || erf.outputs.size() != 1) return std::nullopt;
    const Node* scale = private_producer(erf.inputs[0]);
    if (scale == nullptr || scale->inputs.size() != 2) return std::nullopt;
    Match m;
    if (is_onnx_op(*scale, "Div") && near(scalar(scale->inputs[1]), std::sqrt(2.0))) {
      m.x = scale->inputs[0];
    } else if (is_onnx_op(*scale, "Mul")) {
      for (int side = 0; side < 2; ++side) {
        if (near(scalar(scale->inputs[side]), 1.0 / std::sqrt(2.0))) m.x = scale->inputs[1 - side];
      }
    }
    if (m.x.empty()) return std::nullopt;
    m.nodes = {&erf, scale};
    return m;
  }

  // Tanh's input: sqrt(2/pi) * (x + 0.044715 * x^3).
  std::optional<Match> match_tanh(const Node& tanh) const {
    if (tanh.inputs.size() != 1 || tanh.outputs.size() != 1) return std::nullopt;
    const Node* scaled = private_producer(tanh.inputs[0]);
    if (scaled == nullptr || !is_onnx_op(*scaled, "Mul") || scaled->inputs.size() != 2) return std::nullopt;
    std::string inner_name;
    for (int side = 0; side < 2; ++side) {
      if (near(scalar(scaled->inputs[side]), std::sqrt(2.0 / M_PI), 1e-5)) inner_name = scaled->inputs[1 - side];
    }
    const Node* inner = inner_name.empty() ? nullptr : private_producer(inner_name);
    if (inner == nullptr || !is_onnx_op(*inner, "Add") || inner->inputs.size() != 2) return std::nullopt;
    for (int side = 0; side < 2; ++side) {
      const Node* cubic = private_producer(inner->inputs[side]);
      if (cubic == nullptr || !is_onnx_op(*cubic, "Mul") || cubic->inputs.size() != 2) continue;
      const std::string& x = inner->inputs[1 - side];
      for (int c = 0; c < 2; ++c) {
        if (!near(scalar(cubic->inputs[c]), 0.044715)) continue;
        const std::vector<const Node*> cube = match_cube(cubic->inputs[1 - c], x);
        if (cube.empty()) continue;
        Match m;
        m.x = x;
        m.nodes = {&tanh, scaled, inner, cubic};
        m.nodes.insert(m.nodes.end(), cube.begin(), cube.end());
        return m;
      }
    }
    return std::nullopt;
  }

  // The nodes computing `value` = x^3 as Pow(x, 3), x * (x * x) or (x * x) * x; empty when it is not.
  std::vector<const Node*> match_cube(const std::string& value, const std::string& x) const {
    const Node* node = private_producer(value);
    if (node == nullptr || node->inputs.size() != 2) return {};
    if (is_onnx_op(*node, "Pow") && node->inputs[0] == x && near(scalar(node->inputs[1]), 3.0)) return {node};
    if (!is_onnx_op(*node, "Mul")) return {};
    const std::string& square = other_input(*node, x);
    const Node* sq = square.empty() ? nullptr : private_producer(square);
    if (sq == nullptr || !is_onnx_op(*sq, "Mul") || sq->inputs.size() != 2 || sq->inputs[0] != x ||
        sq->inputs[1] != x) {
      return {};
    }
    return {node, sq};
  }

  // The common tail from the anchor's output: (anchor + 1) times x and 0.5 in either order. Sets m.y.
  bool finish(Match& m) const {
    const Node* anchor = m.nodes[0];
    const Node* plus = only_reader(anchor->outputs[0]);
    if (plus == nullptr || !is_onnx_op(*plus, "Add") || !near(scalar(other_input(*plus, anchor->outputs[0])), 1.0)) {
      return false;
    }
    const Node* product = only_reader(plus->outputs[0]);
    if (product == nullptr || !is_onnx_op(*product, "Mul")) return false;
    const std::string& partner = other_input(*product, plus->outputs[0]);
    if (partner == m.x) {
      const Node* half = only_reader(product->outputs[0]);
      if (half == nullptr || !is_onnx_op(*half, "Mul") || !near(scalar(other_input(*half, product->outputs[0])), 0.5)) {
        return false;
      }
      m.y = half->outputs[0];
      m.nodes.insert(m.nodes.end(), {plus, product, half});
      return true;
    }
    const Node* half = partner.empty() ? nullptr : private_producer(partner);
    if (half == nullptr || !is_onnx_op(*half, "Mul") || !near(scalar(other_input(*half, m.x)), 0.5)) return false;
    m.y = product->outputs[0];
    m.nodes.insert(m.nodes.end(), {plus, half, product});
    return true;
  }

  // Gelu / FastGelu on x, or BiasGelu / FastGelu(a, bias) taking in x = Add(a, bias).
  std::unique_ptr<Node> make_fused(Match& m, bool erf, const Node& anchor) const {
    auto node = std::make_unique<Node>();
    node->name = (anchor.name.empty() ? m.y : anchor.name) + "_gelu";
    node->domain = "com.microsoft";
    node->opset = 1;
    node->outputs = {m.y};
    node->op_type = erf ? "Gelu" : "FastGelu";
    node->inputs = {m.x};
    // Reads of x inside the pattern; the bias Add is taken in only when they are all its reads.
    int pattern_reads = 0;
    for (const Node* n : m.nodes)
      pattern_reads += static_cast<int>(std::count(n->inputs.begin(), n->inputs.end(), m.x));
    const Node* add = producer(m.x);
    if (add == nullptr || !is_onnx_op(*add, "Add") || add->inputs.size() != 2 || index_.reads(m.x) != pattern_reads) {
      return node;
    }
    for (int side = 0; side < 2; ++side) {
      const Tensor* bias = fusion::constant_tensor(*graph_, add->inputs[side]);
      const std::string& a = add->inputs[1 - side];
      if (bias == nullptr || bias->dtype() != DType::kFloat || bias->rank() != 1) continue;
      if (fusion::constant_tensor(*graph_, a) != nullptr) continue;
      node->op_type = erf ? "BiasGelu" : "FastGelu";
      node->inputs = {a, add->inputs[side]};
      m.nodes.push_back(add);
      break;
    }
    return node;
  }

  const Graph* graph_ = nullptr;
  fusion::GraphIndex index_;
};

}  // namespace

std::unique_ptr<GraphPass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }

}  // namespace tessera

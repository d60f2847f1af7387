// Fuses the erf form of GELU that exporters write,
//     y = Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)      (also Mul(x, 1/sqrt 2), and 0.5 applied to x first),
// into ONNX Runtime's contrib op com.microsoft Gelu, and into com.microsoft BiasGelu(a, bias) when x is
// Add(a, bias) with a 1-D float32 constant bias read only by the pattern. The constants must match to 1e-6
// (relative); every intermediate must be read only inside the pattern.
#include <algorithm>
#include <cmath>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

bool near(std::optional<float> value, double expected) {
  return value && std::fabs(*value - expected) <= 1e-6 * std::fabs(expected);
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
  std::string x;                          // GELU's input
  std::string y;                          // GELU's output
  std::vector<const Node*> nodes;         // the nodes replaced
};

class GeluFusion final : public GraphPass {
 public:
  std::string name() const override { return "gelu_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    reads_ = fusion::count_reads(graph);
    producer_ = fusion::producers(graph);
    consumers_.clear();
    for (const auto& node : graph.nodes) {
      for (const std::string& in : node->inputs) if (!in.empty()) consumers_[in].push_back(node.get());
    }
    std::vector<std::unique_ptr<Node>> added;
    std::vector<const Node*> removed;
    std::vector<size_t> positions;
    for (size_t index = 0; index < graph.nodes.size(); ++index) {
      const Node& erf = *graph.nodes[index];
      if (!is_onnx_op(erf, "Erf")) continue;
      std::optional<Match> m = match(graph, erf);
      if (!m) continue;
      auto node = std::make_unique<Node>();
      node->name = erf.name.empty() ? m->y + "_gelu" : erf.name + "_gelu";
      node->domain = "com.microsoft";
      node->opset = 1;
      node->outputs = {m->y};
      // BiasGelu when x = Add(a, bias) with a 1-D constant bias and x read only by the pattern.
      const Node* add = producer_.count(m->x) ? producer_.at(m->x) : nullptr;
      const Tensor* bias = nullptr;
      std::string a;
      if (add != nullptr && is_onnx_op(*add, "Add") && add->inputs.size() == 2 && reads_[m->x] == 2) {
        for (int side = 0; side < 2 && bias == nullptr; ++side) {
          const Tensor* t = fusion::constant_tensor(graph, add->inputs[side]);
          if (t != nullptr && t->dtype() == DType::kFloat && t->rank() == 1) {
            bias = t;
            a = add->inputs[1 - side];
            node->inputs = {a, add->inputs[side]};
          }
        }
      }
      if (bias != nullptr && fusion::constant_tensor(graph, a) == nullptr) {
        node->op_type = "BiasGelu";
        m->nodes.push_back(add);
      } else {
        node->op_type = "Gelu";
        node->inputs = {m->x};
      }
      for (const Node* n : m->nodes) if (n != &erf) removed.push_back(n);  // the Erf's slot takes the fused node
      positions.push_back(index);
      added.push_back(std::move(node));
    }
    if (added.empty()) return false;
    // Each fused node takes the place of its Erf (after x's producer, before y's readers).
    for (size_t i = 0; i < added.size(); ++i) graph.nodes[positions[i]] = std::move(added[i]);
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
    });
    return true;
  }

 private:
  // The single reader of `value` when exactly one node reads it (and nothing else does).
  const Node* only_reader(const std::string& value) {
    auto r = reads_.find(value);
    auto c = consumers_.find(value);
    if (r == reads_.end() || r->second != 1 || c == consumers_.end() || c->second.size() != 1) return nullptr;
    return c->second[0];
  }

  std::optional<Match> match(const Graph& graph, const Node& erf) {
    if (erf.inputs.size() != 1 || erf.outputs.size() != 1) return std::nullopt;
    // scaled = x / sqrt 2, or x * (1 / sqrt 2)
    auto p = producer_.find(erf.inputs[0]);
    if (p == producer_.end() || reads_[erf.inputs[0]] != 1) return std::nullopt;
    const Node& scale = *p->second;
    Match m;
    if (is_onnx_op(scale, "Div") && scale.inputs.size() == 2 &&
        near(fusion::scalar_float_constant(graph, scale.inputs[1]), std::sqrt(2.0))) {
      m.x = scale.inputs[0];
    } else if (is_onnx_op(scale, "Mul") && scale.inputs.size() == 2) {
      for (int side = 0; side < 2; ++side) {
        if (near(fusion::scalar_float_constant(graph, scale.inputs[side]), 1.0 / std::sqrt(2.0))) {
          m.x = scale.inputs[1 - side];
        }
      }
    }
    if (m.x.empty()) return std::nullopt;
    // one_plus = erf + 1
    const Node* plus = only_reader(erf.outputs[0]);
    if (plus == nullptr || !is_onnx_op(*plus, "Add") ||
        !near(fusion::scalar_float_constant(graph, other_input(*plus, erf.outputs[0])), 1.0)) {
      return std::nullopt;
    }
    // Either Mul(Mul(x, one_plus), 0.5) or Mul(Mul(x, 0.5), one_plus).
    const Node* product = only_reader(plus->outputs[0]);
    if (product == nullptr || !is_onnx_op(*product, "Mul")) return std::nullopt;
    const std::string& partner = other_input(*product, plus->outputs[0]);
    if (partner == m.x) {
      const Node* half = only_reader(product->outputs[0]);
      if (half == nullptr || !is_onnx_op(*half, "Mul") ||
          !near(fusion::scalar_float_constant(graph, other_input(*half, product->outputs[0])), 0.5)) {
        return std::nullopt;
      }
      m.y = half->outputs[0];
      m.nodes = {&scale, &erf, plus, product, half};
    } else {
      auto h = producer_.find(partner);
      if (h == producer_.end() || reads_[partner] != 1) return std::nullopt;
      const Node& half = *h->second;
      if (!is_onnx_op(half, "Mul") || !near(fusion::scalar_float_constant(graph, other_input(half, m.x)), 0.5)) {
        return std::nullopt;
      }
      m.y = product->outputs[0];
      m.nodes = {&scale, &erf, plus, &half, product};
    }
    // x must be read only by the pattern (the scaling and one multiplication) for a BiasGelu; for Gelu, x may
    // have other readers: they keep reading it.
    return m;
  }

  std::unordered_map<std::string, int> reads_;
  std::unordered_map<std::string, Node*> producer_;
  std::unordered_map<std::string, std::vector<const Node*>> consumers_;
};

}  // namespace

std::unique_ptr<GraphPass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }

}  // namespace tessera

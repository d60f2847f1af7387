#include "passes/gradient_expansion.h"

#include <functional>
#include <map>
#include <set>

#include "base/error.h"
#include "ir/shape_inference.h"
#include "ops/registry.h"

namespace tessera {
namespace {


class Expansion {
 public:
  Expansion(Graph& graph, const Node& gradient, int64_t opset) : graph_(graph), gradient_(gradient), opset_(opset) {}

  void run() {
    const std::vector<std::string> xs = gradient_.attr_strings("xs");
    const std::string y = gradient_.attr_string("y", "");
    for (const std::string& z : gradient_.attr_strings("zs")) constants_.insert(z);
    check_model(!y.empty() && !xs.empty() && gradient_.outputs.size() == xs.size(), gradient_.label(),
                ": Gradient needs xs, y and one output per x");
    for (const std::string& x : xs) sources_.insert(x);
    for (const auto& node : graph_.nodes) {
      if (node.get() == &gradient_) continue;
      for (const std::string& out : node->outputs) producer_[out] = node.get();
    }
    const TypeInfo* yt = graph_.find_type(y);
    dtype_ = yt != nullptr && yt->is_tensor() && yt->elem_type == DType::kDouble ? DType::kDouble : DType::kFloat;
    one_ = constant(1.0);
    zero_ = constant(0.0);
    // Seed: dy/dy = ones of y's shape.
    const std::string shape = emit("Shape", {y});
    contributions_[y].push_back(emit("Expand", {one_, shape}));
    // Nodes in reverse order: every consumer of a value comes after its producer, so a value's gradient is complete
    // when its producer is reached.
    std::vector<Node*> order;
    for (const auto& node : graph_.nodes) order.push_back(node.get());
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node& node = **it;
      if (&node == &gradient_ || node.outputs.empty() || !contributions_.count(node.outputs[0])) continue;
      if (!depends(node.outputs[0])) continue;
      differentiate(node, total(node.outputs[0]));
    }
    for (size_t i = 0; i < xs.size(); ++i) {
      const std::string g = contributions_.count(xs[i]) ? total(xs[i]) : emit("Mul", {xs[i], zero_});
      if (!gradient_.outputs[i].empty()) add("Identity", {g}, {gradient_.outputs[i]});
    }
  }

 private:
  // True when `value` depends on an x through values that are not held constant.
  bool depends(const std::string& value) {
    if (sources_.count(value)) return true;
    if (constants_.count(value)) return false;
    const auto memo = depends_.find(value);
    if (memo != depends_.end()) return memo->second;
    bool result = false;
    const auto p = producer_.find(value);
    if (p != producer_.end()) {
      for (const std::string& in : p->second->inputs) result = result || (!in.empty() && depends(in));
    }
    depends_[value] = result;
    return result;
  }

  std::string total(const std::string& value) {
    std::vector<std::string>& parts = contributions_[value];
    std::string sum = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) sum = emit("Add", {sum, parts[i]});
    parts = {sum};
    return sum;
  }

  void contribute(const std::string& value, const std::string& gradient) {
    if (!value.empty() && depends(value)) contributions_[value].push_back(gradient);
  }

  // The gradient of a broadcast operand: summed back to its shape.
  std::string unbroadcast(const std::string& gradient, const std::string& operand) {
    return emit("SumToShapeOf", {gradient, operand}, kTesseraDomain);
  }

  void differentiate(Node& node, const std::string& g) {
    const std::string& op = node.op_type;
    const std::string a = node.inputs.empty() ? std::string() : node.inputs[0];
    const std::string b = node.inputs.size() > 1 ? node.inputs[1] : std::string();
    const std::string& y = node.outputs[0];
    if (node.domain != kOnnxDomain) unsupported(node);
    if (op == "Add") {
      contribute(a, unbroadcast(g, a));
      contribute(b, unbroadcast(g, b));
    } else if (op == "Sub") {
      contribute(a, unbroadcast(g, a));
      contribute(b, unbroadcast(emit("Neg", {g}), b));
    } else if (op == "Mul") {
      contribute(a, unbroadcast(emit("Mul", {g, b}), a));
      contribute(b, unbroadcast(emit("Mul", {g, a}), b));
    } else if (op == "Div") {
      contribute(a, unbroadcast(emit("Div", {g, b}), a));
      // d(a/b)/db = -a / b^2
      contribute(b, unbroadcast(emit("Neg", {emit("Div", {emit("Mul", {g, a}), emit("Mul", {b, b})})}), b));
    } else if (op == "Neg") {
      contribute(a, emit("Neg", {g}));
    } else if (op == "Identity") {
      contribute(a, g);
    } else if (op == "Relu") {
      const std::string positive =
          emit("Cast", {emit("Greater", {a, zero_})}, kOnnxDomain, static_cast<int64_t>(dtype_));
      contribute(a, emit("Mul", {g, positive}));
    } else if (op == "Sigmoid") {
      contribute(a, emit("Mul", {g, emit("Mul", {y, emit("Sub", {one_, y})})}));
    } else if (op == "Tanh") {
      contribute(a, emit("Mul", {g, emit("Sub", {one_, emit("Mul", {y, y})})}));
    } else if (op == "Exp") {
      contribute(a, emit("Mul", {g, y}));
    } else if (op == "Log") {
      contribute(a, emit("Div", {g, a}));
    } else if (op == "Sqrt") {
      contribute(a, emit("Div", {g, emit("Add", {y, y})}));
    } else if (op == "MatMul" && rank(a) == 2 && rank(b) == 2) {
      contribute(a, emit("MatMul", {g, transposed(b)}));
      contribute(b, emit("MatMul", {transposed(a), g}));
    } else {
      unsupported(node);
    }
  }

  [[noreturn]] void unsupported(const Node& node) {
    fail(ErrorCode::kUnsupported, gradient_.label(), ": cannot differentiate ", node.label(),
         " (Add, Sub, Mul, Div, Neg, Identity, Relu, Sigmoid, Tanh, Exp, Log, Sqrt and 2-D MatMul are)");
  }

  int64_t rank(const std::string& value) const {
    const TypeInfo* t = graph_.find_type(value);
    return t != nullptr && t->is_tensor() && t->shape ? static_cast<int64_t>(t->shape->size()) : -1;
  }

  std::string transposed(const std::string& value) {
    const std::string out = fresh("T");
    Node& node = add("Transpose", {value}, {out});
    Attribute perm;
    perm.name = "perm";
    perm.type = Attribute::Type::kInts;
    perm.ints = {1, 0};
    node.attributes[perm.name] = perm;
    return out;
  }

  std::string constant(double value) {
    const std::string name = fresh("const");
    graph_.initializers[name] = dtype_ == DType::kDouble ? Tensor::scalar(DType::kDouble, value)
                                                         : Tensor::scalar(DType::kFloat, static_cast<float>(value));
    return name;
  }

  std::string fresh(const std::string& what) {
    std::string name;
    do {
      name = gradient_.name + "/grad_" + what + "_" + std::to_string(counter_++);
    } while (graph_.defines(name));
    return name;
  }

  Node& add(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
            const std::string& domain = kOnnxDomain) {
    Node& node = graph_.add_node(op, std::move(inputs), std::move(outputs), fresh(op), domain);
    node.opset = domain == kOnnxDomain ? opset_ : 1;
    return node;
  }

  // Adds `op` on `inputs` with one fresh output and returns its name; `cast_to` >= 0 sets Cast's `to`.
  std::string emit(const std::string& op, std::vector<std::string> inputs, const std::string& domain = kOnnxDomain,
                   int64_t cast_to = -1) {
    const std::string out = fresh(op);
    Node& node = add(op, std::move(inputs), {out}, domain);
    if (cast_to >= 0) node.set_attr_int("to", cast_to);
    return out;
  }

  Graph& graph_;
  const Node& gradient_;
  int64_t opset_;
  DType dtype_ = DType::kFloat;
  std::string one_, zero_;
  std::set<std::string> sources_, constants_;
  std::map<std::string, Node*> producer_;
  std::map<std::string, bool> depends_;
  std::map<std::string, std::vector<std::string>> contributions_;
  int counter_ = 0;
};

}  // namespace

int expand_gradients(Graph& graph, int64_t onnx_opset) {
  std::vector<const Node*> gradients;
  for (const auto& node : graph.nodes) {
    if (node->domain == kTrainingDomain && node->op_type == "Gradient") gradients.push_back(node.get());
  }
  if (gradients.empty()) return 0;
  // Types first: the expansion needs y's element type and MatMul operands' ranks.
  infer_graph_types(graph, [](const Node& node) {
    const OpRegistration* entry = OpRegistry::instance().find(node.domain, node.op_type, node.opset);
    return entry ? entry->infer : ShapeInferenceFn{};
  });
  for (const Node* gradient : gradients) Expansion(graph, *gradient, onnx_opset).run();
  std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& node) {
    return std::find(gradients.begin(), gradients.end(), node.get()) != gradients.end();
  });
  graph.sort_topologically();
  return static_cast<int>(gradients.size());
}

}  // namespace tessera

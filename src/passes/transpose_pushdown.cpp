// Transpose pushdown (basic level): a Transpose(perm) feeding an elementwise op moves below it,
// op(Transpose(x), ...) -> Transpose(op(x, ...)), so that the Transposes NHWC exporters (tf2onnx, channels-last
// PyTorch) write around chains of elementwise ops meet and transpose_cancellation (which runs right after) removes
// them. A node qualifies when every input is either a Transpose with the same perm read by that node alone, or a
// constant (non-overridable initializer or Constant node): a constant broadcast against the rank-R inputs is
// left-padded to rank R and transposed with the inverse perm into a new initializer (leading 1s dropped again);
// one whose dims are all 1 stays as it is. A Transpose undoing a Transpose that has other readers reads the
// inner one's input directly (the shared case transpose_cancellation leaves). Transposes only move data, so values
// are the same bits.
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// Ops applied element by element whose inputs broadcast multidirectionally (or unidirectionally onto the first
// input: PRelu), so op(T(a), T(b)) == T(op(a, b)) for any perm T. Clip's bounds and CastLike's type source are
// inputs too; they must be constants (Clip's are scalars; CastLike's only gives a dtype) and are left unchanged
// when all their dims are 1.
bool is_elementwise(const Node& node) {
  static const std::unordered_set<std::string> kOps = {
      // unary
      "Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Cast", "LeakyRelu", "Clip", "Identity",
      "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Not", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
      "Softplus", "Softsign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
      "IsNaN", "IsInf", "ThresholdedRelu", "Mish", "Gelu", "BitwiseNot",
      // binary and variadic
      "Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "Pow", "Mod", "PRelu", "Equal", "Less", "Greater",
      "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "BitShift", "BitwiseAnd", "BitwiseOr",
      "BitwiseXor"};
  return node.domain.empty() && node.outputs.size() == 1 && kOps.count(node.op_type) != 0;
}

// Reductions whose result does not depend on the order the kernel visits the elements in. ReduceSum, ReduceMean
// and the other sums stay: their kernels sum in an order that follows the layout (a ReduceMean over H and W of
// NCHW vs NHWC differs by 4e-7 relative), and this pass must keep the bits.
const std::unordered_set<std::string> kReduceOps = {"ReduceMax", "ReduceMin"};

// The ops with an axis that push_below_axis_op takes (their conditions aside).
bool is_axis_op(const Node& node) {
  static const std::unordered_set<std::string> kOps = {"Softmax", "LogSoftmax", "Hardmax",   "Concat",
                                                       "ArgMax",  "ArgMin",     "ReduceMax", "ReduceMin"};
  return node.domain.empty() && node.outputs.size() == 1 && kOps.count(node.op_type) != 0;
}

// Fixed-size element types a constant can be permuted in (not strings, not the packed sub-byte types).
bool permutable_dtype(DType dtype) {
  const int code = static_cast<int>(dtype);
  return dtype != DType::kUndefined && dtype != DType::kString && code <= static_cast<int>(DType::kFloat8E5M2FNUZ);
}

bool is_identity_perm(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

bool is_permutation(const std::vector<int64_t>& perm) {
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || static_cast<size_t>(p) >= perm.size() || seen[static_cast<size_t>(p)]) return false;
    seen[static_cast<size_t>(p)] = true;
  }
  return true;
}

// out = Transpose(in, perm): out dim i is in dim perm[i]. Byte-wise, for any fixed-size element type.
Tensor transpose_tensor(const Tensor& in, const std::vector<int64_t>& perm) {
  const size_t rank = perm.size();
  std::vector<int64_t> out_shape(rank), in_strides(rank, 1);
  for (size_t i = rank; i-- > 1;) in_strides[i - 1] = in_strides[i] * in.dim(i);
  for (size_t i = 0; i < rank; ++i) out_shape[i] = in.dim(static_cast<size_t>(perm[i]));
  Tensor out(in.dtype(), out_shape);
  const size_t element = dtype_size(in.dtype());
  const auto* src = static_cast<const unsigned char*>(in.raw_data());
  auto* dst = static_cast<unsigned char*>(out.raw_data());
  std::vector<int64_t> index(rank, 0);
  for (int64_t k = 0; k < out.element_count(); ++k) {
    int64_t offset = 0;
    for (size_t i = 0; i < rank; ++i) offset += index[i] * in_strides[static_cast<size_t>(perm[i])];
    std::memcpy(dst + static_cast<size_t>(k) * element, src + static_cast<size_t>(offset) * element, element);
    for (size_t i = rank; i-- > 0;) {
      if (++index[i] < out_shape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

// The constant c broadcast against rank-`rank` operands that were transposed by `perm`, made to broadcast the same
// way against the untransposed operands: left-padded to `rank`, transposed by the inverse perm, leading 1s dropped.
// nullopt when it cannot be (rank above `rank`, an element type not handled).
std::optional<Tensor> constant_for_untransposed(const Tensor& c, const std::vector<int64_t>& perm) {
  const size_t rank = perm.size();
  if (c.rank() > rank || !permutable_dtype(c.dtype())) return std::nullopt;
  std::vector<int64_t> padded(rank - c.rank(), 1);
  padded.insert(padded.end(), c.shape().begin(), c.shape().end());
  std::vector<int64_t> inverse(rank);
  for (size_t i = 0; i < rank; ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  Tensor moved = transpose_tensor(c.reshaped(padded), inverse);
  std::vector<int64_t> shape = moved.shape();
  while (!shape.empty() && shape.front() == 1) shape.erase(shape.begin());
  return moved.reshaped(shape);
}

class TransposePushdown final : public GraphPass {
 public:
  std::string name() const override { return "transpose_pushdown"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "Transpose")) return false;
    reads_ = fusion::count_reads(graph);
    producer_ = fusion::producers(graph);
    index_ = fusion::GraphIndex(graph);
    removed_.clear();
    bypassed_ = false;
    names_.clear();
    // The Transposes moved below node k, inserted once the walk is done (helpers read graph.nodes meanwhile).
    std::vector<std::unique_ptr<Node>> moved(graph.nodes.size());
    for (size_t k = 0; k < graph.nodes.size(); ++k) {
      const size_t removed_before = removed_.size();
      moved[k] = push_below(graph, *graph.nodes[k]);
      if (!moved[k] && removed_.size() == removed_before) moved[k] = push_below_axis_op(graph, *graph.nodes[k]);
      bypass_shared_transpose(*graph.nodes[k]);
    }
    if (removed_.empty() && !bypassed_) return false;
    std::vector<std::unique_ptr<Node>> order;
    order.reserve(graph.nodes.size() + removed_.size());
    for (size_t k = 0; k < graph.nodes.size(); ++k) {
      order.push_back(std::move(graph.nodes[k]));
      if (moved[k]) order.push_back(std::move(moved[k]));
    }
    graph.nodes = std::move(order);
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) { return removed_.count(n.get()) != 0; });
    return true;
  }

 private:
  // The Transpose feeding `value` when it has a valid perm and `node` is its only reader (reading it `uses` times).
  Node* private_transpose(const std::string& value, int uses) const {
    auto p = producer_.find(value);
    if (p == producer_.end() || !is_onnx_op(*p->second, "Transpose") || !p->second->has_attribute("perm")) {
      return nullptr;
    }
    auto r = reads_.find(value);
    if (r == reads_.end() || r->second != uses) return nullptr;
    return p->second;
  }

  // Whether moving a Transpose below `start` leads somewhere: following the one reader of each output through ops
  // this pass moves Transposes through, it reaches a Transpose (the two compose into one, or cancel) or a reduction
  // without keepdims (which may need none). Otherwise the move would only shuffle a Transpose down (and could take
  // it away from patterns other passes match, like the scaled Q of nn.MultiheadAttention exports).
  bool pays_off(const Node& start) const {
    const Node* node = &start;
    for (int steps = 0; steps < 256; ++steps) {
      const std::string& value = node->outputs[0];
      const std::vector<Node*>& readers = index_.consumers(value);
      for (const Node* reader : readers) {
        if (is_onnx_op(*reader, "Transpose")) return true;
      }
      auto r = reads_.find(value);
      if (readers.size() != 1 || r == reads_.end() || r->second != 1) return false;
      const Node& next = *readers[0];
      if (!is_elementwise(next) && !is_axis_op(next)) return false;
      if (next.attr_int("keepdims", 1) == 0) return true;
      node = &next;
    }
    return false;
  }

  // Rewrites `node` to read the Transposes' inputs and returns the Transpose that now follows it, or nullptr.
  std::unique_ptr<Node> push_below(Graph& graph, Node& node) {
    if (!is_elementwise(node) || node.inputs.empty()) return nullptr;
    std::vector<int64_t> perm;
    std::vector<Node*> transposes(node.inputs.size(), nullptr);
    std::vector<const Tensor*> constants(node.inputs.size(), nullptr);
    bool any = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      if (in.empty()) continue;
      const int uses = static_cast<int>(std::count(node.inputs.begin(), node.inputs.end(), in));
      if (Node* t = private_transpose(in, uses)) {
        const std::vector<int64_t> p = t->attr_ints("perm");
        if (!is_permutation(p) || (any && p != perm)) return nullptr;
        perm = p;
        transposes[i] = t;
        any = true;
      } else if (const Tensor* c = fusion::constant_tensor(graph, in)) {
        constants[i] = c;
      } else {
        return nullptr;
      }
    }
    if (!any) return nullptr;
    std::unordered_set<const Node*> merged(transposes.begin(), transposes.end());
    merged.erase(nullptr);
    if (merged.size() < 2 && !pays_off(node)) return nullptr;  // two or more Transposes into one always pays
    // Constants first (all or nothing), then the rewrite.
    std::vector<std::optional<Tensor>> replaced(node.inputs.size());
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Tensor* c = constants[i];
      if (c == nullptr) continue;
      if (c->rank() > perm.size()) return nullptr;
      const bool all_ones = std::all_of(c->shape().begin(), c->shape().end(), [](int64_t d) { return d == 1; });
      if (all_ones) continue;
      replaced[i] = constant_for_untransposed(*c, perm);
      if (!replaced[i]) return nullptr;
    }
    std::string before = fusion::node_text(node);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (transposes[i] != nullptr) {
        if (removed_.insert(transposes[i]).second) before += ", " + fusion::node_text(*transposes[i]);
        node.inputs[i] = transposes[i]->inputs[0];
      } else if (replaced[i]) {
        const std::string name = fresh_name(graph, node.inputs[i] + "_untransposed");
        graph.initializers.emplace(name, std::move(*replaced[i]));
        node.inputs[i] = name;
      }
    }
    return transpose_output(graph, node, perm, before);
  }

  // Softmax, LogSoftmax, Hardmax (opset 13+, over a last axis the perm keeps last), Concat, ReduceMax/ReduceMin
  // and ArgMax/ArgMin fed by private
  // Transposes with one perm (every input of a Concat; the data input of the others, a Reduce's axes input a
  // constant): the axes are remapped through the perm (axis a of Transpose(x) is axis perm[a] of x). A reduction
  // without keepdims leaves the Transpose of the kept axes, which is none at all when they stay in order (NHWC
  // global pooling over H and W). Returns the Transpose now following `node`, or nullptr.
  std::unique_ptr<Node> push_below_axis_op(Graph& graph, Node& node) {
    const std::string& op = node.op_type;
    const bool softmax = (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && node.opset >= 13;
    const bool concat = op == "Concat";
    const bool arg = op == "ArgMax" || op == "ArgMin";
    const bool reduce = kReduceOps.count(op) != 0;
    if (!node.domain.empty() || node.outputs.size() != 1 || node.inputs.empty() ||
        !(softmax || concat || arg || reduce)) {
      return nullptr;
    }
    const size_t data_inputs = concat ? node.inputs.size() : 1;
    std::vector<int64_t> perm;
    std::vector<Node*> transposes(node.inputs.size(), nullptr);
    for (size_t i = 0; i < data_inputs; ++i) {
      const std::string& in = node.inputs[i];
      const int uses = static_cast<int>(std::count(node.inputs.begin(), node.inputs.end(), in));
      Node* t = in.empty() ? nullptr : private_transpose(in, uses);
      if (t == nullptr) return nullptr;
      const std::vector<int64_t> p = t->attr_ints("perm");
      if (!is_permutation(p) || (i > 0 && p != perm)) return nullptr;
      perm = p;
      transposes[i] = t;
    }
    const auto rank = static_cast<int64_t>(perm.size());
    auto remap = [&](int64_t axis) -> std::optional<int64_t> {
      if (axis < -rank || axis >= rank) return std::nullopt;
      return perm[static_cast<size_t>(axis < 0 ? axis + rank : axis)];
    };
    // The axes, before and after remapping; where they live (attribute or constant input 1).
    std::vector<int64_t> axes;
    const Tensor* axes_input = nullptr;
    if (softmax || concat || arg) {
      axes = {node.attr_int("axis", softmax ? -1 : 0)};
      if (concat && !node.has_attribute("axis")) return nullptr;
    } else if (node.has_input(1)) {
      axes_input = fusion::constant_tensor(graph, node.inputs[1]);
      if (axes_input == nullptr || axes_input->dtype() != DType::kInt64 || axes_input->rank() > 1) return nullptr;
      axes.assign(axes_input->data<int64_t>(), axes_input->data<int64_t>() + axes_input->element_count());
    } else {
      axes = node.attr_ints("axes");
    }
    if (softmax) {
      // Only a last axis that stays last: the kernel sums a contiguous row and a strided line in different
      // orders, so moving the axis would change the bits.
      const int64_t axis = axes[0] < 0 ? axes[0] + rank : axes[0];
      if (axis != rank - 1 || perm.back() != rank - 1) return nullptr;
    }
    std::vector<int64_t> moved_axes;
    for (int64_t a : axes) {
      auto m = remap(a);
      if (!m) return nullptr;
      moved_axes.push_back(*m);
    }
    std::vector<int64_t> out_perm = perm;
    const bool keepdims = (!reduce && !arg) || node.attr_int("keepdims", 1) != 0;
    if (!keepdims) {
      const bool all_axes = axes.empty() && (!reduce || node.attr_int("noop_with_empty_axes", 0) == 0);
      if (all_axes) {
        out_perm.clear();  // a scalar-like result: nothing left to transpose
      } else {
        out_perm = kept_axes_perm(perm, moved_axes);
      }
    }
    if (!(concat && data_inputs >= 2) && !is_identity_perm(out_perm) && !pays_off(node)) return nullptr;
    std::string before = fusion::node_text(node);
    for (size_t i = 0; i < data_inputs; ++i) {
      if (removed_.insert(transposes[i]).second) before += ", " + fusion::node_text(*transposes[i]);
      node.inputs[i] = transposes[i]->inputs[0];
    }
    if (softmax || concat || arg) {
      node.set_attr_int("axis", moved_axes[0]);
    } else if (axes_input != nullptr) {
      const std::string name = fresh_name(graph, node.inputs[1] + "_untransposed");
      graph.initializers.emplace(name, Tensor::from_vector<int64_t>(DType::kInt64, moved_axes));
      node.inputs[1] = name;
    } else if (node.has_attribute("axes")) {
      node.attributes["axes"].ints = moved_axes;
    }
    return transpose_output(graph, node, out_perm, before);
  }

  // The perm that the reduced Transpose(x) needs after reducing x over `reduced` (x's axes) without keepdims:
  // the kept axes of Transpose(x), in their order, named by their rank among x's kept axes.
  static std::vector<int64_t> kept_axes_perm(const std::vector<int64_t>& perm, const std::vector<int64_t>& reduced) {
    std::vector<int64_t> kept;
    for (int64_t p : perm) {
      if (std::find(reduced.begin(), reduced.end(), p) == reduced.end()) kept.push_back(p);
    }
    std::vector<int64_t> sorted = kept, out;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t k : kept) out.push_back(std::lower_bound(sorted.begin(), sorted.end(), k) - sorted.begin());
    return out;
  }

  // Gives `node`'s output to a new Transpose(perm) of its result and returns that Transpose; when perm keeps every
  // axis in place (or is empty), no Transpose is needed and nullptr is returned.
  std::unique_ptr<Node> transpose_output(Graph& graph, Node& node, const std::vector<int64_t>& perm,
                                         const std::string& before) {
    if (is_identity_perm(perm)) {
      note(fusion::node_text(node) + " <- " + before);
      return nullptr;
    }
    const std::string output = node.outputs[0];
    node.outputs[0] = fresh_name(graph, output + "_before_transpose");
    auto moved = std::make_unique<Node>();
    moved->name = fresh_name(graph, node.name.empty() ? output + "_transpose" : node.name + "_transpose");
    moved->op_type = "Transpose";
    moved->opset = node.opset;
    moved->inputs = {node.outputs[0]};
    moved->outputs = {output};
    Attribute& perm_attribute = moved->attributes["perm"];
    perm_attribute.name = "perm";
    perm_attribute.type = Attribute::Type::kInts;
    perm_attribute.ints = perm;
    producer_[output] = moved.get();
    producer_[node.outputs[0]] = &node;
    reads_[node.outputs[0]] = 1;
    note(fusion::node_text(node) + ", " + fusion::node_text(*moved) + " <- " + before);
    return moved;
  }

  // Transpose(Transpose(x, p1), p2) where the inner Transpose has other readers too (transpose_cancellation takes
  // only private ones): the outer one reads x with the composed perm, or becomes Identity(x) when they cancel
  // (identity_elimination removes it). A residual branch read both by a pushed-down chain and by the Transpose
  // into a Conv leaves the chain with the only read, so the pushdown can go on.
  void bypass_shared_transpose(Node& outer) {
    if (!is_onnx_op(outer, "Transpose") || outer.inputs.size() != 1 || !outer.has_attribute("perm")) return;
    auto p = producer_.find(outer.inputs[0]);
    if (p == producer_.end() || !is_onnx_op(*p->second, "Transpose") || !p->second->has_attribute("perm")) return;
    const Node& inner = *p->second;
    auto r = reads_.find(outer.inputs[0]);
    if (r == reads_.end() || r->second < 2) return;
    const std::string before = fusion::node_text(outer);
    const std::string input = inner.inputs[0];
    if (!fusion::read_through_transpose(outer, inner)) return;
    --r->second;
    ++reads_[input];
    note(fusion::node_text(outer) + " <- " + before + " (of shared " + fusion::node_text(inner) + ")");
    bypassed_ = true;
  }

  // `base`, or `base` with a number appended, that no value, initializer or node of `graph` uses yet.
  std::string fresh_name(const Graph& graph, const std::string& base) {
    std::string name = base;
    // Node outputs, including those of Transposes not yet inserted, are looked up in producer_.
    auto taken = [&](const std::string& n) {
      return producer_.count(n) != 0 || reads_.count(n) != 0 || names_.count(n) != 0 ||
             graph.initializers.count(n) != 0 || graph.value_types.count(n) != 0 ||
             std::any_of(graph.inputs.begin(), graph.inputs.end(), [&](const ValueInfo& v) { return v.name == n; });
    };
    for (int k = 1; taken(name); ++k) {
      name = base + "_" + std::to_string(k);
    }
    names_.insert(name);
    return name;
  }

  std::unordered_map<std::string, int> reads_;
  std::unordered_map<std::string, Node*> producer_;
  fusion::GraphIndex index_;  // for the walk ahead of a node, over nodes the run has not rewritten yet
  std::unordered_set<const Node*> removed_;
  std::unordered_set<std::string> names_;
  bool bypassed_ = false;
};

}  // namespace

std::unique_ptr<GraphPass> make_transpose_pushdown() { return std::make_unique<TransposePushdown>(); }

}  // namespace tessera

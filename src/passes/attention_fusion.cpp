// Fuses the scaled-dot-product attention subgraph exporters write for multi-head attention,
//
//   q, k, v [B, S, N*H]  -> Reshape [B, S, N, H] -> Transpose: q (0,2,1,3), k (0,2,3,1), v (0,2,1,3)
//   scores = MatMul(q', k') (Div c | Mul c)? (Add mask)? -> Softmax(last axis) -> MatMul(., v')
//   -> Transpose (0,2,1,3) -> Reshape [B, S, N*H]
//
// into one com.tessera Attention node: the semantics of ONNX Attention (opset 23) with 3-D inputs,
// q_num_heads = kv_num_heads = N, scale = 1/c (or c), and the additive mask as attn_mask. The kernel reads Q, K
// and V in place and writes the output rows directly, so the four transposes, the scale, the mask add and the
// softmax pass over memory disappear. Matched only when every intermediate is read inside the pattern, the
// reshapes only split or merge the last dimension (checked against inferred shapes). A float mask must cover
// exactly the keys: where inference cannot prove its last dim equals K's sequence length (a dynamic-axes export,
// whose position embedding slice hides that the key length is the mask's `sequence`), an Expand of the mask to
// the key length (Shape, Gather) goes before the fused node, so a last dim of 1 broadcasts as the Add did instead of
// reading as padding. A constant causal mask (0 on and below the diagonal, -1e4 or less above) becomes
// is_causal = 1, so the kernel skips the masked keys instead of adding the mask. PyTorch nn.MultiheadAttention's
// [S, B*N, H] layout is matched in attention_fusion_seq_first.cpp.
#include "passes/attention_fusion.h"

#include <algorithm>

#include "passes/pass.h"

namespace tessera {

namespace attention_fusion {

using fusion::is_onnx_op;

const std::vector<Dim>* AttentionMatcher::shape_of(const std::string& value) const {
  const TypeInfo* t = graph_->find_type(value);
  return t != nullptr && t->is_tensor() && t->elem_type == DType::kFloat && t->shape ? &*t->shape : nullptr;
}

// The constant int64 target of a Reshape (allowzero 0), or nullopt.
std::optional<std::vector<int64_t>> AttentionMatcher::reshape_target(const Node& reshape) const {
  if (!is_onnx_op(reshape, "Reshape") || reshape.inputs.size() != 2 || reshape.attr_int("allowzero", 0) != 0) {
    return std::nullopt;
  }
  const Tensor* t = fusion::constant_tensor(*graph_, reshape.inputs[1]);
  if (t == nullptr || t->dtype() != DType::kInt64 || t->rank() != 1) return std::nullopt;
  return std::vector<int64_t>(t->data<int64_t>(), t->data<int64_t>() + t->element_count());
}

namespace {

// True when target entry `i` keeps dim i of `shape` (0, or the same known value; -1 allowed where `minus_one_ok`).
bool keeps_dim(int64_t target, const std::vector<Dim>& shape, size_t i, bool minus_one_ok) {
  if (target == 0) return true;
  if (target == -1) return minus_one_ok;
  return shape[i].is_known() && shape[i].value == target;
}

// True when `mask` is a constant additive causal mask: leading dims 1, last two [S, S], 0 on and below the diagonal
// and -1e4 or less above it (exp of which underflows to 0 next to any real score), so is_causal = 1 replaces it.
bool is_causal_mask(const Graph& graph, const std::string& mask) {
  const Tensor* t = fusion::constant_tensor(graph, mask);
  if (t == nullptr || t->dtype() != DType::kFloat || t->rank() < 2) return false;
  const int64_t rows = t->dim(t->rank() - 2), cols = t->dim(t->rank() - 1);
  if (rows != cols || rows * cols != t->element_count()) return false;
  const float* v = t->data<float>();
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const float x = v[i * cols + j];
      if (j <= i ? x != 0.0f : !(x <= -1e4f)) return false;
    }
  }
  return true;
}

}  // namespace

// Matches Transpose(Reshape(x, [B, S, N, H]), perm): returns x and sets heads/size.
std::optional<std::string> AttentionMatcher::split_heads(const std::string& value, const std::vector<int64_t>& perm,
                                                         int64_t& heads, int64_t& size,
                                                         std::vector<const Node*>& nodes) const {
  const Node* transpose = index_->private_producer(value);
  if (transpose == nullptr || !is_onnx_op(*transpose, "Transpose") || transpose->attr_ints("perm") != perm) {
    return std::nullopt;
  }
  const Node* reshape = index_->private_producer(transpose->inputs[0]);
  if (reshape == nullptr) return std::nullopt;
  std::optional<std::vector<int64_t>> target = reshape_target(*reshape);
  const std::vector<Dim>* shape = shape_of(reshape->inputs[0]);
  if (!target || target->size() != 4 || shape == nullptr || shape->size() != 3) return std::nullopt;
  const int64_t n = (*target)[2];
  if (n <= 0 || !(*shape)[2].is_known() || (*shape)[2].value % n != 0 || (*target)[1] == -1) return std::nullopt;
  const int64_t h = (*shape)[2].value / n;
  if ((*target)[3] != h && (*target)[3] != -1) return std::nullopt;
  // With the batch dim kept and the last dim split exactly, the element count leaves the sequence dim no choice.
  if (!keeps_dim((*target)[0], *shape, 0, false) || (*target)[1] < 0) return std::nullopt;
  if (heads != 0 && heads != n) return std::nullopt;
  heads = n;
  size = h;
  nodes.push_back(transpose);
  nodes.push_back(reshape);
  return reshape->inputs[0];
}

// The QK^T MatMul under the softmax input `value`, with the scale applied after it.
const Node* AttentionMatcher::scores(const std::string& value, float& scale, std::vector<const Node*>& nodes) const {
  const Node* n = index_->private_producer(value);
  if (n == nullptr) return nullptr;
  if (is_onnx_op(*n, "MatMul")) return n;
  if (n->inputs.size() != 2) return nullptr;
  std::optional<float> c;
  std::string rest;
  if (is_onnx_op(*n, "Div")) {
    c = fusion::scalar_float_constant(*graph_, n->inputs[1]);
    if (c && *c != 0.0f) scale = 1.0f / *c;
    rest = n->inputs[0];
  } else if (is_onnx_op(*n, "Mul")) {
    for (int side = 0; side < 2 && !c; ++side) {
      c = fusion::scalar_float_constant(*graph_, n->inputs[side]);
      if (c) {
        scale = *c;
        rest = n->inputs[1 - side];
      }
    }
  }
  if (!c || *c == 0.0f) return nullptr;
  const Node* mm = index_->private_producer(rest);
  if (mm == nullptr || !is_onnx_op(*mm, "MatMul")) return nullptr;
  nodes.push_back(n);
  return mm;
}

std::optional<AttentionMatch> AttentionMatcher::match(const Node& softmax) {
  const std::vector<Dim>* probs_shape = shape_of(softmax.outputs[0]);
  if (probs_shape == nullptr || (probs_shape->size() != 4 && probs_shape->size() != 3)) return std::nullopt;
  const int64_t axis = softmax.attr_int("axis", softmax.opset >= 13 ? -1 : 1);
  if (axis != -1 && axis != static_cast<int64_t>(probs_shape->size()) - 1) return std::nullopt;
  if (softmax.opset > 0) opset_ = softmax.opset;
  AttentionMatch m;
  m.nodes.push_back(&softmax);
  // Softmax input: scores, or scores + mask.
  const Node* qk = nullptr;
  const Node* add = index_->private_producer(softmax.inputs[0]);
  if (add != nullptr && is_onnx_op(*add, "Add") && add->inputs.size() == 2) {
    for (int side = 0; side < 2 && qk == nullptr; ++side) {
      std::vector<const Node*> scale_nodes;
      float scale = 1.0f;
      qk = scores(add->inputs[side], scale, scale_nodes);
      if (qk != nullptr) {
        m.mask = add->inputs[1 - side];
        m.scale = scale;
        m.nodes.push_back(add);
        m.nodes.insert(m.nodes.end(), scale_nodes.begin(), scale_nodes.end());
      }
    }
  } else {
    qk = scores(softmax.inputs[0], m.scale, m.nodes);
  }
  if (qk == nullptr || qk->inputs.size() != 2) return std::nullopt;
  m.nodes.push_back(qk);
  const bool matched =
      probs_shape->size() == 4 ? match_batch_first(softmax, *qk, m) : match_seq_first(softmax, *qk, m);
  if (!matched) return std::nullopt;
  if (m.attention_output.empty()) m.attention_output = m.y;
  return m;
}

bool AttentionMatcher::match_batch_first(const Node& softmax, const Node& qk, AttentionMatch& m) {
  int64_t head_size = 0, key_size = 0, value_size = 0;
  std::optional<std::string> q = split_heads(qk.inputs[0], {0, 2, 1, 3}, m.heads, head_size, m.nodes);
  std::optional<std::string> k = split_heads(qk.inputs[1], {0, 2, 3, 1}, m.heads, key_size, m.nodes);
  if (!q || !k || key_size != head_size) return false;
  // Probabilities times V.
  const Node* pv = index_->only_consumer(softmax.outputs[0]);
  if (pv == nullptr || !is_onnx_op(*pv, "MatMul") || pv->inputs.size() != 2 || pv->inputs[0] != softmax.outputs[0]) {
    return false;
  }
  std::optional<std::string> v = split_heads(pv->inputs[1], {0, 2, 1, 3}, m.heads, value_size, m.nodes);
  if (!v) return false;
  m.nodes.push_back(pv);
  // Merge the heads back.
  const Node* transpose = index_->only_consumer(pv->outputs[0]);
  if (transpose == nullptr || !is_onnx_op(*transpose, "Transpose") ||
      transpose->attr_ints("perm") != std::vector<int64_t>{0, 2, 1, 3}) {
    return false;
  }
  const Node* merge = index_->only_consumer(transpose->outputs[0]);
  if (merge == nullptr || merge->inputs[0] != transpose->outputs[0]) return false;
  std::optional<std::vector<int64_t>> target = reshape_target(*merge);
  const std::vector<Dim>* q_shape = shape_of(*q);
  if (!target || target->size() != 3 || q_shape == nullptr) return false;
  const int64_t merged = (*target)[2];
  if (!keeps_dim((*target)[0], *q_shape, 0, false) || (*target)[1] < -1 ||
      (merged != m.heads * value_size && !(merged == -1 && (*target)[1] != -1))) {
    return false;
  }
  m.nodes.push_back(transpose);
  m.nodes.push_back(merge);
  m.last = merge;
  m.q = *q;
  m.k = *k;
  m.v = *v;
  m.y = merge->outputs[0];
  if (m.mask.empty()) return true;
  // A float mask that spans exactly the keys (a shorter one would mean padding to ONNX Attention).
  const std::vector<Dim>* mask_shape = shape_of(m.mask);
  const std::vector<Dim>* k_shape = shape_of(m.k);
  if (mask_shape == nullptr || k_shape == nullptr || mask_shape->empty() || mask_shape->size() > 4) return false;
  // A constant mask's own shape beats a declared type the exporter wrote for the value it folded from.
  const Tensor* constant_mask = fusion::constant_tensor(*graph_, m.mask);
  const Dim keys =
      constant_mask != nullptr && constant_mask->rank() > 0 ? Dim::known(constant_mask->shape().back()) : mask_shape->back();
  const Dim& k_len = (*k_shape)[1];
  if (keys.is_known() && k_len.is_known()) return keys.value == k_len.value;
  if (!keys.symbol.empty() && keys.symbol == k_len.symbol) return true;
  // Not provable: the mask goes through an Expand to the key length (a last dim of 1 broadcasts, as in the Add).
  m.mask = expand(m, m.mask, dim_value(m, m.k, 1));
  return true;
}

std::string AttentionMatcher::fresh_name(const std::string& base) {
  std::string name = base;
  for (int k = 1; graph_->defines(name) || std::find(made_.begin(), made_.end(), name) != made_.end(); ++k) {
    name = base + "_" + std::to_string(k);
  }
  made_.push_back(name);
  return name;
}

Node& AttentionMatcher::add_node(std::vector<std::unique_ptr<Node>>& list, const std::string& op_type,
                                 std::vector<std::string> inputs, const std::string& output) {
  auto node = std::make_unique<Node>();
  node->name = output;
  node->op_type = op_type;
  node->opset = opset_;
  node->inputs = std::move(inputs);
  node->outputs = {output};
  list.push_back(std::move(node));
  return *list.back();
}

std::string AttentionMatcher::add_constant(AttentionMatch& m, const std::string& base,
                                           const std::vector<int64_t>& values) {
  const std::string name = fresh_name(base);
  m.constants.emplace_back(name, Tensor::from_vector<int64_t>(DType::kInt64, values));
  return name;
}

std::string AttentionMatcher::expand(AttentionMatch& m, const std::string& mask, const std::string& shape) {
  const std::string out = fresh_name(m.y + "_attention_mask");
  add_node(m.before, "Expand", {mask, shape}, out);
  return out;
}

std::string AttentionMatcher::dim_value(AttentionMatch& m, const std::string& value, int64_t axis) {
  const std::string key = value + "#" + std::to_string(axis);
  for (const auto& [k, made] : m.dims)
    if (k == key) return made;
  const std::string shape = fresh_name(value + "_shape");
  add_node(m.before, "Shape", {value}, shape);
  const std::string dim = fresh_name(value + "_dim" + std::to_string(axis));
  add_node(m.before, "Gather", {shape, add_constant(m, dim + "_index", {axis})}, dim).set_attr_int("axis", 0);
  m.dims.emplace_back(key, dim);
  return dim;
}

void AttentionMatcher::set_perm(Node& node, const std::vector<int64_t>& perm) const {
  Attribute a;
  a.name = "perm";
  a.type = Attribute::Type::kInts;
  a.ints = perm;
  node.attributes["perm"] = a;
}

}  // namespace attention_fusion

namespace {

using attention_fusion::AttentionMatch;

class AttentionFusion final : public GraphPass {
 public:
  std::string name() const override { return "attention_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "Softmax")) return false;
    fusion::infer_types(graph);
    const fusion::GraphIndex index(graph);
    attention_fusion::AttentionMatcher matcher(graph, index);
    std::vector<AttentionMatch> matches;
    for (const auto& node : graph.nodes) {
      if (!fusion::is_onnx_op(*node, "Softmax")) continue;
      if (std::optional<AttentionMatch> m = matcher.match(*node)) matches.push_back(std::move(*m));
    }
    if (matches.empty()) return false;
    std::vector<const Node*> removed;
    std::vector<std::unique_ptr<Node>> fused;  // made before the node list changes (constant_tensor reads it)
    for (AttentionMatch& m : matches) {
      for (const Node* n : m.nodes)
        if (n != m.last) removed.push_back(n);
      fused.push_back(make_fused(graph, m));
    }
    std::vector<std::unique_ptr<Node>> nodes;
    for (auto& slot : graph.nodes) {
      auto m = std::find_if(matches.begin(), matches.end(), [&](const AttentionMatch& x) { return x.last == slot.get(); });
      if (m == matches.end()) {
        if (std::find(removed.begin(), removed.end(), slot.get()) == removed.end()) nodes.push_back(std::move(slot));
        continue;
      }
      for (auto& n : m->before) nodes.push_back(std::move(n));
      nodes.push_back(std::move(fused[static_cast<size_t>(m - matches.begin())]));
      note(fusion::describe_fusion(*nodes.back(), m->nodes));
      for (auto& n : m->after) nodes.push_back(std::move(n));
      for (auto& [name, value] : m->constants) graph.initializers[name] = std::move(value);
    }
    graph.nodes = std::move(nodes);
    graph.sort_topologically();  // a replaced Shape's readers may come before the fused node's slot
    return true;
  }

 private:
  static std::unique_ptr<Node> make_fused(const Graph& graph, const AttentionMatch& m) {
    auto node = std::make_unique<Node>();
    node->name = (m.last->name.empty() ? m.y : m.last->name) + "_attention";
    node->op_type = "Attention";
    node->domain = kTesseraDomain;
    node->opset = 1;
    node->inputs = {m.q, m.k, m.v};
    const bool causal = !m.mask.empty() && attention_fusion::is_causal_mask(graph, m.mask);
    if (!m.mask.empty() && !causal) node->inputs.push_back(m.mask);
    node->outputs = {m.attention_output};
    node->set_attr_int("q_num_heads", m.heads);
    node->set_attr_int("kv_num_heads", m.heads);
    if (causal) node->set_attr_int("is_causal", 1);
    node->set_attr_float("scale", m.scale);
    return node;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_attention_fusion() { return std::make_unique<AttentionFusion>(); }

}  // namespace tessera

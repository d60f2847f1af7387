// attention_fusion for PyTorch nn.MultiheadAttention's layout (torch.nn.functional.multi_head_attention_forward as
// torch 1.13 exports it, batch_first or not: batch_first only transposes the input before the projection):
//
//   q, k, v [S, B, N*H] -> Reshape [S, B*N, H] -> Transpose: q (1,0,2) (Div c | Mul c)?, k (1,2,0), v (1,0,2)
//   scores = MatMul(q', k') (Mul c)? (Add mask)? -> Softmax(last axis) -> MatMul(., v') -> Transpose (1,0,2)
//   -> [S, B*N, H]
//
// becomes Transpose (1,0,2) of q, k and v to [B, S, N*H], com.tessera Attention over them, and Transpose (1,0,2)
// plus Reshape [0, -1, H] back to the pattern's [S, B*N, H] output (whose reader, the output projection's
// Reshape, stays). The reshapes' targets are computed at run time in a dynamic-axes export
// (Concat(Unsqueeze(Gather(Shape(x), 0)), Unsqueeze(B * N), [H])): the first piece must be dim 0 of the reshaped
// value (by the value itself or by its inferred dim), the last a constant H dividing its hidden size; the element
// count then fixes the middle one as B*N. The mask (key padding mask and/or attn_mask merged, [B*N, 1|S, S'] or
// [1, S, S'] or [S, S']) is broadcast to [B*N, 1, keys] by an Expand (so every rank, and a last dim of 1, behave as
// in the Add), then split to [B, N, 1|S, keys] by Unsqueeze and Reshape [-1, N, 0, 0]. A K reshape that is also
// read elsewhere (the export reads K's shape for the mask) stays.
#include <algorithm>

#include "passes/attention_fusion.h"

namespace tessera::attention_fusion {

using fusion::is_onnx_op;

struct AttentionMatcher::Split {
  std::string x;  // the [S, B, N*H] value split into heads
  int64_t heads = 0, size = 0;
  std::string batch_heads;  // a 1-D int64 value holding B*N at run time, or "" (then `batch_heads_value`)
  int64_t batch_heads_value = 0;
  // Other readers of the split [S, B*N, H] that only read its shape through a Transpose (Shape(Transpose(split)),
  // as the export reads the key length for the mask); the reshape stays when it has readers of other kinds.
  std::vector<const Node*> shape_transposes;
  const Node* reshape = nullptr;
};

namespace {

// The one value of a 1-element int64 constant piece, or nullopt.
std::optional<int64_t> constant_piece(const Graph& graph, const std::string& piece) {
  const Tensor* t = fusion::constant_tensor(graph, piece);
  if (t == nullptr || t->dtype() != DType::kInt64 || t->element_count() != 1 || t->rank() > 1) return std::nullopt;
  return t->data<int64_t>()[0];
}

// True for a 1-D int64 value of one element (a piece of a runtime shape).
bool one_element(const Graph& graph, const std::string& value) {
  const TypeInfo* t = graph.find_type(value);
  return t != nullptr && t->is_tensor() && t->elem_type == DType::kInt64 && t->shape && t->shape->size() == 1 &&
         (*t->shape)[0].is_known() && (*t->shape)[0].value == 1;
}

bool same_dim(const Dim& a, const Dim& b) {
  return (a.is_known() && b.is_known() && a.value == b.value) || (!a.symbol.empty() && a.symbol == b.symbol);
}

}  // namespace

// True when the shape piece (`constant`, or the runtime value `piece`) is dim 0 of `x`: 0 (copy), x's known dim 0,
// or Unsqueeze(Gather(Shape(y), 0)) / Gather(Shape(y), [0]) of x or of a value whose dim 0 is x's.
bool AttentionMatcher::dim0_of(const std::string& piece, std::optional<int64_t> constant, const std::string& x) const {
  const std::vector<Dim>* x_shape = shape_of(x);
  if (x_shape == nullptr || x_shape->empty()) return false;
  if (constant) return *constant == 0 || ((*x_shape)[0].is_known() && (*x_shape)[0].value == *constant);
  const Node* node = index_->producer(piece);
  if (node != nullptr && is_onnx_op(*node, "Unsqueeze")) {
    if (fusion::unsqueeze_axes(*graph_, *node) != std::vector<int64_t>{0}) return false;
    node = index_->producer(node->inputs[0]);
  }
  if (node == nullptr || !is_onnx_op(*node, "Gather") || node->inputs.size() != 2 || node->attr_int("axis", 0) != 0)
    return false;
  const Tensor* index = fusion::constant_tensor(*graph_, node->inputs[1]);
  if (index == nullptr || index->element_count() != 1 || fusion::scalar_int_constant(*graph_, node->inputs[1]) != 0)
    return false;
  const Node* shape = index_->producer(node->inputs[0]);
  if (shape == nullptr || !is_onnx_op(*shape, "Shape") || shape->has_attribute("start") || shape->has_attribute("end"))
    return false;
  const std::string& y = shape->inputs[0];
  const TypeInfo* y_type = graph_->find_type(y);
  if (y_type != nullptr && y_type->is_tensor() && y_type->shape && !y_type->shape->empty() &&
      same_dim((*y_type->shape)[0], (*x_shape)[0])) {
    return true;
  }
  // x computed from y by nodes that keep dim 0 (inference lost the symbols after a dynamic reshape).
  std::string value = x;
  for (int depth = 0; depth < 6; ++depth) {
    if (value == y) return true;
    const Node* p = index_->producer(value);
    if (p == nullptr || p->inputs.empty()) return false;
    if (is_onnx_op(*p, "Slice") || is_onnx_op(*p, "Split")) {
      if (!splits_last_axis(*p)) return false;
    } else if (is_onnx_op(*p, "MatMul") || (p->domain == kTesseraDomain && p->op_type == "MatMulBias")) {
      const Tensor* w = p->inputs.size() >= 2 ? fusion::constant_tensor(*graph_, p->inputs[1]) : nullptr;
      if (w == nullptr || w->rank() != 2) return false;
    } else if (is_onnx_op(*p, "Add") || is_onnx_op(*p, "Mul")) {
      const Tensor* c = p->inputs.size() == 2 ? fusion::constant_tensor(*graph_, p->inputs[1]) : nullptr;
      if (c == nullptr) {
        c = p->inputs.size() == 2 ? fusion::constant_tensor(*graph_, p->inputs[0]) : nullptr;
        if (c == nullptr || c->rank() > 1) return false;
        value = p->inputs[1];
        continue;
      }
      if (c->rank() > 1) return false;
    } else {
      return false;
    }
    value = p->inputs[0];
  }
  return false;
}

// True for a Slice or Split along the last axis only (constant axes; rank from inference), which keeps dim 0.
bool AttentionMatcher::splits_last_axis(const Node& node) const {
  const TypeInfo* t = graph_->find_type(node.inputs[0]);
  if (t == nullptr || !t->is_tensor() || !t->shape || t->shape->size() < 2) return false;
  const auto rank = static_cast<int64_t>(t->shape->size());
  std::vector<int64_t> axes;
  if (is_onnx_op(node, "Split")) {
    axes = {node.attr_int("axis", 0)};
  } else if (node.inputs.size() >= 4) {
    const Tensor* a = fusion::constant_tensor(*graph_, node.inputs[3]);
    if (a == nullptr || a->dtype() != DType::kInt64) return false;
    axes.assign(a->data<int64_t>(), a->data<int64_t>() + a->element_count());
  } else if (node.inputs.size() == 1) {
    axes = node.attr_ints("axes");  // Slice-1: attribute axes (absent: every axis)
  }
  if (axes.empty()) return false;
  return std::all_of(axes.begin(), axes.end(), [&](int64_t a) { return a == -1 || a == rank - 1; });
}

// Matches Transpose(Reshape(x [S, B, N*H], [S, B*N, H]), perm).
std::optional<AttentionMatcher::Split> AttentionMatcher::split_seq_first(const std::string& value,
                                                                         const std::vector<int64_t>& perm,
                                                                         std::vector<const Node*>& nodes) const {
  const Node* transpose = index_->private_producer(value);
  if (transpose == nullptr || !is_onnx_op(*transpose, "Transpose") || transpose->attr_ints("perm") != perm)
    return std::nullopt;
  const Node* reshape = index_->producer(transpose->inputs[0]);
  if (reshape == nullptr || !is_onnx_op(*reshape, "Reshape") || reshape->inputs.size() != 2 ||
      reshape->attr_int("allowzero", 0) != 0)
    return std::nullopt;
  Split s;
  s.x = reshape->inputs[0];
  const std::vector<Dim>* shape = shape_of(s.x);
  if (shape == nullptr || shape->size() != 3 || !(*shape)[2].is_known()) return std::nullopt;
  // The target's three pieces: constants, or one-element values of a Concat.
  std::vector<std::string> pieces(3);
  std::vector<std::optional<int64_t>> constants(3);
  if (std::optional<std::vector<int64_t>> target = reshape_target(*reshape)) {
    if (target->size() != 3) return std::nullopt;
    for (size_t i = 0; i < 3; ++i) constants[i] = (*target)[i];
  } else {
    const Node* concat = index_->producer(reshape->inputs[1]);
    if (concat == nullptr || !is_onnx_op(*concat, "Concat") || concat->attr_int("axis", 0) != 0 ||
        concat->inputs.size() != 3)
      return std::nullopt;
    for (size_t i = 0; i < 3; ++i) {
      pieces[i] = concat->inputs[i];
      constants[i] = constant_piece(*graph_, pieces[i]);
      if (!constants[i] && !one_element(*graph_, pieces[i])) return std::nullopt;
    }
  }
  const int64_t hidden = (*shape)[2].value;
  if (!constants[2] || *constants[2] <= 0 || hidden % *constants[2] != 0) return std::nullopt;
  if (!dim0_of(pieces[0], constants[0], s.x)) return std::nullopt;
  s.size = *constants[2];
  s.heads = hidden / s.size;
  if (constants[1]) {
    s.batch_heads_value = *constants[1];
  } else {
    s.batch_heads = pieces[1];
  }
  nodes.push_back(transpose);
  s.reshape = reshape;
  if (index_->reads(transpose->inputs[0]) == 1)
    nodes.push_back(reshape);
  else
    s.shape_transposes = shape_only_readers(transpose->inputs[0], *transpose);
  return s;
}

// The Transposes reading `value` besides `split_transpose` when each is read by Shape nodes (no start/end) only,
// and nothing else reads `value`; else none.
std::vector<const Node*> AttentionMatcher::shape_only_readers(const std::string& value,
                                                              const Node& split_transpose) const {
  const std::vector<Node*>& readers = index_->consumers(value);
  if (static_cast<int>(readers.size()) != index_->reads(value)) return {};  // a graph output or subgraph reads it
  std::vector<const Node*> transposes;
  for (const Node* r : readers) {
    if (r == &split_transpose) continue;
    if (!is_onnx_op(*r, "Transpose") || r->inputs[0] != value || r->attr_ints("perm").size() != 3) return {};
    const std::vector<Node*>& shapes = index_->consumers(r->outputs[0]);
    if (shapes.empty() || static_cast<int>(shapes.size()) != index_->reads(r->outputs[0])) return {};
    for (const Node* shape : shapes) {
      if (!is_onnx_op(*shape, "Shape") || shape->has_attribute("start") || shape->has_attribute("end")) return {};
    }
    transposes.push_back(r);
  }
  return transposes;
}

// Shape(Transpose(split, perm)) -> Concat of the split's dims [S, B*N, H] in perm's order, so the split reshape
// and that transpose (a copy of K, only for its shape) go with the pattern.
void AttentionMatcher::replace_shape_readers(const Split& split, AttentionMatch& m) {
  if (split.shape_transposes.empty() || (split.batch_heads.empty() && split.batch_heads_value <= 0)) return;
  const std::string batch_heads =
      split.batch_heads.empty() ? add_constant(m, m.y + "_batch_heads", {split.batch_heads_value}) : split.batch_heads;
  const std::string dims[3] = {dim_value(m, split.x, 0), batch_heads,
                               add_constant(m, split.x + "_head_size", {split.size})};
  for (const Node* transpose : split.shape_transposes) {
    const std::vector<int64_t> perm = transpose->attr_ints("perm");
    for (const Node* shape : index_->consumers(transpose->outputs[0])) {
      std::vector<std::string> pieces;
      for (int64_t p : perm) pieces.push_back(dims[p < 0 ? p + 3 : p]);
      add_node(m.before, "Concat", pieces, shape->outputs[0]).set_attr_int("axis", 0);
      m.nodes.push_back(shape);
    }
    m.nodes.push_back(transpose);
  }
  m.nodes.push_back(split.reshape);
}

bool AttentionMatcher::match_seq_first(const Node& softmax, const Node& qk, AttentionMatch& m) {
  // Q, with a scale applied to it before the product (torch divides q by sqrt(H)).
  std::string q_value = qk.inputs[0];
  const Node* q_scale = index_->private_producer(q_value);
  if (q_scale != nullptr && (is_onnx_op(*q_scale, "Div") || is_onnx_op(*q_scale, "Mul")) &&
      q_scale->inputs.size() == 2) {
    const bool divide = is_onnx_op(*q_scale, "Div");
    std::optional<float> c = fusion::scalar_float_constant(*graph_, q_scale->inputs[1]);
    int side = 0;
    if (!c && !divide) {
      c = fusion::scalar_float_constant(*graph_, q_scale->inputs[0]);
      side = 1;
    }
    if (!c || *c == 0.0f) return false;
    m.scale *= divide ? 1.0f / *c : *c;
    q_value = q_scale->inputs[side];
    m.nodes.push_back(q_scale);
  }
  std::optional<Split> q = split_seq_first(q_value, {1, 0, 2}, m.nodes);
  std::optional<Split> k = split_seq_first(qk.inputs[1], {1, 2, 0}, m.nodes);
  if (!q || !k || k->heads != q->heads || k->size != q->size) return false;
  const Node* pv = index_->only_consumer(softmax.outputs[0]);
  if (pv == nullptr || !is_onnx_op(*pv, "MatMul") || pv->inputs.size() != 2 || pv->inputs[0] != softmax.outputs[0])
    return false;
  std::optional<Split> v = split_seq_first(pv->inputs[1], {1, 0, 2}, m.nodes);
  if (!v || v->heads != q->heads) return false;
  m.nodes.push_back(pv);
  const Node* merge = index_->only_consumer(pv->outputs[0]);
  if (merge == nullptr || !is_onnx_op(*merge, "Transpose") || merge->attr_ints("perm") != std::vector<int64_t>{1, 0, 2})
    return false;
  m.nodes.push_back(merge);
  m.last = merge;
  m.heads = q->heads;
  m.y = merge->outputs[0];
  if (!m.mask.empty() && !stage_seq_first_mask(*q, k->x, m)) return false;
  for (const Split* split : {&*q, &*k, &*v}) replace_shape_readers(*split, m);
  // [S, B, N*H] -> [B, S, N*H] for Q, K and V; the output back to [S, B*N, H].
  std::string* staged[] = {&m.q, &m.k, &m.v};
  const Split* splits[] = {&*q, &*k, &*v};
  for (int i = 0; i < 3; ++i) {
    *staged[i] = fresh_name(splits[i]->x + "_batch_first");
    set_perm(add_node(m.before, "Transpose", {splits[i]->x}, *staged[i]), {1, 0, 2});
  }
  m.attention_output = fresh_name(m.y + "_batch_first");
  const std::string seq_first = fresh_name(m.y + "_seq_first");
  set_perm(add_node(m.after, "Transpose", {m.attention_output}, seq_first), {1, 0, 2});
  add_node(m.after, "Reshape", {seq_first, add_constant(m, m.y + "_shape", {0, -1, v->size})}, m.y);
  return true;
}

// The mask as [B, N, 1|S, keys] (or as it stands when it is a constant that already broadcasts to that).
bool AttentionMatcher::stage_seq_first_mask(const Split& q, const std::string& k_source, AttentionMatch& m) {
  const std::vector<Dim>* mask_shape = shape_of(m.mask);
  const std::vector<Dim>* k_shape = shape_of(k_source);
  if (mask_shape == nullptr || mask_shape->empty() || mask_shape->size() > 3 || k_shape == nullptr) return false;
  const Tensor* constant = fusion::constant_tensor(*graph_, m.mask);
  if (constant != nullptr && constant->rank() >= 1 && (constant->rank() <= 2 || constant->dim(0) == 1) &&
      (*k_shape)[0].is_known() && constant->shape().back() == (*k_shape)[0].value) {
    return true;
  }
  std::string batch_heads = q.batch_heads;
  if (batch_heads.empty()) {
    if (q.batch_heads_value <= 0) return false;
    batch_heads = add_constant(m, m.y + "_batch_heads", {q.batch_heads_value});
  }
  const std::string shape = fresh_name(m.y + "_mask_shape");
  add_node(m.before, "Concat", {batch_heads, add_constant(m, m.y + "_one", {1}), dim_value(m, k_source, 0)}, shape)
      .set_attr_int("axis", 0);
  const std::string expanded = expand(m, m.mask, shape);
  const std::string unsqueezed = fresh_name(m.y + "_mask_heads");
  if (opset_ >= 13) {
    add_node(m.before, "Unsqueeze", {expanded, add_constant(m, m.y + "_axes", {1})}, unsqueezed);
  } else {
    Attribute axes;
    axes.name = "axes";
    axes.type = Attribute::Type::kInts;
    axes.ints = {1};
    add_node(m.before, "Unsqueeze", {expanded}, unsqueezed).attributes["axes"] = axes;
  }
  m.mask = fresh_name(m.y + "_mask");
  add_node(m.before, "Reshape", {unsqueezed, add_constant(m, m.y + "_mask_target", {-1, q.heads, 0, 0})}, m.mask);
  return true;
}

}  // namespace tessera::attention_fusion

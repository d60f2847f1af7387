// com.microsoft Attention (ONNX Runtime's contrib op, the one its transformer optimizer writes into BERT and GPT-2
// models): input [B, S, In] projected by one packed weight [In, Hq + Hk + Hv] (qkv_hidden_sizes, or 3 equal parts)
// plus bias into Q, K and V of num_heads heads; scores scaled by `scale` (default 1 / sqrt(head size)); mask_index
// in ONNX Runtime's CPU forms: [B] (keys at or after end[b] masked), [2B] (also keys before start[b]), [B, T] and
// [B, S, T] (0 = masked); the 4-D Megatron form is refused, as ONNX Runtime's CPU provider refuses it; masked keys get
// mask_filter_value (-10000) added, and `unidirectional` adds it above the diagonal; attention_bias (input 5) is added
// too. A past state (input 4, [2, B, heads, P, head size]) puts P keys and values in front of the S new ones (masks
// then cover T = P + S keys; causality offsets the queries by P). Output [B, S, Hv]; present ([2, B, heads, T, head
// size], K and V) when wanted. past_present_share_buffer is refused. The projection runs on the f32 GEMM (a constant
// weight packed once, the bias in its epilogue); the attention itself is the ONNX Attention kernel. What QAttention
// shares with it: contrib_attention.h.
#include "ops/transformer/contrib_attention.h"

#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/transformer/attention.h"

namespace tessera {
namespace transformer {

ContribAttentionConfig parse_contrib_attention_attributes(const Node& node) {
  ContribAttentionConfig c;
  c.label = node.label();
  c.heads = node.attr_int("num_heads", 0);
  check_model(c.heads > 0, c.label, ": ", node.op_type, " (com.microsoft) needs num_heads > 0, got ", c.heads);
  const int64_t uni = node.attr_int("unidirectional", 0);
  check_model(uni == 0 || uni == 1, c.label, ": unidirectional must be 0 or 1, got ", uni);
  c.unidirectional = uni == 1;
  c.mask_filter_value = node.attr_float("mask_filter_value", -10000.0f);
  if (node.has_attribute("scale")) c.scale = node.attr_float("scale", 0);
  return c;
}

}  // namespace transformer

namespace {

using transformer::ContribAttentionConfig;
using transformer::ContribAttentionInputs;

ContribAttentionConfig parse_contrib_attention(const Node& node) {
  ContribAttentionConfig c = transformer::parse_contrib_attention_attributes(node);
  c.qkv_sizes = node.attr_ints("qkv_hidden_sizes", {});
  check_model(c.qkv_sizes.empty() || c.qkv_sizes.size() == 3, c.label, ": qkv_hidden_sizes must have 3 values, got ",
              c.qkv_sizes.size());
  for (int64_t size : c.qkv_sizes) {
    check_model(size > 0 && size % c.heads == 0, c.label, ": qkv_hidden_sizes value ", size,
                " is not a positive multiple of num_heads ", c.heads);
  }
  // The message reads qkv_sizes[0] and [1]: only when there are values (check_model builds its message from
  // references, so indexing an empty vector here was undefined behaviour even when the check passed).
  if (!c.qkv_sizes.empty()) {
    check_model(c.qkv_sizes[0] == c.qkv_sizes[1], c.label, ": qkv_hidden_sizes gives Q and K different sizes (",
                c.qkv_sizes[0], " and ", c.qkv_sizes[1], ")");
  }
  check_model(node.attr_int("past_present_share_buffer", 0) == 0 && node.attr_int("do_rotary", 0) == 0, c.label,
              ": past_present_share_buffer and do_rotary are not supported");
  check_model(!node.has_input(6), c.label,
              ": Attention (com.microsoft) input 6 (past_sequence_length, for past_present_share_buffer) is not "
              "supported");
  return c;
}

// The QKV weight [In, total] packed once at kernel creation when it is a constant (then consumed), with its shape.
struct PackedQkvWeight {
  PackedGemmF32 packed;
  int64_t in = 0, total = 0;
};

std::shared_ptr<const PackedQkvWeight> pack_constant_weight(const KernelInfo& info) {
  const Tensor* w = info.constant_input(1);
  if (w == nullptr || w->dtype() != DType::kFloat || w->rank() != 2 || w->element_count() == 0) return nullptr;
  auto packed = std::make_shared<PackedQkvWeight>();
  packed->in = w->dim(0);
  packed->total = w->dim(1);
  packed->packed = pack_gemm_b_f32(false, packed->in, packed->total, w->data<float>(), packed->total);
  info.consume_constant_input(1);
  return packed;
}

// Q, K and V ([B, S, size] each) from input [B, S, In] times weight [In, total] plus bias [total]; the weight is
// the packed constant when the kernel consumed it.
std::vector<Tensor> project_qkv(const ContribAttentionConfig& c, KernelContext& ctx, const PackedQkvWeight* constant) {
  const Tensor& x = ctx.input(0);
  const bool use_packed = constant != nullptr && !ctx.has_input(1);
  const int64_t w_rows = use_packed ? constant->in : ctx.input(1).dim(0);
  const int64_t total = use_packed ? constant->total : ctx.input(1).dim(1);
  const std::string w_text =
      use_packed ? "float[" + std::to_string(w_rows) + "," + std::to_string(total) + "]" : ctx.input(1).description();
  check_argument(x.dtype() == DType::kFloat && x.rank() == 3, c.label, ": input ", tensor_text(x),
                 " must be float [batch, sequence, input_hidden]");
  if (!use_packed) {
    const Tensor& w = ctx.input(1);
    check_argument(w.dtype() == DType::kFloat && w.rank() == 2, c.label, ": weights ", tensor_text(w),
                   " must be float [", x.dim(2), ", q + k + v hidden]");
  }
  check_argument(w_rows == x.dim(2), c.label, ": weights ", w_text, " must be [", x.dim(2),
                 ", q + k + v hidden] for input ", tensor_text(x));
  std::vector<int64_t> sizes = c.qkv_sizes;
  if (sizes.empty()) {
    check_argument(total % 3 == 0 && (total / 3) % c.heads == 0, c.label, ": weights ", w_text,
                   " do not split into 3 parts of num_heads ", c.heads, " heads");
    sizes = {total / 3, total / 3, total / 3};
  }
  check_argument(sizes[0] + sizes[1] + sizes[2] == total, c.label, ": qkv_hidden_sizes do not add up to weights ",
                 w_text);
  const int64_t rows = x.dim(0) * x.dim(1);
  const float* bias = nullptr;
  if (ctx.has_input(2)) {
    const Tensor& b = ctx.input(2);
    check_argument(b.dtype() == DType::kFloat && b.rank() == 1 && b.dim(0) == total, c.label, ": bias ", tensor_text(b),
                   " must be float [", total, "]");
    bias = b.data<float>();
  }
  Tensor qkv = Tensor::uninitialized(DType::kFloat, {rows, total});
  GemmOperandF32 a;
  a.data = x.data<float>();
  a.ld = x.dim(2);
  GemmOperandF32 b;
  if (use_packed) {
    b.packed = &constant->packed;
  } else {
    b.data = ctx.input(1).data<float>();
    b.ld = total;
  }
  GemmEpilogueF32 epilogue;
  epilogue.column_bias = bias;
  gemm_f32_packed(rows, total, x.dim(2), 1.0f, a, b, 0.0f, qkv.data<float>(), total, &ctx.parallelism(), &epilogue);
  return transformer::split_qkv_columns(qkv, x.dim(0), x.dim(1), sizes);
}

// 1 where key t (of `total`) is attended by query s of batch b according to mask_index (ONNX Runtime's CPU forms).
bool key_attended(const Tensor& m, int64_t b, int64_t s, int64_t t, int64_t batch, int64_t total) {
  if (m.rank() == 1) {
    const int64_t end = m.data<int32_t>()[b];
    const int64_t start = m.dim(0) == 2 * batch ? m.data<int32_t>()[b + batch] : 0;
    return t < end && t >= start;
  }
  if (m.rank() == 2) return m.data<int32_t>()[b * total + t] > 0;
  return m.data<int32_t>()[(b * m.dim(1) + s) * total + t] > 0;
}

void check_mask_index(const ContribAttentionConfig& c, const Tensor& m, int64_t batch, int64_t seq, int64_t total) {
  const std::vector<int64_t>& d = m.shape();
  const bool ok = m.dtype() == DType::kInt32 && ((d.size() == 1 && (d[0] == batch || d[0] == 2 * batch)) ||
                                                 (d.size() == 2 && d[0] == batch && d[1] == total) ||
                                                 (d.size() == 3 && d[0] == batch && d[1] == seq && d[2] == total));
  if (!ok) {
    fail(ErrorCode::kInvalidArgument, c.label, ": mask ", m.description(), " must be int32 [", batch, "], [", 2 * batch,
         "], [", batch, ", ", total, "], [", batch, ", ", seq, ", ", total,
         "] (the 4-D form is not supported, as in ONNX Runtime's CPU provider)");
  }
}

// The additive float mask [B, heads or 1, S, T] for the ONNX kernel: the mask input, causality, attention_bias;
// or an undefined tensor when there is nothing to add. When no term depends on the query (a 1-D or 2-D mask_index
// alone) it is [B, 1, 1, T], one row per batch that the kernel broadcasts over the queries.
Tensor additive_mask(const ContribAttentionConfig& c, KernelContext& ctx, ContribAttentionInputs in, int64_t batch,
                     int64_t seq, int64_t total) {
  const Tensor* mask = ctx.has_input(in.mask) ? &ctx.input(in.mask) : nullptr;
  const Tensor* bias = ctx.has_input(in.bias) ? &ctx.input(in.bias) : nullptr;
  if (mask == nullptr && bias == nullptr && !c.unidirectional) return Tensor();
  if (mask) check_mask_index(c, *mask, batch, seq, total);
  int64_t bias_batch = 1, bias_heads = 1;
  if (bias) {
    if (bias->dtype() != DType::kFloat || bias->rank() != 4 || (bias->dim(0) != 1 && bias->dim(0) != batch) ||
        (bias->dim(1) != 1 && bias->dim(1) != c.heads) || bias->dim(2) != seq || bias->dim(3) != total) {
      fail(ErrorCode::kInvalidArgument, c.label, ": attention_bias ", bias->description(), " must be float [1 or ",
           batch, ", 1 or ", c.heads, ", ", seq, ", ", total, "]");
    }
    bias_batch = bias->dim(0), bias_heads = bias->dim(1);
  }
  const int64_t rows = bias || c.unidirectional || mask->rank() == 3 ? seq : 1;
  Tensor out(DType::kFloat, {batch, bias_heads, rows, total});
  float* o = out.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < bias_heads; ++h) {
      for (int64_t s = 0; s < rows; ++s) {
        for (int64_t t = 0; t < total; ++t) {
          float v = 0;
          if (mask && !key_attended(*mask, b, s, t, batch, total)) v += c.mask_filter_value;
          if (c.unidirectional && t > s + (total - seq)) v += c.mask_filter_value;
          if (bias) v += bias->data<float>()[(((bias_batch == 1 ? 0 : b) * bias_heads + h) * seq + s) * total + t];
          *o++ = v;
        }
      }
    }
  }
  return out;
}

// present = [2, B, heads, S, head size]: K then V with their heads split out.
void write_present(const Tensor& k, const Tensor& v, int64_t heads, Tensor& present) {
  const int64_t batch = k.dim(0), seq = k.dim(1), size = k.dim(2) / heads;
  float* p = present.data<float>();
  for (const Tensor* t : {&k, &v}) {
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t s = 0; s < seq; ++s) {
          std::memcpy(p, t->data<float>() + (b * seq + s) * heads * size + h * size, size * sizeof(float));
          p += size;
        }
      }
    }
  }
}

// Past K or V (past[which] of [2, B, heads, P, size]) followed by the current rows [B, S, heads * size]:
// [B, P + S, heads * size], the layout packed_attention reads.
Tensor joined_with_past(const Tensor& past, int64_t which, const Tensor& current, int64_t heads) {
  const int64_t batch = current.dim(0), seq = current.dim(1), size = current.dim(2) / heads, p = past.dim(3);
  const int64_t total = p + seq, row = heads * size;
  Tensor out = Tensor::uninitialized(DType::kFloat, {batch, total, row});
  const float* from = past.data<float>() + which * batch * heads * p * size;
  float* to = out.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t t = 0; t < p; ++t) {
        std::memcpy(to + (b * total + t) * row + h * size, from + ((b * heads + h) * p + t) * size,
                    size * sizeof(float));
      }
    }
    std::memcpy(to + (b * total + p) * row, current.data<float>() + b * seq * row, seq * row * sizeof(float));
  }
  return out;
}

// K and V with the past state of input `index` in front, when there is one.
std::vector<Tensor> keys_and_values(const ContribAttentionConfig& c, KernelContext& ctx, const std::vector<Tensor>& qkv,
                                    size_t index) {
  if (!ctx.has_input(index)) return {qkv[1], qkv[2]};
  const Tensor& past = ctx.input(index);
  const int64_t batch = qkv[1].dim(0), size = qkv[1].dim(2) / c.heads;
  if (past.dtype() != DType::kFloat || past.rank() != 5 || past.dim(0) != 2 || past.dim(1) != batch ||
      past.dim(2) != c.heads || past.dim(4) != size || qkv[2].dim(2) != qkv[1].dim(2)) {
    fail(ErrorCode::kInvalidArgument, c.label, ": past ", past.description(), " must be float [2, ", batch, ", ",
         c.heads, ", past_sequence, ", size, "] with K and V of one size (", qkv[1].dim(2), " and ", qkv[2].dim(2),
         ")");
  }
  return {joined_with_past(past, 0, qkv[1], c.heads), joined_with_past(past, 1, qkv[2], c.heads)};
}

}  // namespace

namespace transformer {

std::vector<Tensor> split_qkv_columns(const Tensor& qkv, int64_t batch, int64_t seq,
                                      const std::vector<int64_t>& sizes) {
  const int64_t rows = batch * seq, total = qkv.dim(1);
  std::vector<Tensor> parts;
  int64_t column = 0;
  for (int64_t size : sizes) {
    Tensor part = Tensor::uninitialized(DType::kFloat, {batch, seq, size});
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(part.data<float>() + r * size, qkv.data<float>() + r * total + column, size * sizeof(float));
    }
    parts.push_back(std::move(part));
    column += size;
  }
  return parts;
}

void attend_packed_qkv(const ContribAttentionConfig& c, KernelContext& ctx, const std::vector<Tensor>& qkv,
                       ContribAttentionInputs inputs) {
  const int64_t batch = qkv[0].dim(0), seq = qkv[0].dim(1);
  const std::vector<Tensor> kv = keys_and_values(c, ctx, qkv, inputs.past);
  const int64_t total = kv[0].dim(1);
  const Tensor mask = additive_mask(c, ctx, inputs, batch, seq, total);
  Tensor y = transformer::packed_attention(qkv[0], kv[0], kv[1], mask.defined() ? &mask : nullptr, c.heads, c.scale,
                                           ctx.parallelism(), c.label);
  ctx.set_output(0, std::move(y));
  if (ctx.output_wanted(1)) {
    check_argument(kv[0].dim(2) == kv[1].dim(2), c.label, ": present needs K and V of one size, got ", kv[0].dim(2),
                   " and ", kv[1].dim(2));
    Tensor& present = ctx.allocate_output(1, DType::kFloat, {2, batch, c.heads, total, kv[0].dim(2) / c.heads});
    write_present(kv[0], kv[1], c.heads, present);
  }
}

}  // namespace transformer

namespace {

void compute_contrib_attention(const ContribAttentionConfig& c, KernelContext& ctx, const PackedQkvWeight* constant) {
  transformer::attend_packed_qkv(c, ctx, project_qkv(c, ctx, constant), ContribAttentionInputs{3, 5, 4});
}

void infer_contrib_attention(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const std::vector<int64_t> sizes = ctx.node().attr_ints("qkv_hidden_sizes", {});
  std::optional<std::vector<Dim>> shape;
  if (x->shape && x->shape->size() == 3) {
    Dim v_size;
    if (!sizes.empty() && sizes.size() == 3) {
      v_size = Dim::known(sizes[2]);
    } else if (const TypeInfo* w = ctx.input_type(1); w && w->shape && w->shape->size() == 2) {
      const Dim& total = (*w->shape)[1];
      if (total.is_known() && total.value % 3 == 0) v_size = Dim::known(total.value / 3);
    }
    shape = std::vector<Dim>{(*x->shape)[0], (*x->shape)[1], v_size};
  }
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, shape));
  if (ctx.output_count() > 1) ctx.set_output_type(1, TypeInfo::tensor(x->elem_type));
}

const RegisterOp kContribAttention{{.domain = kMicrosoftDomain,
                                    .op_type = "Attention",
                                    .since_version = 1,
                                    .last_version = INT_MAX,
                                    .factory =
                                        [](const KernelInfo& info) {
                                          const ContribAttentionConfig config = parse_contrib_attention(info.node);
                                          std::shared_ptr<const PackedQkvWeight> constant = pack_constant_weight(info);
                                          return make_kernel([config, constant](KernelContext& ctx) {
                                            compute_contrib_attention(config, ctx, constant.get());
                                          });
                                        },
                                    .infer = infer_contrib_attention}};

// ---- com.microsoft MultiHeadAttention ----
// Separate query [B, S, D], key [B, L, D] and value [B, L, Dv] (the form ONNX Runtime's optimizer and exporters
// write for cross and self attention), an optional bias [D + D + Dv] added to them, key_padding_mask [B] (key
// lengths), [2B] or [B, L] (0 = masked; int32), attention_bias [1 or B, 1 or heads, S, L], unidirectional, scale
// and mask_filter_value as for Attention; present_key / present_value [B, heads, L, head size] when wanted. The
// packed forms (query [B, S, N, 3, H], key [B, L, N, 2, H], key absent), a past state and the qk output are refused
// with a clear error.

ContribAttentionConfig parse_multi_head_attention(const Node& node) {
  ContribAttentionConfig c = transformer::parse_contrib_attention_attributes(node);
  check_model(node.has_input(1) && node.has_input(2), c.label,
              ": MultiHeadAttention with packed QKV or KV (key or value absent) is not supported yet");
  check_model(!node.has_input(6) && !node.has_input(7), c.label,
              ": MultiHeadAttention with a past state (past_key, past_value) is not supported yet");
  check_model(node.outputs.size() < 4 || node.outputs[3].empty(), c.label,
              ": MultiHeadAttention's qk output is not supported");
  return c;
}

// x [B, T, size] plus bias[offset, offset + size) on the last axis (x itself when there is no bias).
Tensor with_bias(const Tensor& x, const Tensor* bias, int64_t offset) {
  if (bias == nullptr) return x;
  Tensor out = Tensor::uninitialized(DType::kFloat, x.shape());
  const int64_t size = x.dim(2);
  const float* b = bias->data<float>() + offset;
  for (int64_t r = 0; r < x.dim(0) * x.dim(1); ++r) {
    for (int64_t i = 0; i < size; ++i) out.data<float>()[r * size + i] = x.data<float>()[r * size + i] + b[i];
  }
  return out;
}

// [B, T, heads * size] -> [B, heads, T, size] (the present_key / present_value layout).
void split_heads(const Tensor& x, int64_t heads, Tensor& out) {
  const int64_t batch = x.dim(0), seq = x.dim(1), size = x.dim(2) / heads;
  float* p = out.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t t = 0; t < seq; ++t) {
        std::memcpy(p, x.data<float>() + (b * seq + t) * heads * size + h * size, size * sizeof(float));
        p += size;
      }
    }
  }
}

void compute_multi_head_attention(const ContribAttentionConfig& c, KernelContext& ctx) {
  const Tensor &q = ctx.input(0), &k = ctx.input(1), &v = ctx.input(2);
  const bool shapes_ok = q.dtype() == DType::kFloat && k.dtype() == DType::kFloat && v.dtype() == DType::kFloat &&
                         q.rank() == 3 && k.rank() == 3 && v.rank() == 3 && k.dim(0) == q.dim(0) &&
                         v.dim(0) == q.dim(0) && k.dim(1) == v.dim(1) && k.dim(2) == q.dim(2) &&
                         q.dim(2) % c.heads == 0 && v.dim(2) % c.heads == 0;
  if (!shapes_ok) {
    fail(ErrorCode::kInvalidArgument, c.label, ": query ", q.description(), ", key ", k.description(), " and value ",
         v.description(), " must be float [B, S, D], [B, L, D], [B, L, Dv] with D and Dv multiples of num_heads ",
         c.heads);
  }
  const Tensor* bias = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  if (bias && (bias->dtype() != DType::kFloat || bias->rank() != 1 || bias->dim(0) != 2 * q.dim(2) + v.dim(2))) {
    fail(ErrorCode::kInvalidArgument, c.label, ": bias ", bias->description(), " must be float [",
         2 * q.dim(2) + v.dim(2), "]");
  }
  const Tensor qb = with_bias(q, bias, 0), kb = with_bias(k, bias, q.dim(2)), vb = with_bias(v, bias, 2 * q.dim(2));
  const Tensor mask = additive_mask(c, ctx, ContribAttentionInputs{4, 5, SIZE_MAX}, q.dim(0), q.dim(1), k.dim(1));
  ctx.set_output(0, transformer::packed_attention(qb, kb, vb, mask.defined() ? &mask : nullptr, c.heads, c.scale,
                                                  ctx.parallelism(), c.label));
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (!ctx.output_wanted(i)) continue;
    const Tensor& x = i == 1 ? kb : vb;
    Tensor& present = ctx.allocate_output(i, DType::kFloat, {x.dim(0), c.heads, x.dim(1), x.dim(2) / c.heads});
    split_heads(x, c.heads, present);
  }
}

void infer_multi_head_attention(InferenceContext& ctx) {
  const TypeInfo* q = ctx.input_type(0);
  const TypeInfo* v = ctx.input_type(2);
  if (q == nullptr || !q->is_tensor()) return;
  std::optional<std::vector<Dim>> shape;
  if (q->shape && q->shape->size() == 3 && v && v->shape && v->shape->size() == 3) {
    shape = std::vector<Dim>{(*q->shape)[0], (*q->shape)[1], (*v->shape)[2]};
  }
  ctx.set_output_type(0, TypeInfo::tensor(q->elem_type, shape));
  for (size_t i = 1; i < ctx.output_count() && i < 3; ++i) ctx.set_output_type(i, TypeInfo::tensor(q->elem_type));
}

const RegisterOp kMultiHeadAttention{
    {.domain = kMicrosoftDomain,
     .op_type = "MultiHeadAttention",
     .since_version = 1,
     .last_version = INT_MAX,
     .factory =
         [](const KernelInfo& info) {
           const ContribAttentionConfig config = parse_multi_head_attention(info.node);
           return make_kernel([config](KernelContext& ctx) { compute_multi_head_attention(config, ctx); });
         },
     .infer = infer_multi_head_attention}};

}  // namespace
}  // namespace tessera

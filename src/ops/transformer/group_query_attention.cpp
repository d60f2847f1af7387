// com.microsoft GroupQueryAttention (ONNX Runtime's contrib op in the LLMs onnxruntime-genai's builder writes):
// causal grouped-query attention with a KV cache, float32.
//   query [B, S, num_heads * H] (or Q, K and V packed in it: [B, S, (num_heads + 2 kv_num_heads) * H] without key
//   and value), key and value [B, S, kv_num_heads * H], past_key/past_value [B, kv_num_heads, P, H] (BNSH),
//   seqlens_k [B] int32 (each entry's total length - 1), total_sequence_length (int32 scalar); with do_rotary,
//   cos_cache/sin_cache [max_position, H / 2] and optional position_ids [B, S]; attention_bias [B or 1,
//   num_heads or 1, S, total] added to the scores.
// As ONNX Runtime's CPU kernel: on the first prompt (S == total_sequence_length) each entry starts at position 0;
// later, entry b's new tokens sit at positions seqlens_k[b] + 1 - S, ... (its past is that long). present_key and
// present_value are [B, kv_num_heads, max(P, total_sequence_length), H]: each entry's past, then its new K/V, then
// zeros. Query i attends the keys up to its own position (with local_window_size, only the last that many, itself
// included: ONNX Runtime 1.31's reading, checked against it); scale defaults
// to 1 / sqrt(H); softcap caps the scores (softcap * tanh(s / softcap)). The grouped attention itself is the ONNX
// Attention kernel's (transformer::grouped_attention), rotary embedding the RotaryEmbedding kernel's.
// Refused with kUnsupported: quantized KV caches (k/v_quant_type, kv_cache_bit_width), sliding_window_cache,
// smooth_softmax, head_sink, q/k norm weights, and the output_qk output.
#include <climits>
#include <cstring>
#include <optional>
#include <vector>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/transformer/attention.h"
#include "ops/transformer/rotary.h"

namespace tessera {
namespace {

struct GqaConfig {
  int64_t num_heads = 0, kv_num_heads = 0;
  std::optional<float> scale;
  float softcap = 0;
  int64_t local_window = -1;
  bool causal = true;
  bool do_rotary = false, interleaved = false;
};

GqaConfig parse_config(const Node& node) {
  GqaConfig c;
  c.num_heads = node.attr_int("num_heads", 0);
  c.kv_num_heads = node.attr_int("kv_num_heads", 0);
  check_model(c.num_heads > 0 && c.kv_num_heads > 0 && c.num_heads % c.kv_num_heads == 0, node.label(),
              ": GroupQueryAttention needs num_heads (", c.num_heads, ") a positive multiple of kv_num_heads (",
              c.kv_num_heads, ")");
  if (node.has_attribute("scale") && node.attr_float("scale", 0) != 0) c.scale = node.attr_float("scale", 0);
  c.softcap = node.attr_float("softcap", 0);
  c.local_window = node.attr_int("local_window_size", -1);
  check_model(c.local_window == -1 || c.local_window >= 1, node.label(),
              ": GroupQueryAttention local_window_size must be -1 (none) or positive, got ", c.local_window);
  c.causal = node.attr_int("causal", 1) != 0;
  c.do_rotary = node.attr_int("do_rotary", 0) != 0;
  c.interleaved = node.attr_int("rotary_interleaved", 0) != 0;
  const auto refuse = [&node](bool unsupported, const char* what) {
    if (unsupported)
      fail(ErrorCode::kUnsupported, node.label(), ": GroupQueryAttention with ", what, " is not supported");
  };
  refuse(node.attr_string("k_quant_type", "NONE") != "NONE" || node.attr_string("v_quant_type", "NONE") != "NONE" ||
             node.attr_int("kv_cache_bit_width", 0) != 0,
         "a quantized KV cache");
  refuse(node.attr_int("sliding_window_cache", 0) != 0, "sliding_window_cache");
  refuse(node.attr_int("smooth_softmax", 0) != 0, "smooth_softmax");
  refuse(node.attr_int("qk_output", 0) != 0, "qk_output");
  refuse(!c.causal && c.local_window >= 0, "local_window_size without causal");
  for (size_t i = 11; i < node.inputs.size(); ++i) {
    refuse(node.has_input(i), "head_sink, k_scale/v_scale or q/k norm weight inputs");
  }
  refuse(node.outputs.size() > 3 && !node.outputs[3].empty(), "the output_qk output");
  return c;
}

// The first `heads * size` features of [B, S, hidden] from feature `offset` on, as a contiguous [B, S, heads * size].
Tensor slice_features(const Tensor& x, int64_t offset, int64_t width) {
  const int64_t rows = x.dim(0) * x.dim(1), hidden = x.dim(2);
  Tensor out(DType::kFloat, {x.dim(0), x.dim(1), width});
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out.data<float>() + r * width, x.data<float>() + r * hidden + offset,
                static_cast<size_t>(width) * sizeof(float));
  return out;
}

// [B, S, heads * H] -> [B, heads, S, H] and back.
Tensor to_heads(const Tensor& x, int64_t heads) {
  const int64_t batch = x.dim(0), seq = x.dim(1), size = x.dim(2) / heads;
  Tensor out(DType::kFloat, {batch, heads, seq, size});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t h = 0; h < heads; ++h)
        std::memcpy(out.data<float>() + ((b * heads + h) * seq + s) * size,
                    x.data<float>() + ((b * seq + s) * heads + h) * size, static_cast<size_t>(size) * sizeof(float));
  return out;
}

Tensor from_heads(const Tensor& y) {
  const int64_t batch = y.dim(0), heads = y.dim(1), seq = y.dim(2), size = y.dim(3);
  Tensor out(DType::kFloat, {batch, seq, heads * size});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < seq; ++s)
        std::memcpy(out.data<float>() + ((b * seq + s) * heads + h) * size,
                    y.data<float>() + ((b * heads + h) * seq + s) * size, static_cast<size_t>(size) * sizeof(float));
  return out;
}

// present [B, kv_heads, length, H]: entry b's first past_len[b] rows of `past` (if any), then `current`
// ([B, S, kv_heads * H]) at rows past_len[b], ...; zeros elsewhere.
Tensor build_present(const Tensor* past, const Tensor& current, int64_t kv_heads, int64_t length,
                     const std::vector<int64_t>& past_len) {
  const int64_t batch = current.dim(0), seq = current.dim(1), size = current.dim(2) / kv_heads;
  Tensor present(DType::kFloat, {batch, kv_heads, length, size});
  float* dst = present.data<float>();
  const size_t row_bytes = static_cast<size_t>(size) * sizeof(float);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t p = past_len[static_cast<size_t>(b)];
    for (int64_t h = 0; h < kv_heads; ++h) {
      float* head = dst + (b * kv_heads + h) * length * size;
      if (past != nullptr && p > 0) {
        std::memcpy(head, past->data<float>() + (b * kv_heads + h) * past->dim(2) * size,
                    static_cast<size_t>(p) * row_bytes);
      }
      for (int64_t s = 0; s < seq; ++s)
        std::memcpy(head + (p + s) * size, current.data<float>() + ((b * seq + s) * kv_heads + h) * size, row_bytes);
    }
  }
  return present;
}

void compute(const GqaConfig& c, KernelContext& ctx) {
  const Tensor& query = ctx.input(0);
  check_argument(query.dtype() == DType::kFloat && query.rank() == 3, "GroupQueryAttention: query ", tensor_text(query),
                 " must be float [batch, sequence, hidden]");
  const int64_t batch = query.dim(0), seq = query.dim(1);
  Tensor q, k, v;
  int64_t head_size = 0;
  if (!ctx.has_input(1)) {
    const int64_t parts = c.num_heads + 2 * c.kv_num_heads;
    check_argument(query.dim(2) % parts == 0, "GroupQueryAttention: packed QKV ", tensor_text(query),
                   " must hold (num_heads + 2 kv_num_heads) = ", parts, " heads");
    head_size = query.dim(2) / parts;
    q = slice_features(query, 0, c.num_heads * head_size);
    k = slice_features(query, c.num_heads * head_size, c.kv_num_heads * head_size);
    v = slice_features(query, (c.num_heads + c.kv_num_heads) * head_size, c.kv_num_heads * head_size);
  } else {
    check_argument(query.dim(2) % c.num_heads == 0, "GroupQueryAttention: query ", tensor_text(query),
                   " hidden size is not a multiple of num_heads ", c.num_heads);
    head_size = query.dim(2) / c.num_heads;
    q = query;
    k = ctx.input(1);
    v = ctx.input(2);
    for (const Tensor* t : {&k, &v}) {
      check_argument(t->dtype() == DType::kFloat && t->rank() == 3 && t->dim(0) == batch && t->dim(1) == seq &&
                         t->dim(2) == c.kv_num_heads * head_size,
                     "GroupQueryAttention: key/value ", tensor_text(*t), " must be float [", batch, ", ", seq, ", ",
                     c.kv_num_heads * head_size, "]");
    }
  }
  const Tensor* past_key = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  const Tensor* past_value = ctx.has_input(4) ? &ctx.input(4) : nullptr;
  check_argument((past_key == nullptr) == (past_value == nullptr),
                 "GroupQueryAttention: past_key and past_value go together");
  int64_t past_buffer = 0;
  if (past_key != nullptr) {
    for (const Tensor* t : {past_key, past_value}) {
      check_argument(t->dtype() == DType::kFloat && t->rank() == 4 && t->dim(0) == batch &&
                         t->dim(1) == c.kv_num_heads && t->dim(3) == head_size && t->dim(2) == past_key->dim(2),
                     "GroupQueryAttention: past_key/past_value ", tensor_text(*t), " must be float [", batch, ", ",
                     c.kv_num_heads, ", past, ", head_size, "]");
    }
    past_buffer = past_key->dim(2);
  }
  const Tensor& seqlens = ctx.input(5);
  const Tensor& total_tensor = ctx.input(6);
  check_argument(seqlens.dtype() == DType::kInt32 && seqlens.element_count() == batch,
                 "GroupQueryAttention: seqlens_k ", tensor_text(seqlens), " must be int32 [", batch, "]");
  check_argument(total_tensor.dtype() == DType::kInt32 && total_tensor.element_count() == 1,
                 "GroupQueryAttention: total_sequence_length ", tensor_text(total_tensor), " must be one int32");
  const int64_t total = total_tensor.data<int32_t>()[0];
  const bool first_prompt = seq == total;
  std::vector<int64_t> past_len(static_cast<size_t>(batch));
  Tensor valid(DType::kInt64, {batch});
  Tensor positions(DType::kInt64, {batch, seq});
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t entry_total = static_cast<int64_t>(seqlens.data<int32_t>()[b]) + 1;
    check_argument(entry_total >= 1 && entry_total <= total && (first_prompt || entry_total >= seq),
                   "GroupQueryAttention: seqlens_k[", b, "] + 1 = ", entry_total,
                   " does not fit total_sequence_length ", total, " and ", seq, " new tokens");
    const int64_t p = first_prompt ? 0 : entry_total - seq;
    check_argument(p <= past_buffer, "GroupQueryAttention: entry ", b, " needs ", p,
                   " past positions but past_key holds ", past_buffer);
    past_len[static_cast<size_t>(b)] = p;
    // On the first prompt every query sees the keys up to itself (padding included, as ONNX Runtime).
    valid.data<int64_t>()[b] = first_prompt ? seq : entry_total;
    for (int64_t s = 0; s < seq; ++s) positions.data<int64_t>()[b * seq + s] = p + s;
  }
  if (c.do_rotary) {
    check_argument(ctx.has_input(7) && ctx.has_input(8),
                   "GroupQueryAttention: do_rotary needs cos_cache and sin_cache");
    const Tensor* ids = ctx.has_input(9) ? &ctx.input(9) : &positions;
    q = transformer::rotary_embedding(q, ctx.input(7), ctx.input(8), ids, c.interleaved, c.num_heads,
                                      ctx.parallelism());
    k = transformer::rotary_embedding(k, ctx.input(7), ctx.input(8), ids, c.interleaved, c.kv_num_heads,
                                      ctx.parallelism());
  }
  const int64_t length = std::max(past_buffer, total);
  const Tensor present_key = build_present(past_key, k, c.kv_num_heads, length, past_len);
  const Tensor present_value = build_present(past_value, v, c.kv_num_heads, length, past_len);
  const Tensor* bias = ctx.has_input(10) ? &ctx.input(10) : nullptr;
  const Tensor y = transformer::grouped_attention(to_heads(q, c.num_heads), present_key, present_value, bias, valid,
                                                  c.causal, c.local_window < 0 ? -1 : c.local_window - 1, c.scale,
                                                  c.softcap, ctx.parallelism(), ctx.node().label());
  ctx.set_output(0, from_heads(y));
  if (ctx.output_wanted(1)) ctx.set_output(1, present_key);
  if (ctx.output_wanted(2)) ctx.set_output(2, present_value);
}

std::unique_ptr<Kernel> make_group_query_attention(const KernelInfo& info) {
  const GqaConfig config = parse_config(info.node);
  return make_kernel([config](KernelContext& ctx) { compute(config, ctx); });
}

void infer_group_query_attention(InferenceContext& context) {
  for (size_t i = 0; i < 3; ++i) context.set_output_type(i, TypeInfo::tensor(DType::kFloat));
}

const RegisterOp kGroupQueryAttention{{.domain = kMicrosoftDomain,
                                       .op_type = "GroupQueryAttention",
                                       .since_version = 1,
                                       .last_version = INT_MAX,
                                       .factory = make_group_query_attention,
                                       .infer = infer_group_query_attention}};

}  // namespace
}  // namespace tessera

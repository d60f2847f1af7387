// Attention (opsets 23, 24, 25): scaled dot-product attention over 3-D (packed heads) or 4-D Q/K/V with grouped
// KV heads, an optional boolean or additive mask (right-aligned broadcast, last dim padded to the total length),
// offset-aware causal masking, softcap, a KV cache (past_key/past_value -> present_key/present_value), the
// qk_matmul_output debug output, softmax_precision, nonpad_kv_seqlen (24+) and sliding windows (25+).
//
// Work is split over (batch, KV head, block of the rows of its query heads); each block computes its scores with
// the f32 GEMM, then softcap, bias, softmax and the product with V, skipping the keys no row of the block attends.
// When the bias is the mask alone (no causal, window or nonpad_kv_seqlen masking; the mask covers every key, as in
// BERT's key-padding mask), each score row gets its mask row added in place instead of a bias row built per query;
// that addition and the softmax's division run as element-wise AVX-512 loops where the CPU has them, so every path
// gives the same bits (tests/ops/attention_fast_path_test.cpp).
// For float16/bfloat16 the intermediate results are rounded where the reference rounds them (Q and K scaled by a
// rounded sqrt(scale), the QK product, softcap steps, the biased scores, each softmax step), so results match it
// to the last bit in the usual case.
#include "ops/transformer/attention.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"
#include "ops/transformer/transformer_common.h"

namespace tessera {
namespace {

using transformer::Precision;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kScoreBudget = 64 * 1024;  // floats of scores per task block (256 KiB)

struct AttentionConfig {
  int64_t opset = 23;
  bool is_causal = false;
  int64_t q_num_heads = 0;  // 0: attribute absent
  int64_t kv_num_heads = 0;
  std::optional<float> scale;
  float softcap = 0;
  int64_t qk_mode = 0;
  std::optional<DType> softmax_precision;
  int64_t left_window = -1;
  int64_t right_window = -1;
};

// Sizes of one call, resolved from the input shapes.
struct AttentionDims {
  bool packed = false;  // 3-D inputs (batch, sequence, heads * head_size)
  int64_t batch = 0, q_heads = 0, kv_heads = 0;
  int64_t q_len = 0, kv_len = 0, past_len = 0, total_len = 0;
  int64_t head_size = 0, v_head_size = 0;
};

AttentionConfig parse_attention(const Node& node, int64_t opset) {
  AttentionConfig c;
  c.opset = opset;
  const int64_t causal = node.attr_int("is_causal", 0);
  check_model(causal == 0 || causal == 1, node.label(), ": is_causal must be 0 or 1, got ", causal);
  c.is_causal = causal == 1;
  c.q_num_heads = node.attr_int("q_num_heads", 0);
  c.kv_num_heads = node.attr_int("kv_num_heads", 0);
  check_model(c.q_num_heads >= 0 && c.kv_num_heads >= 0, node.label(), ": q_num_heads (", c.q_num_heads,
              ") and kv_num_heads (", c.kv_num_heads, ") must be positive");
  if (node.has_attribute("scale")) c.scale = node.attr_float("scale", 0);
  c.softcap = node.attr_float("softcap", 0);
  c.qk_mode = node.attr_int("qk_matmul_output_mode", 0);
  check_model(c.qk_mode >= 0 && c.qk_mode <= 3, node.label(), ": qk_matmul_output_mode must be 0..3, got ", c.qk_mode);
  if (node.has_attribute("softmax_precision")) {
    const int64_t p = node.attr_int("softmax_precision", 1);
    check_model(p == 1 || p == 10 || p == 11 || p == 16, node.label(),
                ": softmax_precision must be 1 (float), 10 (float16), 11 (double) or 16 (bfloat16), got ", p);
    c.softmax_precision = static_cast<DType>(p);
  }
  if (opset >= 25) {
    c.left_window = node.attr_int("left_window_size", -1);
    c.right_window = node.attr_int("right_window_size", -1);
    check_model(c.left_window >= -1 && c.right_window >= -1, node.label(),
                ": left_window_size and right_window_size must be -1 or nonnegative, got ", c.left_window, " and ",
                c.right_window);
  }
  const size_t max_inputs = opset >= 24 ? 7 : 6;
  check_model(node.inputs.size() <= max_inputs, node.label(), ": Attention-", opset, " takes at most ", max_inputs,
              " inputs, got ", node.inputs.size());
  return c;
}

// Splits the hidden size `hidden` of a packed input into `heads` heads.
int64_t head_size_of(int64_t hidden, int64_t heads, const char* name, const Tensor& t) {
  check_argument(heads > 0 && hidden % heads == 0, "Attention: the last dimension of ", name, " ", tensor_text(t),
                 " is not a multiple of its head count ", heads);
  return hidden / heads;
}

AttentionDims resolve_dims(const AttentionConfig& c, const Tensor& q, const Tensor& k, const Tensor& v) {
  check_argument((q.rank() == 3 || q.rank() == 4) && k.rank() == q.rank() && v.rank() == q.rank(),
                 "Attention: Q, K and V must all be 3-D or all 4-D, got Q ", tensor_text(q), ", K ", tensor_text(k),
                 ", V ", tensor_text(v));
  AttentionDims d;
  d.packed = q.rank() == 3;
  d.batch = q.dim(0);
  if (d.packed) {
    check_argument(c.q_num_heads > 0 && c.kv_num_heads > 0,
                   "Attention: 3-D inputs need the q_num_heads and kv_num_heads attributes");
    d.q_heads = c.q_num_heads;
    d.kv_heads = c.kv_num_heads;
    d.q_len = q.dim(1);
    d.kv_len = k.dim(1);
    d.head_size = head_size_of(q.dim(2), d.q_heads, "Q", q);
    const int64_t k_head = head_size_of(k.dim(2), d.kv_heads, "K", k);
    check_argument(k_head == d.head_size, "Attention: Q ", tensor_text(q), " with ", d.q_heads, " heads and K ",
                   tensor_text(k), " with ", d.kv_heads, " heads have different head sizes");
    d.v_head_size = head_size_of(v.dim(2), d.kv_heads, "V", v);
    check_argument(v.dim(1) == d.kv_len, "Attention: K ", tensor_text(k), " and V ", tensor_text(v),
                   " have different sequence lengths");
  } else {
    d.q_heads = q.dim(1);
    d.kv_heads = k.dim(1);
    d.q_len = q.dim(2);
    d.kv_len = k.dim(2);
    d.head_size = q.dim(3);
    d.v_head_size = v.dim(3);
    check_argument(c.q_num_heads == 0 || c.q_num_heads == d.q_heads, "Attention: q_num_heads ", c.q_num_heads,
                   " does not match Q ", tensor_text(q));
    check_argument(c.kv_num_heads == 0 || c.kv_num_heads == d.kv_heads, "Attention: kv_num_heads ", c.kv_num_heads,
                   " does not match K ", tensor_text(k));
    check_argument(k.dim(3) == d.head_size, "Attention: Q ", tensor_text(q), " and K ", tensor_text(k),
                   " have different head sizes");
    check_argument(v.dim(1) == d.kv_heads && v.dim(2) == d.kv_len, "Attention: K ", tensor_text(k), " and V ",
                   tensor_text(v), " differ in heads or sequence length");
  }
  check_argument(k.dim(0) == d.batch && v.dim(0) == d.batch, "Attention: Q ", tensor_text(q), ", K ", tensor_text(k),
                 " and V ", tensor_text(v), " have different batch sizes");
  check_argument(d.kv_heads > 0 && d.q_heads % d.kv_heads == 0, "Attention: the ", d.q_heads,
                 " query heads are not a multiple of the ", d.kv_heads, " key/value heads");
  d.total_len = d.kv_len;
  return d;
}

// present = concat(past, new) along the sequence axis, as 4-D (batch, kv_heads, total, size) in the input dtype.
// `current` is 3-D packed or 4-D; `past` may be undefined.
Tensor concat_cache(const Tensor* past, const Tensor& current, const AttentionDims& d, int64_t size) {
  if (past == nullptr && !d.packed) return current;
  const int64_t past_len = past != nullptr ? past->dim(2) : 0;
  const int64_t total = past_len + d.kv_len;
  Tensor out(current.dtype(), {d.batch, d.kv_heads, total, size});
  const size_t elem = dtype_size(current.dtype());
  auto* dst = static_cast<char*>(out.raw_data());
  const auto* cur = static_cast<const char*>(current.raw_data());
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t h = 0; h < d.kv_heads; ++h) {
      char* head = dst + ((b * d.kv_heads + h) * total) * size * elem;
      if (past_len > 0) {
        const auto* src = static_cast<const char*>(past->raw_data()) + ((b * d.kv_heads + h) * past_len) * size * elem;
        std::memcpy(head, src, static_cast<size_t>(past_len * size) * elem);
      }
      for (int64_t s = 0; s < d.kv_len; ++s) {
        const int64_t src_offset =
            d.packed ? (b * d.kv_len + s) * d.kv_heads * size + h * size : ((b * d.kv_heads + h) * d.kv_len + s) * size;
        std::memcpy(head + (past_len + s) * size * elem, cur + src_offset * elem, static_cast<size_t>(size) * elem);
      }
    }
  }
  return out;
}

// A 3-D packed or 4-D input as float (batch, heads, len, size), each value times `factor` and rounded to `p`.
std::vector<float> stage_heads(const Tensor& x, bool packed, int64_t heads, int64_t len, int64_t size, float factor,
                               Precision p) {
  const int64_t batch = x.dim(0);
  std::vector<float> out(static_cast<size_t>(batch * heads * len * size));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t s = 0; s < len; ++s) {
        float* dst = out.data() + ((b * heads + h) * len + s) * size;
        const int64_t src = packed ? (b * len + s) * heads * size + h * size : ((b * heads + h) * len + s) * size;
        transformer::load_floats(x, src, size, dst);
        if (factor != 1.0f) {
          for (int64_t i = 0; i < size; ++i) dst[i] *= factor;
          transformer::round_span(p, dst, size);
        }
      }
    }
  }
  return out;
}

// The attention mask, right-aligned and broadcast to (batch, q_heads, q_len, total_len); its last dimension may be
// shorter than total_len (the missing keys are masked out).
struct MaskView {
  bool present = false;
  bool is_bool = false;
  const bool* bools = nullptr;
  const float* floats = nullptr;  // additive masks: the float input in place, or `values`
  std::vector<float> values;      // additive masks of other types, converted
  int64_t length = 0;             // last dimension
  int64_t stride_b = 0, stride_h = 0, stride_q = 0;

  // Offset of the mask row for (b, h, i).
  int64_t row(int64_t b, int64_t h, int64_t i) const { return b * stride_b + h * stride_h + i * stride_q; }
};

MaskView make_mask_view(const Tensor& mask, const AttentionDims& d) {
  MaskView m;
  m.present = true;
  check_argument(mask.rank() >= 1 && mask.rank() <= 4, "Attention: attn_mask ", tensor_text(mask),
                 " must have rank 1 to 4");
  m.length = mask.dim(mask.rank() - 1);
  check_argument(m.length <= d.total_len, "Attention: attn_mask ", tensor_text(mask), " is longer than the ",
                 d.total_len, " keys (past + current)");
  const std::vector<int64_t> lead(mask.shape().begin(), mask.shape().end() - 1);
  const std::vector<int64_t> target = {d.batch, d.q_heads, d.q_len};
  for (size_t i = 0; i < lead.size(); ++i) {
    const int64_t want = target[target.size() - lead.size() + i];
    check_argument(lead[i] == 1 || lead[i] == want, "Attention: attn_mask ", tensor_text(mask),
                   " cannot be broadcast to (batch, q_heads, q_len, total) = ", shape_text(target), " x ", d.total_len);
  }
  std::vector<int64_t> strides = broadcast_strides(lead, target);
  for (int64_t& s : strides) s *= m.length;
  m.stride_b = strides[0];
  m.stride_h = strides[1];
  m.stride_q = strides[2];
  m.is_bool = mask.dtype() == DType::kBool;
  if (m.is_bool) {
    m.bools = mask.data<bool>();
  } else if (mask.dtype() == DType::kFloat) {
    m.floats = mask.data<float>();
  } else {
    m.values.resize(static_cast<size_t>(mask.element_count()));
    visit_dtype(mask.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsPlainNumber<T> || std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
        const T* src = mask.data<T>();
        for (size_t i = 0; i < m.values.size(); ++i) m.values[i] = static_cast<float>(element_to_double(src[i]));
      } else {
        fail(ErrorCode::kInvalidArgument, "Attention: attn_mask ", mask.description(),
             " must be bool or a numeric type");
      }
    });
    m.floats = m.values.data();
  }
  return m;
}

// Everything a task needs to build the bias of one score row.
struct BiasSpec {
  const MaskView* mask = nullptr;
  bool is_causal = false;
  int64_t left_window = -1, right_window = -1;
  const std::vector<int64_t>* offsets = nullptr;  // per batch: valid keys preceding the query block
  const std::vector<int64_t>* nonpad = nullptr;   // per batch, or nullptr
  int64_t total_len = 0;

  bool any() const { return mask->present || is_causal || left_window >= 0 || right_window >= 0 || nonpad != nullptr; }
  // True when the bias of a row is its mask row as it stands: no causal, window or nonpad masking, and a mask (if
  // any) as long as the keys, so no key is padded out.
  // True when the bias is causal masking alone: row i attends exactly the keys up to its absolute position.
  bool causal_only() const {
    return is_causal && !mask->present && left_window < 0 && right_window < 0 && nonpad == nullptr;
  }
  bool mask_only() const {
    return !is_causal && left_window < 0 && right_window < 0 && nonpad == nullptr &&
           (!mask->present || mask->length == total_len);
  }
};

// Fills bias[0, total) for query row i of (b, h), over the first `total` keys; returns true when every one of them
// is masked out (-inf).
bool build_bias_row(const BiasSpec& s, int64_t b, int64_t h, int64_t i, int64_t total, float* bias) {
  const MaskView& m = *s.mask;
  if (m.present) {
    const int64_t base = m.row(b, h, i);
    for (int64_t j = 0; j < total; ++j) {
      if (j >= m.length)
        bias[j] = kNegInf;
      else if (m.is_bool)
        bias[j] = m.bools[base + j] ? 0.0f : kNegInf;
      else
        bias[j] = m.floats[base + j];
    }
  } else {
    std::fill(bias, bias + total, 0.0f);
  }
  const int64_t pos = (*s.offsets)[static_cast<size_t>(b)] + i;  // absolute position of the query
  const int64_t valid = s.nonpad != nullptr ? (*s.nonpad)[static_cast<size_t>(b)] : s.total_len;
  for (int64_t j = 0; j < total; ++j) {
    bool allowed = j < valid;
    if (s.is_causal && j > pos) allowed = false;
    if (s.left_window >= 0 && pos - j > s.left_window) allowed = false;
    if (s.right_window >= 0 && j - pos > s.right_window) allowed = false;
    if (!allowed) bias[j] += kNegInf;  // an addition, as the reference: +inf in a float mask gives NaN
  }
  for (int64_t j = 0; j < total; ++j) {
    if (!(bias[j] == kNegInf)) return false;
  }
  return true;
}

// The row loops of the common case (a mask row added as it stands, the softmax's division), written once and
// compiled for the x86-64 baseline and, in functions with target attributes, for AVX2 and AVX-512, picked once
// from CPUID (the baseline's SSE2 loops were 10% of BERT-base's attention on an AVX2-only Zen 3). Each is element-wise
// (one addition, comparison or division per element, as the general loops do), so every version gives the same bits.
// Adds the additive mask row to s[0, n); returns true when every mask value is -inf (the row attends no key).
[[gnu::always_inline]] inline bool add_float_row_impl(float* __restrict s, const float* __restrict mask, int64_t n) {
  int attended = 0;
  for (int64_t j = 0; j < n; ++j) {
    s[j] += mask[j];
    attended |= mask[j] != kNegInf;
  }
  return attended == 0;
}
// Adds the boolean mask row (false: -inf) to s[0, n); returns true when it is false throughout.
[[gnu::always_inline]] inline bool add_bool_row_impl(float* __restrict s, const bool* __restrict mask, int64_t n) {
  int attended = 0;
  for (int64_t j = 0; j < n; ++j) {
    s[j] += mask[j] ? 0.0f : kNegInf;
    attended |= mask[j] ? 1 : 0;
  }
  return attended == 0;
}
[[gnu::always_inline]] inline void divide_row_impl(float* __restrict x, int64_t n, float divisor) {
  for (int64_t j = 0; j < n; ++j) x[j] /= divisor;
}

struct RowLoops {
  bool (*add_float)(float*, const float*, int64_t);
  bool (*add_bool)(float*, const bool*, int64_t);
  void (*divide)(float*, int64_t, float);
};

const RowLoops kBaselineRows = {
    [](float* s, const float* m, int64_t n) { return add_float_row_impl(s, m, n); },
    [](float* s, const bool* m, int64_t n) { return add_bool_row_impl(s, m, n); },
    [](float* x, int64_t n, float d) { divide_row_impl(x, n, d); },
};

#if defined(__x86_64__)
[[gnu::target("avx512f,avx512bw")]] bool add_float_row_avx512(float* s, const float* m, int64_t n) {
  return add_float_row_impl(s, m, n);
}
[[gnu::target("avx512f,avx512bw")]] bool add_bool_row_avx512(float* s, const bool* m, int64_t n) {
  return add_bool_row_impl(s, m, n);
}
[[gnu::target("avx512f,avx512bw")]] void divide_row_avx512(float* x, int64_t n, float d) { divide_row_impl(x, n, d); }
const RowLoops kAvx512Rows = {add_float_row_avx512, add_bool_row_avx512, divide_row_avx512};

[[gnu::target("avx2")]] bool add_float_row_avx2(float* s, const float* m, int64_t n) {
  return add_float_row_impl(s, m, n);
}
[[gnu::target("avx2")]] bool add_bool_row_avx2(float* s, const bool* m, int64_t n) {
  return add_bool_row_impl(s, m, n);
}
[[gnu::target("avx2")]] void divide_row_avx2(float* x, int64_t n, float d) { divide_row_impl(x, n, d); }
const RowLoops kAvx2Rows = {add_float_row_avx2, add_bool_row_avx2, divide_row_avx2};
#endif

const RowLoops& row_loops() {
#if defined(__x86_64__)
  static const RowLoops& chosen = []() -> const RowLoops& {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return kAvx512Rows;
    return __builtin_cpu_supports("avx2") ? kAvx2Rows : kBaselineRows;
  }();
  return chosen;
#else
  return kBaselineRows;
#endif
}

// `x` rounded to `p` when p is a narrow float; float and double values pass unchanged.
template <typename Acc>
Acc round_acc(Precision p, Acc x) {
  if (p == Precision::kFloat16 || p == Precision::kBFloat16) return transformer::round_to(p, static_cast<float>(x));
  return x;
}

// Softmax of row[0, n) as the reference computes it in precision `p`: a row whose maximum is -inf gives zeros;
// NaN propagates. Accumulates in Acc (double for kDouble); `scratch` holds n values.
template <typename Acc>
void softmax_row(float* row, int64_t n, Precision p, std::vector<Acc>& scratch) {
  Acc max = -std::numeric_limits<Acc>::infinity();
  bool has_nan = false;
  for (int64_t j = 0; j < n; ++j) {
    if (std::isnan(row[j]))
      has_nan = true;
    else if (row[j] > max)
      max = row[j];
  }
  if (has_nan) max = std::numeric_limits<Acc>::quiet_NaN();
  const Acc safe_max = std::isinf(max) && max < 0 ? Acc(0) : max;
  Acc sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const Acc e = round_acc(p, std::exp(round_acc(p, static_cast<Acc>(row[j]) - safe_max)));
    scratch[static_cast<size_t>(j)] = e;
    // bfloat16 sums round at every step (as ml_dtypes reduces); float16 sums accumulate in float.
    sum = p == Precision::kBFloat16 ? round_acc(p, sum + e) : sum + e;
  }
  sum = round_acc(p, sum);
  if (sum == 0) sum = 1;
  for (int64_t j = 0; j < n; ++j) row[j] = static_cast<float>(round_acc(p, scratch[static_cast<size_t>(j)] / sum));
}

// softmax_row for float precision with the vectorized loops of the Softmax operator: identical semantics, faster
// exp (a few ulp from libm's, well inside float tolerances; narrow types keep libm's exp to round like the reference).
void softmax_row_float(float* row, int64_t n) {
  const float max = max_f32(row, n);  // NaN when any is NaN
  const float safe_max = std::isinf(max) && max < 0 ? 0.0f : max;
  float sum = exp_shifted_sum_f32(row, row, n, safe_max);
  if (sum == 0) sum = 1;
  row_loops().divide(row, n, sum);
}

// Read-only state shared by the tasks of one call. A task takes a block of the rows of one KV head's group: the
// q_len rows of each of its query heads in turn (row r is query i = r % q_len of head kv_head * group + r / q_len),
// so the heads sharing K and V share one GEMM and one packing of K and V.
struct AttentionRun {
  const AttentionConfig* config = nullptr;
  AttentionDims dims;
  Precision t_precision = Precision::kFloat;        // Q's type: where intermediate results round
  Precision softmax_precision = Precision::kFloat;  // where the softmax computes
  const float* q = nullptr;                         // (batch, q_heads, q_len, head_size), scaled by sqrt(scale)
  const float* k = nullptr;                         // (batch, kv_heads, total, head_size), scaled unless k_alpha
  const float* v = nullptr;                         // (batch, kv_heads, total, v_head_size)
  float k_alpha = 1.0f;                             // factor on Q K^T when K was not scaled
  int64_t group = 1;                                // query heads per KV head
  int64_t block_rows = 1;                           // rows of a group per task
  BiasSpec bias;
  Tensor* y = nullptr;
  Tensor* qk_output = nullptr;  // or nullptr
  // Float 3-D inputs without a cache and one query head per KV head: Q, K and V are read in place from the packed
  // (batch, len, heads * size) inputs, and the output rows are written straight into y (no staging copies).
  bool strided = false;

  int64_t head_of(int64_t kv_head, int64_t row) const { return kv_head * group + row / dims.q_len; }
  int64_t query_of(int64_t row) const { return row % dims.q_len; }
};

// Buffers one task reuses across its blocks.
struct AttentionScratch {
  std::vector<float> scores, bias, softmax, out;
  std::vector<double> softmax_double;
  std::vector<char> masked;

  AttentionScratch(const AttentionRun& r)
      : scores(static_cast<size_t>(r.block_rows * r.dims.total_len)),
        bias(static_cast<size_t>(r.dims.total_len)),
        softmax(static_cast<size_t>(r.dims.total_len)),
        out(static_cast<size_t>(r.block_rows * r.dims.v_head_size)),
        softmax_double(r.softmax_precision == Precision::kDouble ? static_cast<size_t>(r.dims.total_len) : 0),
        masked(static_cast<size_t>(r.block_rows)) {}
};

// Writes score rows [r0, r0 + rows) of the group of kv_head (full rows: the qk output disables key skipping).
void write_qk_rows(const AttentionRun& r, int64_t b, int64_t kv_head, int64_t r0, int64_t rows, const float* scores) {
  const AttentionDims& d = r.dims;
  const int64_t offset = ((b * d.q_heads + kv_head * r.group) * d.q_len + r0) * d.total_len;
  transformer::store_floats(scores, rows * d.total_len, *r.qk_output, offset);
}

// softcap * tanh(x / softcap), rounding each step as the reference does in Q's type.
void apply_softcap(float* x, int64_t n, float softcap, Precision p) {
  const float cap = transformer::round_to(p, softcap);
  for (int64_t j = 0; j < n; ++j) {
    const float divided = transformer::round_to(p, x[j] / cap);
    x[j] = transformer::round_to(p, transformer::round_to(p, std::tanh(divided)) * cap);
  }
}

// The number of leading keys that can take part for group rows [r0, r0 + rows) of batch b: the keys past the
// causal or right-window frontier of the latest query among them, or past nonpad_kv_seqlen, are masked for every
// row, so their scores need not be computed (unless the qk_matmul_output shows them).
int64_t attended_keys(const AttentionRun& r, int64_t b, int64_t r0, int64_t rows) {
  int64_t cols = r.dims.total_len;
  if (r.qk_output != nullptr) return cols;
  const BiasSpec& s = r.bias;
  const int64_t first = r.query_of(r0), last = r.query_of(r0 + rows - 1);
  const int64_t latest = rows >= r.dims.q_len || last < first ? r.dims.q_len - 1 : last;
  const int64_t pos = (*s.offsets)[static_cast<size_t>(b)] + latest;  // absolute position of the latest query
  if (s.nonpad != nullptr) cols = std::min(cols, (*s.nonpad)[static_cast<size_t>(b)]);
  if (s.is_causal) cols = std::min(cols, pos + 1);
  if (s.right_window >= 0) cols = std::min(cols, pos + s.right_window + 1);
  return std::max<int64_t>(cols, 0);
}

// Adds the bias to the score rows (cols wide) and records the rows with no attended key.
void add_bias(const AttentionRun& r, int64_t b, int64_t kv_head, int64_t r0, int64_t rows, int64_t cols, float* s,
              AttentionScratch& w) {
  std::fill(w.masked.begin(), w.masked.end(), 0);
  if (!r.bias.any()) return;
  const MaskView& m = *r.bias.mask;
  if (r.bias.mask_only() && cols == m.length) {
    // The bias is the mask row itself: added in place, without building a bias row (the same sums).
    const RowLoops& loops = row_loops();
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t row = r0 + i;
      const int64_t base = m.row(b, r.head_of(kv_head, row), r.query_of(row));
      w.masked[static_cast<size_t>(i)] = m.is_bool ? loops.add_bool(s + i * cols, m.bools + base, cols)
                                                   : loops.add_float(s + i * cols, m.floats + base, cols);
    }
    transformer::round_span(r.t_precision, s, rows * cols);
    return;
  }
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t row = r0 + i;
    w.masked[static_cast<size_t>(i)] =
        build_bias_row(r.bias, b, r.head_of(kv_head, row), r.query_of(row), cols, w.bias.data());
    float* scores = s + i * cols;
    for (int64_t j = 0; j < cols; ++j) scores[j] += w.bias[static_cast<size_t>(j)];
  }
  transformer::round_span(r.t_precision, s, rows * cols);
}

// Softmax of every score row, zeroing the rows with no attended key.
void softmax_rows(const AttentionRun& r, int64_t rows, int64_t cols, float* s, AttentionScratch& w) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * cols;
    if (w.masked[static_cast<size_t>(i)]) {  // no attended key: zeros, whatever the scores
      std::fill(row, row + cols, 0.0f);
      continue;
    }
    if (r.softmax_precision == Precision::kDouble) {
      softmax_row<double>(row, cols, Precision::kDouble, w.softmax_double);
    } else if (r.softmax_precision == Precision::kFloat) {
      softmax_row_float(row, cols);
    } else {
      softmax_row<float>(row, cols, r.softmax_precision, w.softmax);
    }
  }
  if (r.softmax_precision != r.t_precision) transformer::round_span(r.t_precision, s, rows * cols);
}

// Softmax of causal score rows in float, without building bias rows: row i takes the softmax of its keys up to
// its absolute position and zeros past it -- what adding -inf there and the full-row softmax give (exp(-inf) is
// 0), up to the order of the sum's terms. Rows with no attended key are recorded as such (left zero).
void causal_softmax_rows(const AttentionRun& r, int64_t b, int64_t r0, int64_t rows, int64_t cols, float* s,
                         AttentionScratch& w) {
  const int64_t offset = (*r.bias.offsets)[static_cast<size_t>(b)];
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * cols;
    const int64_t attended = std::clamp<int64_t>(offset + r.query_of(r0 + i) + 1, 0, cols);
    w.masked[static_cast<size_t>(i)] = attended == 0;
    if (attended > 0) softmax_row_float(row, attended);
    std::fill(row + attended, row + cols, 0.0f);
  }
}

// Computes group rows [r0, r0 + rows) of KV head kv_head of batch b. Rows with no attended key stay zero.
void attention_block(const AttentionRun& r, int64_t b, int64_t kv_head, int64_t r0, int64_t rows, AttentionScratch& w) {
  const AttentionDims& d = r.dims;
  const AttentionConfig& c = *r.config;
  const int64_t cols = attended_keys(r, b, r0, rows);
  if (cols == 0) return;
  // Row strides of Q, K and V: packed in place (strided) or staged per head.
  const int64_t q_ld = r.strided ? d.q_heads * d.head_size : d.head_size;
  const int64_t k_ld = r.strided ? d.kv_heads * d.head_size : d.head_size;
  const int64_t v_ld = r.strided ? d.kv_heads * d.v_head_size : d.v_head_size;
  const float* q = r.strided ? r.q + ((b * d.q_len + r0) * d.q_heads + kv_head) * d.head_size
                             : r.q + ((b * d.q_heads + kv_head * r.group) * d.q_len + r0) * d.head_size;
  const float* k = r.strided ? r.k + (b * d.total_len * d.kv_heads + kv_head) * d.head_size
                             : r.k + (b * d.kv_heads + kv_head) * d.total_len * d.head_size;
  const float* v = r.strided ? r.v + (b * d.total_len * d.kv_heads + kv_head) * d.v_head_size
                             : r.v + (b * d.kv_heads + kv_head) * d.total_len * d.v_head_size;
  float* s = w.scores.data();
  gemm_f32(false, true, rows, cols, d.head_size, r.k_alpha, q, q_ld, k, k_ld, 0.0f, s, cols, nullptr);
  transformer::round_span(r.t_precision, s, rows * cols);
  const bool want_qk = r.qk_output != nullptr;  // then cols == total
  if (want_qk && c.qk_mode == 0) write_qk_rows(r, b, kv_head, r0, rows, s);
  if (c.softcap > 0) apply_softcap(s, rows * cols, c.softcap, r.t_precision);
  if (want_qk && c.qk_mode == 1) write_qk_rows(r, b, kv_head, r0, rows, s);
  if (!want_qk && r.bias.causal_only() && r.t_precision == Precision::kFloat &&
      r.softmax_precision == Precision::kFloat) {
    causal_softmax_rows(r, b, r0, rows, cols, s, w);
  } else {
    add_bias(r, b, kv_head, r0, rows, cols, s, w);
    if (want_qk && c.qk_mode == 2) write_qk_rows(r, b, kv_head, r0, rows, s);
    softmax_rows(r, rows, cols, s, w);
    if (want_qk && c.qk_mode == 3) write_qk_rows(r, b, kv_head, r0, rows, s);
  }
  if (r.strided) {
    const int64_t y_ld = d.q_heads * d.v_head_size;
    float* y = r.y->data<float>() + ((b * d.q_len + r0) * d.q_heads + kv_head) * d.v_head_size;
    gemm_f32(false, false, rows, d.v_head_size, cols, 1.0f, s, cols, v, v_ld, 0.0f, y, y_ld, nullptr);
    return;
  }
  float* o = w.out.data();
  gemm_f32(false, false, rows, d.v_head_size, cols, 1.0f, s, cols, v, v_ld, 0.0f, o, d.v_head_size, nullptr);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t h = r.head_of(kv_head, r0 + i), qi = r.query_of(r0 + i);
    const int64_t offset = d.packed ? (b * d.q_len + qi) * d.q_heads * d.v_head_size + h * d.v_head_size
                                    : ((b * d.q_heads + h) * d.q_len + qi) * d.v_head_size;
    transformer::store_floats(o + i * d.v_head_size, d.v_head_size, *r.y, offset);
  }
}

// Rows of a group per task: a score block of about kScoreBudget floats, halved while that leaves the pool
// fewer than four tasks per thread. With causal masking, blocks of at most a quarter of the queries (not below
// kCausalMinBlockRows): a block computes scores only up to its latest query's keys (attended_keys), so four
// blocks skip about 3/8 of the products of one whole block.
constexpr int64_t kCausalMinBlockRows = 32;
int64_t choose_block_rows(const AttentionDims& d, int64_t group_rows, int threads, bool causal) {
  int64_t rows = std::clamp<int64_t>(kScoreBudget / std::max<int64_t>(d.total_len, 1), 16, 256);
  if (causal) rows = std::min(rows, std::max(kCausalMinBlockRows, d.q_len / 4));
  auto tasks = [&](int64_t n) { return d.batch * d.kv_heads * ((group_rows + n - 1) / n); };
  while (rows > 8 && tasks(rows) < 4 * static_cast<int64_t>(threads)) rows /= 2;
  return std::max<int64_t>(1, std::min(rows, group_rows));
}

// Per-batch offsets of the causal/window frontier and the validated nonpad_kv_seqlen.
void resolve_offsets(const AttentionDims& d, const Tensor* nonpad, std::vector<int64_t>& offsets,
                     std::vector<int64_t>& valid) {
  offsets.assign(static_cast<size_t>(d.batch), d.past_len);
  if (nonpad == nullptr) return;
  check_argument(nonpad->dtype() == DType::kInt64 && nonpad->rank() == 1 && nonpad->dim(0) == d.batch,
                 "Attention: nonpad_kv_seqlen must be int64 of shape (batch_size,) = [", d.batch, "], got ",
                 tensor_text(*nonpad));
  valid.resize(static_cast<size_t>(d.batch));
  for (int64_t b = 0; b < d.batch; ++b) {
    const int64_t n = nonpad->data<int64_t>()[b];
    check_argument(n >= 0 && n <= d.total_len, "Attention: nonpad_kv_seqlen[", b, "] = ", n, " is outside [0, ",
                   d.total_len, "]");
    valid[static_cast<size_t>(b)] = n;
    offsets[static_cast<size_t>(b)] = n - d.q_len;
  }
}

void check_past(const Tensor& past, const char* name, const AttentionDims& d, int64_t size, DType dtype) {
  check_argument(past.rank() == 4 && past.dim(0) == d.batch && past.dim(1) == d.kv_heads && past.dim(3) == size,
                 "Attention: ", name, " ", tensor_text(past), " must have shape (batch, kv_heads, past_len, ", size,
                 ") with batch ", d.batch, " and kv_heads ", d.kv_heads);
  check_argument(past.dtype() == dtype, "Attention: ", name, " ", tensor_text(past),
                 " must have the dtype of the input it extends (", dtype_name(dtype), ")");
}

// Float inputs are used in place (K unscaled, the scale folded into the GEMM); narrow or double ones are staged as
// float, Q and K scaled by sqrt(scale) rounded to Q's type as the reference does.
struct StagedInputs {
  std::vector<float> q, k, v;
};

void stage_inputs(const Tensor& q, const Tensor& present_key, const Tensor& present_value, float factor,
                  AttentionRun& r, StagedInputs& staged) {
  const AttentionDims& d = r.dims;
  staged.q = stage_heads(q, d.packed, d.q_heads, d.q_len, d.head_size, factor, r.t_precision);
  r.q = staged.q.data();
  if (present_key.dtype() == DType::kFloat) {
    r.k = present_key.data<float>();
    r.k_alpha = factor;
  } else {
    staged.k = stage_heads(present_key, false, d.kv_heads, d.total_len, d.head_size, factor, r.t_precision);
    r.k = staged.k.data();
  }
  if (present_value.dtype() == DType::kFloat) {
    r.v = present_value.data<float>();
  } else {
    staged.v = stage_heads(present_value, false, d.kv_heads, d.total_len, d.v_head_size, 1.0f, r.t_precision);
    r.v = staged.v.data();
  }
}

// True when Q, K and V can be read in place from packed float inputs (see AttentionRun::strided): no cache in or
// out, no qk output, one query head per KV head.
bool read_in_place(const KernelContext& ctx, const AttentionDims& d, const Tensor* past_key) {
  return d.packed && past_key == nullptr && d.q_heads == d.kv_heads && ctx.input(0).dtype() == DType::kFloat &&
         ctx.input(2).dtype() == DType::kFloat && !ctx.output_wanted(1) && !ctx.output_wanted(2) &&
         !ctx.output_wanted(3);
}

// Validates the inputs, resolves the sizes and the past cache; returns present_key and present_value (undefined
// when read_in_place: the kernel then reads K and V from the inputs).
std::pair<Tensor, Tensor> prepare_caches(const AttentionConfig& c, KernelContext& ctx, AttentionDims& d,
                                         const Tensor*& nonpad) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  transformer::check_float_input(q, "Attention", "Q");
  transformer::check_float_input(v, "Attention", "V");
  check_argument(k.dtype() == q.dtype(), "Attention: K ", tensor_text(k), " must have Q's dtype ",
                 dtype_name(q.dtype()));
  d = resolve_dims(c, q, k, v);
  const bool has_past_key = ctx.has_input(4), has_past_value = ctx.has_input(5);
  check_argument(has_past_key == has_past_value, "Attention: past_key and past_value must be given together");
  const Tensor* past_key = has_past_key ? &ctx.input(4) : nullptr;
  const Tensor* past_value = has_past_value ? &ctx.input(5) : nullptr;
  nonpad = c.opset >= 24 && ctx.has_input(6) ? &ctx.input(6) : nullptr;
  check_argument(nonpad == nullptr || past_key == nullptr,
                 "Attention: nonpad_kv_seqlen cannot be combined with past_key/past_value");
  if (past_key != nullptr) {
    check_past(*past_key, "past_key", d, d.head_size, q.dtype());
    check_past(*past_value, "past_value", d, d.v_head_size, v.dtype());
    check_argument(past_key->dim(2) == past_value->dim(2), "Attention: past_key ", tensor_text(*past_key),
                   " and past_value ", tensor_text(*past_value), " have different lengths");
    d.past_len = past_key->dim(2);
    d.total_len = d.past_len + d.kv_len;
  }
  if (read_in_place(ctx, d, past_key)) return {Tensor(), Tensor()};
  return {concat_cache(past_key, k, d, d.head_size), concat_cache(past_value, v, d, d.v_head_size)};
}

void compute_attention(const AttentionConfig& c, KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  AttentionDims d;
  const Tensor* nonpad = nullptr;
  const auto [present_key, present_value] = prepare_caches(c, ctx, d, nonpad);
  if (ctx.output_wanted(1)) ctx.set_output(1, present_key);
  if (ctx.output_wanted(2)) ctx.set_output(2, present_value);

  AttentionRun r;
  r.config = &c;
  r.dims = d;
  r.group = d.q_heads / d.kv_heads;
  r.t_precision = transformer::precision_of(q.dtype());
  r.softmax_precision = c.softmax_precision ? transformer::precision_of(*c.softmax_precision) : r.t_precision;
  // The reference scales Q and K by sqrt(scale) cast to Q's type.
  const double scale = c.scale ? static_cast<double>(*c.scale) : 1.0 / std::sqrt(static_cast<double>(d.head_size));
  const float factor = transformer::round_to(r.t_precision, static_cast<float>(std::sqrt(scale)));
  StagedInputs staged;
  r.strided = !present_key.defined();
  if (r.strided) {
    r.q = q.data<float>();
    r.k = ctx.input(1).data<float>();
    r.v = ctx.input(2).data<float>();
    r.k_alpha = factor * factor;
  } else {
    stage_inputs(q, present_key, present_value, factor, r, staged);
  }

  const MaskView mask = ctx.has_input(3) ? make_mask_view(ctx.input(3), d) : MaskView{};
  std::vector<int64_t> offsets, valid;
  resolve_offsets(d, nonpad, offsets, valid);
  r.bias =
      BiasSpec{&mask, c.is_causal, c.left_window, c.right_window, &offsets, nonpad ? &valid : nullptr, d.total_len};

  std::vector<int64_t> y_shape = d.packed ? std::vector<int64_t>{d.batch, d.q_len, d.q_heads * d.v_head_size}
                                          : std::vector<int64_t>{d.batch, d.q_heads, d.q_len, d.v_head_size};
  // Every output row is written unless causal, right-window or nonpad masking (or no key at all) can leave a block
  // without attended keys (attended_keys), whose rows then stay zero.
  const bool writes_every_row = d.total_len > 0 && !c.is_causal && c.right_window < 0 && nonpad == nullptr;
  r.y = writes_every_row ? &ctx.allocate_output_uninitialized(0, q.dtype(), y_shape)
                         : &ctx.allocate_output(0, q.dtype(), y_shape);
  if (ctx.output_wanted(3)) {
    r.qk_output = &ctx.allocate_output(3, q.dtype(), {d.batch, d.q_heads, d.q_len, d.total_len});
  }
  const int64_t group_rows = r.group * d.q_len;
  if (group_rows == 0 || d.batch == 0 || d.kv_heads == 0) return;
  r.block_rows = choose_block_rows(d, group_rows, ctx.parallelism().thread_count(), c.is_causal);
  const int64_t blocks = (group_rows + r.block_rows - 1) / r.block_rows;
  // Four pieces per thread, claimed by whichever thread is free (a descheduled thread holds up a quarter of its
  // share); each piece's tasks share one scratch.
  const int64_t tasks = d.batch * d.kv_heads * blocks;
  ctx.parallelism().parallel_for_balanced(tasks, [&](int64_t begin, int64_t end) {
    AttentionScratch scratch(r);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t block = task % blocks;
      const int64_t kv_head = (task / blocks) % d.kv_heads;
      const int64_t b = task / (blocks * d.kv_heads);
      const int64_t r0 = block * r.block_rows;
      attention_block(r, b, kv_head, r0, std::min(r.block_rows, group_rows - r0), scratch);
    }
  });
}

std::unique_ptr<Kernel> make_attention(const KernelInfo& info) {
  const AttentionConfig config = parse_attention(info.node, info.opset);
  return make_kernel([config](KernelContext& ctx) { compute_attention(config, ctx); });
}

void infer_attention(InferenceContext& ctx) {
  const TypeInfo* q = ctx.input_type(0);
  if (q == nullptr || !q->is_tensor()) return;
  const DType dtype = q->elem_type;
  const DType v_dtype =
      ctx.input_type(2) != nullptr && ctx.input_type(2)->is_tensor() ? ctx.input_type(2)->elem_type : dtype;
  const Node& node = ctx.node();
  const int64_t q_heads_attr = node.attr_int("q_num_heads", 0);
  const int64_t kv_heads_attr = node.attr_int("kv_num_heads", 0);
  using transformer::dims_of_rank;
  std::optional<std::vector<Dim>> qd = dims_of_rank(q, 4), kd = dims_of_rank(ctx.input_type(1), 4),
                                  vd = dims_of_rank(ctx.input_type(2), 4);
  Dim batch, q_heads, q_len, kv_heads, head_size, v_head_size, kv_len;
  bool packed = false;
  if (qd) {
    batch = (*qd)[0], q_heads = (*qd)[1], q_len = (*qd)[2], head_size = (*qd)[3];
    if (kd) kv_heads = (*kd)[1], kv_len = (*kd)[2];
    if (vd) v_head_size = (*vd)[3];
  } else if (auto q3 = dims_of_rank(q, 3)) {
    packed = true;
    batch = (*q3)[0], q_len = (*q3)[1];
    q_heads = q_heads_attr > 0 ? Dim::known(q_heads_attr) : Dim{};
    kv_heads = kv_heads_attr > 0 ? Dim::known(kv_heads_attr) : Dim{};
    head_size = transformer::dim_quotient((*q3)[2], q_heads_attr);
    if (auto k3 = dims_of_rank(ctx.input_type(1), 3)) kv_len = (*k3)[1];
    if (auto v3 = dims_of_rank(ctx.input_type(2), 3)) v_head_size = transformer::dim_quotient((*v3)[2], kv_heads_attr);
  } else {
    ctx.set_output_type(0, TypeInfo::tensor(dtype));
    return;
  }
  Dim total = kv_len;
  if (node.has_input(4)) {
    const std::optional<std::vector<Dim>> pk = dims_of_rank(ctx.input_type(4), 4);
    total = pk ? transformer::dim_sum((*pk)[2], kv_len) : Dim{};
  }
  if (packed) {
    ctx.set_output_type(
        0, TypeInfo::tensor(dtype, std::vector<Dim>{batch, q_len, transformer::dim_product(q_heads, v_head_size)}));
  } else {
    ctx.set_output_type(0, TypeInfo::tensor(dtype, std::vector<Dim>{batch, q_heads, q_len, v_head_size}));
  }
  if (ctx.output_count() > 1)
    ctx.set_output_type(1, TypeInfo::tensor(dtype, std::vector<Dim>{batch, kv_heads, total, head_size}));
  if (ctx.output_count() > 2)
    ctx.set_output_type(2, TypeInfo::tensor(v_dtype, std::vector<Dim>{batch, kv_heads, total, v_head_size}));
  if (ctx.output_count() > 3)
    ctx.set_output_type(3, TypeInfo::tensor(dtype, std::vector<Dim>{batch, q_heads, q_len, total}));
}

const RegisterOp kAttention{{.op_type = "Attention",
                             .since_version = 23,
                             .last_version = INT_MAX,
                             .factory = make_attention,
                             .infer = infer_attention}};

// com.tessera Attention: ONNX Attention-23 in any model, whatever ai.onnx opset it imports; attention_fusion writes
// it for the multi-head attention subgraph exporters emit.
const RegisterOp kTesseraAttention{{.domain = kTesseraDomain,
                                    .op_type = "Attention",
                                    .since_version = 1,
                                    .last_version = INT_MAX,
                                    .factory =
                                        [](const KernelInfo& info) {
                                          const AttentionConfig config = parse_attention(info.node, 23);
                                          return make_kernel(
                                              [config](KernelContext& ctx) { compute_attention(config, ctx); });
                                        },
                                    .infer = infer_attention}};

}  // namespace

namespace {

// Runs the Attention kernel under `config` on `values` (Q, K, V, then the optional inputs; a null RuntimeValue for
// an absent one) as a node named `label`, and returns Y.
Tensor run_attention(const AttentionConfig& config, const std::vector<RuntimeValue>& values, Parallelism& parallelism,
                     const std::string& label) {
  Node node;
  node.name = label;
  node.op_type = "Attention";
  std::vector<const RuntimeValue*> inputs;
  for (size_t i = 0; i < values.size(); ++i) {
    node.inputs.push_back(values[i].is_none() ? "" : "input" + std::to_string(i));
    inputs.push_back(&values[i]);
  }
  node.outputs = {"y"};
  std::vector<RuntimeValue> outputs(1);
  KernelContext ctx(node, inputs, outputs, parallelism, {});
  compute_attention(config, ctx);
  return outputs[0].tensor();
}

}  // namespace

Tensor transformer::packed_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask,
                                     int64_t heads, std::optional<float> scale, Parallelism& parallelism,
                                     const std::string& label) {
  AttentionConfig config;
  config.q_num_heads = heads;
  config.kv_num_heads = heads;
  config.scale = scale;
  return run_attention(config, {q, k, v, mask ? RuntimeValue(*mask) : RuntimeValue()}, parallelism, label);
}

Tensor transformer::grouped_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask,
                                      const Tensor& valid_keys, bool causal, int64_t left_window,
                                      std::optional<float> scale, float softcap, Parallelism& parallelism,
                                      const std::string& label) {
  AttentionConfig config;
  config.opset = 25;
  config.is_causal = causal;
  config.left_window = left_window;
  config.scale = scale;
  config.softcap = softcap;
  return run_attention(
      config, {q, k, v, mask ? RuntimeValue(*mask) : RuntimeValue(), RuntimeValue(), RuntimeValue(), valid_keys},
      parallelism, label);
}

}  // namespace tessera

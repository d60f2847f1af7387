// ai.onnx.preview FlexAttention (version 1): attention over rank-4 Q [B, Hq, L, D], K [B, Hkv, S, D],
// V [B, Hkv, S, Dv] (query head h reads K/V head h / (Hq / Hkv)), with the optional modifier subgraphs of the spec:
//   scores = (Q K^T) * scale (default 1 / sqrt(D)); scores = score_mod(scores); probs = Softmax(scores, -1);
//   probs = prob_mod(probs); Y = probs V.
// Scores and probabilities are computed in softmax_precision: double for double inputs or softmax_precision 11,
// float otherwise (float16 / bfloat16 inputs are widened; Y is rounded back to the input type). A row whose
// scores are all -inf gives NaN probabilities, as the reference's softmax.
#include <climits>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/transformer/transformer_common.h"

namespace tessera {
namespace {

constexpr const char* kPreviewDomain = "ai.onnx.preview";

struct FlexConfig {
  std::optional<float> scale;
  bool double_precision = false;
  std::shared_ptr<CompiledSubgraph> score_mod, prob_mod;
};

// The values of a float-family tensor as T.
template <typename T>
std::vector<T> values_as(const Tensor& t) {
  if (t.dtype() == DType::kDouble) {
    return std::vector<T>(t.data<double>(), t.data<double>() + t.element_count());
  }
  const std::vector<float> f = transformer::to_floats(t);
  return std::vector<T>(f.begin(), f.end());
}

// Runs a modifier subgraph on `values` (shape [B, Hq, L, S]) and checks it kept the shape and type.
Tensor apply_modifier(const CompiledSubgraph& graph, Tensor values, KernelContext& ctx, const char* name) {
  const std::vector<int64_t> shape = values.shape();
  const DType dtype = values.dtype();
  std::vector<RuntimeValue> out =
      graph.run({RuntimeValue(std::move(values))}, ctx.outer_scope(), ctx.parallelism(), ctx.guard());
  check_argument(
      out.size() == 1 && out[0].is_tensor() && out[0].tensor().shape() == shape && out[0].tensor().dtype() == dtype,
      "FlexAttention: ", name, " must return one ", dtype_name(dtype), shape_text(shape), " tensor");
  return out[0].tensor();
}

template <typename T>
Tensor compute(const FlexConfig& c, const Tensor& q, const Tensor& k, const Tensor& v, KernelContext& ctx) {
  const DType work = std::is_same_v<T, double> ? DType::kDouble : DType::kFloat;
  const int64_t batch = q.dim(0), heads = q.dim(1), len = q.dim(2), size = q.dim(3);
  const int64_t kv_heads = k.dim(1), keys = k.dim(2), v_size = v.dim(3), group = heads / kv_heads;
  const std::vector<T> qv = values_as<T>(q), kv = values_as<T>(k), vv = values_as<T>(v);
  const T scale = c.scale ? static_cast<T>(*c.scale) : static_cast<T>(1.0 / std::sqrt(static_cast<double>(size)));
  Tensor scores(work, {batch, heads, len, keys});
  T* s = scores.data<T>();
  ctx.parallelism().parallel_for(batch * heads, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / heads, h = bh % heads, kh = h / group;
      for (int64_t i = 0; i < len; ++i) {
        const T* qrow = qv.data() + ((b * heads + h) * len + i) * size;
        for (int64_t j = 0; j < keys; ++j) {
          const T* krow = kv.data() + ((b * kv_heads + kh) * keys + j) * size;
          T dot = 0;
          for (int64_t d = 0; d < size; ++d) dot += qrow[d] * krow[d];
          s[(bh * len + i) * keys + j] = dot * scale;
        }
      }
    }
  });
  if (c.score_mod) scores = apply_modifier(*c.score_mod, std::move(scores), ctx, "score_mod");
  Tensor probs(work, scores.shape());
  const T* sc = scores.data<T>();
  T* p = probs.data<T>();
  for (int64_t row = 0; row < batch * heads * len; ++row) {
    T top = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < keys; ++j) top = std::max(top, sc[row * keys + j]);
    T sum = 0;
    for (int64_t j = 0; j < keys; ++j) {
      p[row * keys + j] = std::exp(sc[row * keys + j] - top);
      sum += p[row * keys + j];
    }
    for (int64_t j = 0; j < keys; ++j) p[row * keys + j] /= sum;
  }
  if (c.prob_mod) probs = apply_modifier(*c.prob_mod, std::move(probs), ctx, "prob_mod");
  const T* pr = probs.data<T>();
  std::vector<T> y(static_cast<size_t>(batch * heads * len * v_size));
  ctx.parallelism().parallel_for(batch * heads, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / heads, h = bh % heads, kh = h / group;
      for (int64_t i = 0; i < len; ++i) {
        T* out = y.data() + (bh * len + i) * v_size;
        for (int64_t j = 0; j < keys; ++j) {
          const T w = pr[(bh * len + i) * keys + j];
          const T* vrow = vv.data() + ((b * kv_heads + kh) * keys + j) * v_size;
          for (int64_t d = 0; d < v_size; ++d) out[d] += w * vrow[d];
        }
      }
    }
  });
  const std::vector<int64_t> shape{batch, heads, len, v_size};
  if (q.dtype() == DType::kDouble) {
    Tensor result(DType::kDouble, shape);
    for (size_t i = 0; i < y.size(); ++i) result.data<double>()[i] = static_cast<double>(y[i]);
    return result;
  }
  return transformer::tensor_from_floats(std::vector<float>(y.begin(), y.end()), q.dtype(), shape);
}

std::unique_ptr<Kernel> make_flex_attention(const KernelInfo& info) {
  FlexConfig c;
  if (info.node.has_attribute("scale")) c.scale = info.node.attr_float("scale", 0);
  const int64_t precision = info.node.attr_int("softmax_precision", 0);
  check_model(precision == 0 || precision == 1 || precision == 11, info.node.label(),
              ": FlexAttention softmax_precision must be 1 (float) or 11 (double) here, got ", precision);
  c.double_precision = precision == 11;
  if (const auto g = info.node.attr_graph("score_mod")) c.score_mod = info.compile_subgraph(*g);
  if (const auto g = info.node.attr_graph("prob_mod")) c.prob_mod = info.compile_subgraph(*g);
  return make_kernel([c](KernelContext& ctx) {
    const Tensor& q = ctx.input(0);
    const Tensor& k = ctx.input(1);
    const Tensor& v = ctx.input(2);
    for (const Tensor* t : {&q, &k, &v}) {
      transformer::check_float_input(*t, "FlexAttention", "Q/K/V");
      check_argument(t->rank() == 4 && t->dtype() == q.dtype(), "FlexAttention: Q, K and V must be rank-4 of one ",
                     "float type, got ", tensor_text(*t));
    }
    check_argument(k.dim(0) == q.dim(0) && v.dim(0) == q.dim(0) && k.dim(1) > 0 && q.dim(1) % k.dim(1) == 0 &&
                       v.dim(1) == k.dim(1) && k.dim(3) == q.dim(3) && v.dim(2) == k.dim(2),
                   "FlexAttention: Q ", tensor_text(q), ", K ", tensor_text(k), " and V ", tensor_text(v),
                   " do not fit (batch, heads a multiple of kv heads, head sizes, key lengths)");
    const bool use_double = c.double_precision || q.dtype() == DType::kDouble;
    ctx.set_output(0, use_double ? compute<double>(c, q, k, v, ctx) : compute<float>(c, q, k, v, ctx));
  });
}

void infer_flex_attention(InferenceContext& context) {
  const TypeInfo* q = context.input_type(0);
  if (q != nullptr && q->is_tensor()) context.set_output_type(0, TypeInfo::tensor(q->elem_type));
}

const RegisterOp kFlexAttention{{.domain = kPreviewDomain,
                                 .op_type = "FlexAttention",
                                 .since_version = 1,
                                 .last_version = INT_MAX,
                                 .factory = make_flex_attention,
                                 .infer = infer_flex_attention}};

}  // namespace
}  // namespace tessera

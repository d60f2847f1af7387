// com.microsoft SkipLayerNormalization (ONNX Runtime's contrib op, float32): per row of the last dimension,
//   s = input + skip (+ bias);  output = (s - mean(s)) / sqrt(var(s) + epsilon) * gamma (+ beta)
// with optional outputs mean and inv_std_var ([..., 1]) and input_skip_bias_sum (s itself). skip has input's shape
// or broadcasts over the leading dims (ONNX Runtime accepts [1, S, H] and [S, H] for [B, S, H]). Rows run in
// parallel; statistics accumulate in float over 16 lanes, two passes over the row (which stays in L1).
// com.microsoft SkipSimplifiedLayerNormalization is the RMS form: inputs (input, skip, gamma, bias), no centering,
//   output = s / sqrt(mean(s^2) + epsilon) * gamma;  outputs output, mean (zeros, as ONNX Runtime
// writes them: nothing is centered), inv_std_var, sum.
#include <algorithm>
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

constexpr int kLanes = 16;

// Mean and population variance of n floats, accumulated in kLanes float partial sums.
std::pair<float, float> row_statistics(const float* s, int64_t n) {
  float sum[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) sum[l] += s[i + l];
  }
  float total = 0;
  for (; i < n; ++i) total += s[i];
  for (float v : sum) total += v;
  const float mean = total / static_cast<float>(n);
  float sq[kLanes] = {};
  for (i = 0; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float d = s[i + l] - mean;
      sq[l] += d * d;
    }
  }
  float squares = 0;
  for (; i < n; ++i) squares += (s[i] - mean) * (s[i] - mean);
  for (float v : sq) squares += v;
  return {mean, squares / static_cast<float>(n)};
}

// Mean of squares of n floats (the simplified form's statistic), accumulated in kLanes float partial sums.
float row_mean_square(const float* s, int64_t n) {
  float sq[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) sq[l] += s[i + l] * s[i + l];
  }
  float squares = 0;
  for (; i < n; ++i) squares += s[i] * s[i];
  for (float v : sq) squares += v;
  return squares / static_cast<float>(n);
}

const Tensor* optional_vector(KernelContext& ctx, size_t index, int64_t hidden, const char* op, const char* name) {
  if (!ctx.has_input(index)) return nullptr;
  const Tensor& t = ctx.input(index);
  check_argument(t.dtype() == DType::kFloat && t.rank() == 1 && t.dim(0) == hidden, op, ": ", name, " ", tensor_text(t),
                 " must be float[", hidden, "] (the hidden size)");
  return &t;
}

std::unique_ptr<Kernel> make_skip_norm(const KernelInfo& info, bool simplified) {
  const float epsilon = info.node.attr_float("epsilon", 1e-12f);
  const char* op = simplified ? "SkipSimplifiedLayerNormalization" : "SkipLayerNormalization";
  check_model(std::isfinite(epsilon) && epsilon >= 0, info.node.label(), ": epsilon must be finite and >= 0, got ",
              epsilon);
  return make_kernel([epsilon, simplified, op](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& skip = ctx.input(1);
    check_argument(x.dtype() == DType::kFloat && skip.dtype() == DType::kFloat && x.rank() >= 2, op, ": input ",
                   tensor_text(x), " and skip ", tensor_text(skip), " must be float tensors of rank 2 or more");
    const int64_t hidden = x.dim(x.rank() - 1);
    const int64_t rows = hidden == 0 ? 0 : x.element_count() / hidden;
    // skip is input's shape, or input's trailing dims after leading 1s (broadcast over the leading dims).
    std::vector<int64_t> skip_dims = skip.shape();
    while (skip_dims.size() > 1 && skip_dims.front() == 1) skip_dims.erase(skip_dims.begin());
    const bool trailing = skip_dims.size() <= x.rank() &&
                          std::equal(skip_dims.begin(), skip_dims.end(), x.shape().end() - skip_dims.size());
    check_argument(trailing && hidden > 0, op, ": skip ", tensor_text(skip), " does not match input ", tensor_text(x));
    const int64_t skip_rows = skip.element_count() / hidden;
    const Tensor& gamma = ctx.input(2);
    check_argument(gamma.dtype() == DType::kFloat && gamma.rank() == 1 && gamma.dim(0) == hidden, op, ": gamma ",
                   tensor_text(gamma), " must be float[", hidden, "]");
    const Tensor* beta = simplified ? nullptr : optional_vector(ctx, 3, hidden, op, "beta");
    const Tensor* bias = optional_vector(ctx, simplified ? 3 : 4, hidden, op, "bias");
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, x.shape());
    std::vector<int64_t> stats_shape = x.shape();
    stats_shape.back() = 1;
    float* mean_out = ctx.output_wanted(1) ? ctx.allocate_output(1, DType::kFloat, stats_shape).data<float>() : nullptr;
    float* inv_out = ctx.output_wanted(2) ? ctx.allocate_output(2, DType::kFloat, stats_shape).data<float>() : nullptr;
    float* sum_out =
        ctx.output_wanted(3) ? ctx.allocate_output_uninitialized(3, DType::kFloat, x.shape()).data<float>() : nullptr;
    const float* xd = x.data<float>();
    const float* sd = skip.data<float>();
    const float* g = gamma.data<float>();
    const float* b = beta ? beta->data<float>() : nullptr;
    const float* bi = bias ? bias->data<float>() : nullptr;
    float* yd = y.data<float>();
    ctx.parallelism().parallel_for_balanced(rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* xr = xd + r * hidden;
        const float* sr = sd + (r % skip_rows) * hidden;
        float* yr = yd + r * hidden;
        float* s = sum_out ? sum_out + r * hidden : yr;  // the sum lives in the output row until normalized
        if (bi) {
          for (int64_t i = 0; i < hidden; ++i) s[i] = xr[i] + sr[i] + bi[i];
        } else {
          for (int64_t i = 0; i < hidden; ++i) s[i] = xr[i] + sr[i];
        }
        const auto [mean, variance] =
            simplified ? std::pair<float, float>{0.0f, row_mean_square(s, hidden)} : row_statistics(s, hidden);
        const float inv = 1.0f / std::sqrt(variance + epsilon);
        if (mean_out) mean_out[r] = mean;
        if (inv_out) inv_out[r] = inv;
        if (b) {
          for (int64_t i = 0; i < hidden; ++i) yr[i] = (s[i] - mean) * inv * g[i] + b[i];
        } else {
          for (int64_t i = 0; i < hidden; ++i) yr[i] = (s[i] - mean) * inv * g[i];
        }
      }
    });
  });
}

void infer_skip_layer_normalization(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  ctx.set_output_type(0, *x);
  std::optional<std::vector<Dim>> stats;
  if (x->shape && !x->shape->empty()) {
    stats = *x->shape;
    stats->back() = Dim::known(1);
  }
  for (size_t i = 1; i < ctx.output_count() && i < 3; ++i)
    ctx.set_output_type(i, TypeInfo::tensor(DType::kFloat, stats));
  if (ctx.output_count() > 3) ctx.set_output_type(3, *x);
}

const RegisterOp kSkipLayerNorm{{.domain = kMicrosoftDomain,
                                 .op_type = "SkipLayerNormalization",
                                 .since_version = 1,
                                 .last_version = INT_MAX,
                                 .factory = [](const KernelInfo& info) { return make_skip_norm(info, false); },
                                 .infer = infer_skip_layer_normalization}};

const RegisterOp kSkipSimplifiedLayerNorm{{.domain = kMicrosoftDomain,
                                           .op_type = "SkipSimplifiedLayerNormalization",
                                           .since_version = 1,
                                           .last_version = INT_MAX,
                                           .factory = [](const KernelInfo& info) { return make_skip_norm(info, true); },
                                           .infer = infer_skip_layer_normalization}};

}  // namespace
}  // namespace tessera

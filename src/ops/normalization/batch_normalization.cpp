// BatchNormalization (opsets 1, 6, 7, 9, 14, 15): inference with the given statistics, folded into one
// multiply-add per element; training mode (opset 14+ training_mode=1, or extra outputs before 14) normalizes
// with the batch statistics and returns the updated running mean and variance.
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/normalization/norm_common.h"
#include "ops/pool/float_staging.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct BatchNormConfig {
  double epsilon = 1e-5;
  double momentum = 0.9;
  bool training = false;  // training_mode (opset 14+), or the training outputs requested before opset 14
  int64_t opset = 15;
};

// X viewed as [N, C, S]; a rank-1 X is [N] with C = 1.
struct BatchNormLayout {
  int64_t batch = 1, channels = 1, spatial = 1;
};

BatchNormLayout batch_norm_layout(const Tensor& x) {
  check_argument(x.rank() >= 1, "BatchNormalization expects X of rank >= 1, got ", tensor_text(x));
  BatchNormLayout l;
  l.batch = x.dim(0);
  if (x.rank() >= 2) {
    l.channels = x.dim(1);
    for (size_t i = 2; i < x.rank(); ++i) l.spatial *= x.dim(i);
  }
  return l;
}

// Per-channel (or, for the pre-opset-9 non-spatial form, per channel-and-position) parameter count check.
void check_parameter(const Tensor& p, const char* name, const BatchNormLayout& l) {
  check_norm_float(p, "BatchNormalization", name);
  check_argument(p.element_count() == l.channels || p.element_count() == l.channels * l.spatial,
                 "BatchNormalization: input ", name, " ", tensor_text(p), " must hold one value per channel (",
                 l.channels, ")");
}

// y = x * a[k] + b[k], where k is the channel (or channel and position when the parameters are per element).
template <typename T>
void apply_affine(const T* x, T* y, const BatchNormLayout& l, const std::vector<T>& a, const std::vector<T>& b,
                  Parallelism& parallelism) {
  const bool per_element = static_cast<int64_t>(a.size()) != l.channels;
  parallelism.parallel_for(l.batch * l.channels, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t c = plane % l.channels;
      const T* xp = x + plane * l.spatial;
      T* yp = y + plane * l.spatial;
      if (!per_element) {
        affine_run(xp, yp, l.spatial, a[c], b[c]);
      } else {
        const T* ap = a.data() + c * l.spatial;
        const T* bp = b.data() + c * l.spatial;
        for (int64_t s = 0; s < l.spatial; ++s) yp[s] = xp[s] * ap[s] + bp[s];
      }
    }
  });
}

// Batch mean and population variance per channel (over N and the spatial positions).
template <typename T>
void batch_statistics(const T* x, const BatchNormLayout& l, std::vector<double>& mean, std::vector<double>& var,
                      Parallelism& parallelism) {
  mean.assign(l.channels, 0);
  var.assign(l.channels, 0);
  parallelism.parallel_for(l.channels, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double sum = 0;
      for (int64_t n = 0; n < l.batch; ++n) {
        const T* p = x + (n * l.channels + c) * l.spatial;
        for (int64_t s = 0; s < l.spatial; ++s) sum += p[s];
      }
      const double count = static_cast<double>(l.batch * l.spatial);
      const double m = count > 0 ? sum / count : 0;
      double sq = 0;
      for (int64_t n = 0; n < l.batch; ++n) {
        const T* p = x + (n * l.channels + c) * l.spatial;
        for (int64_t s = 0; s < l.spatial; ++s) sq += (p[s] - m) * (p[s] - m);
      }
      mean[c] = m;
      var[c] = count > 0 ? sq / count : 0;
    }
  });
}

Tensor doubles_to_tensor(const std::vector<double>& values, DType dtype, const std::vector<int64_t>& shape) {
  Tensor t(dtype, shape);
  visit_dtype(dtype, [&](auto tag) {
    using S = typename decltype(tag)::type;
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double> || kIsNarrowFloat<S>) {
      S* d = t.data<S>();
      for (size_t i = 0; i < values.size(); ++i) d[i] = element_from_double<S>(values[i]);
    }
  });
  return t;
}

template <typename T>
void batch_norm_typed(const BatchNormConfig& config, KernelContext& ctx, const Tensor& x, Tensor& y,
                      const BatchNormLayout& l) {
  const std::vector<double> scale = float_tensor_values<double>(ctx.input(1));
  const std::vector<double> bias = float_tensor_values<double>(ctx.input(2));
  std::vector<double> mean = float_tensor_values<double>(ctx.input(3));
  std::vector<double> var = float_tensor_values<double>(ctx.input(4));
  const bool per_channel_stats =
      static_cast<int64_t>(mean.size()) == l.channels && static_cast<int64_t>(var.size()) == l.channels;
  if (config.training) {
    check_argument(per_channel_stats && static_cast<int64_t>(scale.size()) == l.channels,
                   "BatchNormalization in training mode needs per-channel scale, B, mean and var");
    std::vector<double> batch_mean, batch_var;
    batch_statistics(x.data<T>(), l, batch_mean, batch_var, ctx.parallelism());
    const std::vector<int64_t> channel_shape{l.channels};
    const DType stat_type = ctx.input(3).dtype();
    std::vector<double> running_mean(l.channels), running_var(l.channels);
    for (int64_t c = 0; c < l.channels; ++c) {
      running_mean[c] = mean[c] * config.momentum + batch_mean[c] * (1 - config.momentum);
      running_var[c] = var[c] * config.momentum + batch_var[c] * (1 - config.momentum);
    }
    if (ctx.output_wanted(1)) ctx.set_output(1, doubles_to_tensor(running_mean, stat_type, channel_shape));
    if (ctx.output_wanted(2)) ctx.set_output(2, doubles_to_tensor(running_var, stat_type, channel_shape));
    // Before opset 14 the outputs go on with saved_mean and saved_var: the batch statistics.
    if (config.opset < 14 && ctx.output_wanted(3))
      ctx.set_output(3, doubles_to_tensor(batch_mean, stat_type, channel_shape));
    if (config.opset < 14 && ctx.output_wanted(4))
      ctx.set_output(4, doubles_to_tensor(batch_var, stat_type, channel_shape));
    mean = batch_mean;
    var = batch_var;
  }
  // Fold the statistics into y = x * a + b; a parameter of one value per channel broadcasts over positions.
  const size_t n = std::max({scale.size(), bias.size(), mean.size(), var.size()});
  std::vector<T> a(n), b(n);
  for (size_t k = 0; k < n; ++k) {
    auto at = [&](const std::vector<double>& v) { return v.size() == n ? v[k] : v[k / l.spatial]; };
    const double inv = 1.0 / std::sqrt(at(var) + config.epsilon);
    a[k] = static_cast<T>(at(scale) * inv);
    b[k] = static_cast<T>(at(bias) - at(mean) * at(scale) * inv);
  }
  apply_affine(x.data<T>(), y.data<T>(), l, a, b, ctx.parallelism());
}

std::unique_ptr<Kernel> make_batch_normalization(const KernelInfo& info) {
  BatchNormConfig config;
  config.epsilon = info.node.attr_float("epsilon", 1e-5f);
  config.momentum = info.node.attr_float("momentum", 0.9f);
  config.opset = info.opset;
  if (info.opset >= 14) {
    config.training = info.node.attr_int("training_mode", 0) != 0;
  } else {
    // Before opset 14 training is signalled by asking for the statistics outputs (and is_test = 0 in 1-6).
    const bool extra_outputs = info.node.outputs.size() > 1;
    config.training = extra_outputs && (info.opset >= 7 || info.node.attr_int("is_test", 0) == 0);
  }
  check_model(config.epsilon >= 0, info.node.label(), ": epsilon must be >= 0");
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    check_norm_float(input, "BatchNormalization", "X");
    const BatchNormLayout l = batch_norm_layout(input);
    check_parameter(ctx.input(1), "scale", l);
    check_parameter(ctx.input(2), "B", l);
    check_parameter(ctx.input(3), "mean", l);
    check_parameter(ctx.input(4), "var", l);
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), input.shape());
    if (x.dtype() == DType::kDouble)
      batch_norm_typed<double>(config, ctx, x, y, l);
    else
      batch_norm_typed<float>(config, ctx, x, y, l);
    finish_staged_output(ctx, 0, y, input.dtype());
  });
}

// Y as X; in training mode the running statistics are [C] of the mean's type.
void infer_batch_normalization(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr) return;
  context.set_output_type(0, *x);
  const TypeInfo* mean = context.input_type(3);
  for (size_t i = 1; i < context.output_count(); ++i) {
    if (mean != nullptr) context.set_output_type(i, *mean);
  }
}

// Versions: 1 (consumed_inputs, is_test, spatial), 6 (no consumed_inputs), 7 (no is_test), 9 (no spatial),
// 14 (training_mode), 15 (separate types for scale/bias and mean/var).
const RegisterOp kBatchNorm1{{.op_type = "BatchNormalization",
                              .since_version = 1,
                              .last_version = 5,
                              .factory = make_batch_normalization,
                              .infer = infer_batch_normalization}};
const RegisterOp kBatchNorm6{{.op_type = "BatchNormalization",
                              .since_version = 6,
                              .last_version = 6,
                              .factory = make_batch_normalization,
                              .infer = infer_batch_normalization}};
const RegisterOp kBatchNorm7{{.op_type = "BatchNormalization",
                              .since_version = 7,
                              .last_version = 8,
                              .factory = make_batch_normalization,
                              .infer = infer_batch_normalization}};
const RegisterOp kBatchNorm9{{.op_type = "BatchNormalization",
                              .since_version = 9,
                              .last_version = 13,
                              .factory = make_batch_normalization,
                              .infer = infer_batch_normalization}};
const RegisterOp kBatchNorm14{{.op_type = "BatchNormalization",
                               .since_version = 14,
                               .last_version = 14,
                               .factory = make_batch_normalization,
                               .infer = infer_batch_normalization}};
const RegisterOp kBatchNorm15{{.op_type = "BatchNormalization",
                               .since_version = 15,
                               .last_version = INT_MAX,
                               .factory = make_batch_normalization,
                               .infer = infer_batch_normalization}};

}  // namespace
}  // namespace tessera

// LRN (opsets 1, 13): local response normalization across channels,
// y = x / (bias + alpha / size * sum of x^2 over the neighbouring channels)^beta.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/normalization/norm_common.h"
#include "ops/pool/float_staging.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct LrnConfig {
  double alpha = 1e-4, beta = 0.75, bias = 1.0;
  int64_t size = 1;
};

template <typename T>
void lrn_typed(const LrnConfig& config, const Tensor& x, Tensor& y, Parallelism& parallelism) {
  const int64_t channels = x.dim(1);
  const int64_t planes = x.dim(0) * channels;
  const int64_t spatial = planes > 0 ? x.element_count() / planes : 0;
  // The window of channel c is [c - floor((size-1)/2), c + ceil((size-1)/2)], clipped to the channels.
  const int64_t before = (config.size - 1) / 2;
  const int64_t after = config.size - 1 - before;
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  const T scale = static_cast<T>(config.alpha / static_cast<double>(config.size));
  const T bias = static_cast<T>(config.bias);
  const T neg_beta = static_cast<T>(-config.beta);
  parallelism.parallel_for(planes, [&](int64_t begin, int64_t end) {
    std::vector<T> sum(static_cast<size_t>(spatial));
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t c = plane % channels;
      const int64_t first = plane - c + std::max<int64_t>(c - before, 0);
      const int64_t last = plane - c + std::min<int64_t>(c + after, channels - 1);
      std::fill(sum.begin(), sum.end(), T(0));
      for (int64_t q = first; q <= last; ++q) {
        const T* xq = xd + q * spatial;
        for (int64_t s = 0; s < spatial; ++s) sum[s] += xq[s] * xq[s];
      }
      const T* xp = xd + plane * spatial;
      T* yp = yd + plane * spatial;
      // The usual exponents avoid pow: 0.75 (AlexNet, GoogLeNet) is 1 / (sqrt(b) * sqrt(sqrt(b))).
      if (neg_beta == T(-0.75)) {
        for (int64_t s = 0; s < spatial; ++s) {
          const T b = bias + scale * sum[s];
          const T r = std::sqrt(b);
          yp[s] = xp[s] / (r * std::sqrt(r));
        }
      } else if (neg_beta == T(-0.5)) {
        for (int64_t s = 0; s < spatial; ++s) yp[s] = xp[s] / std::sqrt(bias + scale * sum[s]);
      } else if (neg_beta == T(-1)) {
        for (int64_t s = 0; s < spatial; ++s) yp[s] = xp[s] / (bias + scale * sum[s]);
      } else {
        for (int64_t s = 0; s < spatial; ++s) yp[s] = xp[s] * std::pow(bias + scale * sum[s], neg_beta);
      }
    }
  });
}

std::unique_ptr<Kernel> make_lrn(const KernelInfo& info) {
  LrnConfig config;
  config.alpha = info.node.attr_float("alpha", 1e-4f);
  config.beta = info.node.attr_float("beta", 0.75f);
  config.bias = info.node.attr_float("bias", 1.0f);
  config.size = info.node.required_attribute("size").i;
  check_model(config.size >= 1, info.node.label(), ": size must be >= 1, got ", config.size);
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    check_norm_float(input, "LRN", "X");
    check_argument(input.rank() >= 2, "LRN expects X of rank >= 2 [N, C, ...], got ", tensor_text(input));
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), input.shape());
    if (x.dtype() == DType::kDouble)
      lrn_typed<double>(config, x, y, ctx.parallelism());
    else
      lrn_typed<float>(config, x, y, ctx.parallelism());
    finish_staged_output(ctx, 0, y, input.dtype());
  });
}

const RegisterOp kLrn1{
    {.op_type = "LRN", .since_version = 1, .last_version = 12, .factory = make_lrn, .infer = infer_same_as_input}};
const RegisterOp kLrn13{{.op_type = "LRN",
                         .since_version = 13,
                         .last_version = INT_MAX,
                         .factory = make_lrn,
                         .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

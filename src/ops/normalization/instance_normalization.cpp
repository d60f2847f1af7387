// InstanceNormalization (opsets 1, 6, 22): each (n, c) plane normalized by its own mean and variance, then
// scaled and shifted per channel.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/normalization/norm_common.h"
#include "ops/pool/float_staging.h"
#include "ops/registry.h"

namespace tessera {
namespace {

template <typename T>
void instance_norm_typed(const Tensor& x, Tensor& y, const std::vector<double>& scale, const std::vector<double>& bias,
                         double epsilon, Parallelism& parallelism) {
  const int64_t channels = x.dim(1);
  const int64_t planes = x.dim(0) * channels;
  const int64_t spatial = planes > 0 ? x.element_count() / planes : 0;
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  parallelism.parallel_for(planes, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t c = plane % channels;
      const T* xp = xd + plane * spatial;
      const MeanVariance mv = mean_variance(xp, spatial);
      const double a = scale[c] / std::sqrt(mv.variance + epsilon);
      affine_run(xp, yd + plane * spatial, spatial, static_cast<T>(a), static_cast<T>(bias[c] - mv.mean * a));
    }
  });
}

std::unique_ptr<Kernel> make_instance_normalization(const KernelInfo& info) {
  const double epsilon = info.node.attr_float("epsilon", 1e-5f);
  check_model(epsilon >= 0, info.node.label(), ": epsilon must be >= 0");
  return make_kernel([epsilon](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    check_norm_float(input, "InstanceNormalization", "input");
    check_argument(input.rank() >= 2, "InstanceNormalization expects input of rank >= 2 [N, C, ...], got ",
                   tensor_text(input));
    const Tensor& scale_t = ctx.input(1);
    const Tensor& bias_t = ctx.input(2);
    check_norm_float(scale_t, "InstanceNormalization", "scale");
    check_norm_float(bias_t, "InstanceNormalization", "B");
    check_argument(scale_t.element_count() == input.dim(1) && bias_t.element_count() == input.dim(1),
                   "InstanceNormalization: scale ", tensor_text(scale_t), " and B ", tensor_text(bias_t),
                   " must hold one value per channel of input ", tensor_text(input));
    const std::vector<double> scale = float_tensor_values<double>(scale_t);
    const std::vector<double> bias = float_tensor_values<double>(bias_t);
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), input.shape());
    if (x.dtype() == DType::kDouble)
      instance_norm_typed<double>(x, y, scale, bias, epsilon, ctx.parallelism());
    else
      instance_norm_typed<float>(x, y, scale, bias, epsilon, ctx.parallelism());
    finish_staged_output(ctx, 0, y, input.dtype());
  });
}

const RegisterOp kInstanceNorm1{{.op_type = "InstanceNormalization",
                                 .since_version = 1,
                                 .last_version = 5,
                                 .factory = make_instance_normalization,
                                 .infer = infer_same_as_input}};
const RegisterOp kInstanceNorm6{{.op_type = "InstanceNormalization",
                                 .since_version = 6,
                                 .last_version = 21,
                                 .factory = make_instance_normalization,
                                 .infer = infer_same_as_input}};
const RegisterOp kInstanceNorm22{{.op_type = "InstanceNormalization",
                                  .since_version = 22,
                                  .last_version = INT_MAX,
                                  .factory = make_instance_normalization,
                                  .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

// GroupNormalization (opsets 18, 21): the channels of each instance split into num_groups groups, each group
// normalized by its own mean and variance, then scaled and shifted. Opset 18 gives scale and bias per group;
// opset 21 per channel.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/normalization/norm_common.h"
#include "ops/pool/float_staging.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct GroupNormConfig {
  int64_t groups = 1;
  double epsilon = 1e-5;
  int64_t opset = 21;
};

template <typename T>
void group_norm_typed(const GroupNormConfig& config, const Tensor& x, Tensor& y, const std::vector<double>& scale,
                      const std::vector<double>& bias, Parallelism& parallelism) {
  const int64_t channels = x.dim(1);
  const int64_t per_group = channels / config.groups;
  const int64_t instances = x.dim(0);
  const int64_t spatial = instances * channels > 0 ? x.element_count() / (instances * channels) : 0;
  const bool per_channel = static_cast<int64_t>(scale.size()) == channels;
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  parallelism.parallel_for(instances * config.groups, [&](int64_t begin, int64_t end) {
    for (int64_t ng = begin; ng < end; ++ng) {
      const int64_t g = ng % config.groups;
      const int64_t offset = ng * per_group * spatial;
      const MeanVariance mv = mean_variance(xd + offset, per_group * spatial);
      const double inv = 1.0 / std::sqrt(mv.variance + config.epsilon);
      for (int64_t k = 0; k < per_group; ++k) {
        const int64_t p = per_channel ? g * per_group + k : g;
        const double a = scale[p] * inv;
        const int64_t at = offset + k * spatial;
        affine_run(xd + at, yd + at, spatial, static_cast<T>(a), static_cast<T>(bias[p] - mv.mean * a));
      }
    }
  });
}

std::unique_ptr<Kernel> make_group_normalization(const KernelInfo& info) {
  GroupNormConfig config;
  config.groups = info.node.required_attribute("num_groups").i;
  config.epsilon = info.node.attr_float("epsilon", 1e-5f);
  config.opset = info.opset;
  check_model(config.groups >= 1, info.node.label(), ": num_groups must be >= 1, got ", config.groups);
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    check_norm_float(input, "GroupNormalization", "X");
    check_argument(input.rank() >= 2, "GroupNormalization expects X of rank >= 2 [N, C, ...], got ",
                   tensor_text(input));
    const int64_t channels = input.dim(1);
    check_argument(channels % config.groups == 0, "GroupNormalization: num_groups ", config.groups,
                   " does not divide the channels of X ", tensor_text(input));
    const Tensor& scale_t = ctx.input(1);
    const Tensor& bias_t = ctx.input(2);
    check_norm_float(scale_t, "GroupNormalization", "scale");
    check_norm_float(bias_t, "GroupNormalization", "bias");
    // Opset 18 specifies one value per group; exporters also wrote one per channel there, which is accepted.
    const int64_t n = scale_t.element_count();
    const bool valid = n == channels || (config.opset < 21 && n == config.groups);
    check_argument(valid && bias_t.element_count() == n, "GroupNormalization: scale ", tensor_text(scale_t),
                   " and bias ", tensor_text(bias_t), " must hold one value per ",
                   config.opset < 21 ? "group" : "channel", " of X ", tensor_text(input));
    const std::vector<double> scale = float_tensor_values<double>(scale_t);
    const std::vector<double> bias = float_tensor_values<double>(bias_t);
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), input.shape());
    if (x.dtype() == DType::kDouble)
      group_norm_typed<double>(config, x, y, scale, bias, ctx.parallelism());
    else
      group_norm_typed<float>(config, x, y, scale, bias, ctx.parallelism());
    finish_staged_output(ctx, 0, y, input.dtype());
  });
}

const RegisterOp kGroupNorm18{{.op_type = "GroupNormalization",
                               .since_version = 18,
                               .last_version = 20,
                               .factory = make_group_normalization,
                               .infer = infer_same_as_input}};
const RegisterOp kGroupNorm21{{.op_type = "GroupNormalization",
                               .since_version = 21,
                               .last_version = INT_MAX,
                               .factory = make_group_normalization,
                               .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

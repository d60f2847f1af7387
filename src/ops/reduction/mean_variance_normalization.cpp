// MeanVarianceNormalization (opsets 9 and 13: bfloat16 added): y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9),
// the expectations taken over `axes` (default [0, 2, 3]), as the op's function body defines it.
#include <climits>
#include <cmath>

#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

constexpr double kEpsilon = 1e-9;

template <typename T>
void mvn_typed(const Tensor& x, Tensor& y, const std::vector<bool>& mask) {
  const std::vector<int64_t> kept = reduced_shape(x.shape(), mask, true);
  const int64_t groups = shape_element_count(kept);
  const int64_t count = x.element_count() / std::max<int64_t>(groups, 1);
  std::vector<double> sum(static_cast<size_t>(groups)), sum_sq(static_cast<size_t>(groups));
  const std::vector<int64_t> strides[2] = {contiguous_strides(x.shape()), broadcast_strides(kept, x.shape())};
  const T* in = x.data<T>();
  T* out = y.data<T>();
  for_each_broadcast(x.shape(), strides, [&](int64_t, const int64_t* offsets) {
    const double v = to_compute<double>(in[offsets[0]]);
    sum[static_cast<size_t>(offsets[1])] += v;
    sum_sq[static_cast<size_t>(offsets[1])] += v * v;
  });
  std::vector<double> mean(static_cast<size_t>(groups)), inv_std(static_cast<size_t>(groups));
  for (size_t g = 0; g < mean.size(); ++g) {
    mean[g] = sum[g] / static_cast<double>(count);
    const double variance = std::max(0.0, sum_sq[g] / static_cast<double>(count) - mean[g] * mean[g]);
    inv_std[g] = 1.0 / (std::sqrt(variance) + kEpsilon);
  }
  for_each_broadcast(x.shape(), strides, [&](int64_t, const int64_t* offsets) {
    const auto g = static_cast<size_t>(offsets[1]);
    out[offsets[0]] = from_compute<T>((to_compute<double>(in[offsets[0]]) - mean[g]) * inv_std[g]);
  });
}

std::unique_ptr<Kernel> make_mvn(const KernelInfo& info) {
  const std::vector<int64_t> axes = info.node.attr_ints("axes", {0, 2, 3});
  return make_kernel([axes](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const auto rank = static_cast<int64_t>(x.rank());
    std::vector<bool> mask(static_cast<size_t>(rank), false);
    for (int64_t axis : normalize_axes(axes, rank, "input 'X' " + x.description()))
      mask[static_cast<size_t>(axis)] = true;
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    if (y.element_count() == 0) return;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsSoftmaxType<T>) {
        mvn_typed<T>(x, y, mask);
      } else {
        fail(ErrorCode::kUnsupported, "input 'X' ", x.description(), ": element type ", dtype_name(x.dtype()),
             " is not supported (float types only)");
      }
    });
  });
}

const RegisterOp kMeanVarianceNormalization{{.op_type = "MeanVarianceNormalization",
                                             .since_version = 9,
                                             .last_version = INT_MAX,
                                             .factory = make_mvn,
                                             .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

// com.tessera NhwcGlobalAveragePool (version 1): GlobalAveragePool of a channels-last float32 input, written by the
// nhwc_layout pass where a channels-last convolution chain's output is read only by GlobalAveragePool (MobileNetV2's
// last 1x1 convolution): the convolution then writes channels-last in place of a transposed store.
//   X: [N, D1, ..., Dk, C] float32 (k >= 1)   Y: [N, C, 1, ..., 1] (rank k + 2), the mean over D1..Dk,
// which is GlobalAveragePool of the channels-first transpose of X. The positions are summed in order, channels
// side by side (the inner loop runs along C, contiguous), so the sums round differently from GlobalAveragePool's.
#include <climits>
#include <limits>

#include "base/lazy_text.h"
#include "ops/registry.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_nhwc_global_average_pool(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() == DType::kFloat, "NhwcGlobalAveragePool does not support input X of type ",
                   tensor_text(x), " (float32 only)");
    check_argument(x.rank() >= 3, "NhwcGlobalAveragePool expects input X of rank >= 3 [N, spatial..., C], got ",
                   tensor_text(x));
    const int64_t n = x.dim(0), c = x.dim(x.rank() - 1);
    std::vector<int64_t> out_shape(static_cast<size_t>(x.rank()), 1);
    out_shape[0] = n;
    out_shape[1] = c;
    const int64_t positions = n * c > 0 ? x.element_count() / (n * c) : 0;
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, out_shape);
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const float count = static_cast<float>(positions);
    // Channel ranges per thread (each sums every position of its channels); a few thousand adds stay on one.
    const int64_t pieces = positions * c >= (int64_t{1} << 15) ? c : 1;
    for (int64_t b = 0; b < n; ++b) {
      const float* xb = xd + b * positions * c;
      float* yb = yd + b * c;
      ctx.parallelism().parallel_for(pieces, [&](int64_t p0, int64_t p1) {
        const int64_t c0 = pieces == 1 ? 0 : p0, c1 = pieces == 1 ? c : p1;
        for (int64_t ch = c0; ch < c1; ++ch) yb[ch] = 0.0f;
        for (int64_t pos = 0; pos < positions; ++pos) {
          const float* row = xb + pos * c;
          for (int64_t ch = c0; ch < c1; ++ch) yb[ch] += row[ch];
        }
        for (int64_t ch = c0; ch < c1; ++ch) {
          yb[ch] = positions > 0 ? yb[ch] / count : std::numeric_limits<float>::quiet_NaN();
        }
      });
    }
  });
}

// Y's type: float32 [N, C, 1, ..., 1] from X's [N, ..., C].
void infer_nhwc_global_average_pool(InferenceContext& context) {
  const TypeInfo* t = context.input_type(0);
  if (t == nullptr || !t->is_tensor()) return;
  std::optional<std::vector<Dim>> dims;
  if (t->shape) {
    const std::vector<Dim>& in = *t->shape;
    check_model(in.size() >= 3, context.node().label(), ": input of type ", t->to_string(),
                " must have rank >= 3 [N, spatial..., C]");
    dims = std::vector<Dim>(in.size(), Dim::known(1));
    (*dims)[0] = in[0];
    (*dims)[1] = in.back();
  }
  context.set_output_type(0, TypeInfo::tensor(t->elem_type, dims));
}

const RegisterOp kNhwcGlobalAveragePool{{.domain = "com.tessera",
                                         .op_type = "NhwcGlobalAveragePool",
                                         .since_version = 1,
                                         .last_version = INT_MAX,
                                         .factory = make_nhwc_global_average_pool,
                                         .infer = infer_nhwc_global_average_pool}};

}  // namespace
}  // namespace tessera

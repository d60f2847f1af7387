// com.microsoft BiasGelu (ONNX Runtime's contrib op; what Tessera's gelu_fusion pass writes for Add + GELU):
// Y = Gelu(A + B) with the erf form of GELU, B 1-D and broadcast along A's last dimension. float32 only (as
// ONNX Runtime); one pass over A: the bias is added while the row is in cache, then f32-vunary's GELU.
#include <climits>

#include "kernels/f32-vunary/f32-vunary.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_bias_gelu(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor& bias = ctx.input(1);
    check_argument(a.dtype() == DType::kFloat && bias.dtype() == DType::kFloat, "BiasGelu takes float32 A and B, got A ",
                   a.description(), " and B ", bias.description());
    check_argument(a.rank() >= 1 && bias.rank() == 1 && bias.dim(0) == a.dim(a.rank() - 1), "BiasGelu B ",
                   bias.description(), " must be 1-D with A's last dimension, A is ", a.description());
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, a.shape());
    const int64_t width = bias.dim(0);
    if (width == 0 || a.element_count() == 0) return;
    const int64_t rows = a.element_count() / width;
    const float* in = a.data<float>();
    const float* b = bias.data<float>();
    float* out = y.data<float>();
    const int64_t rows_per_chunk = std::max<int64_t>(1, 16384 / width);
    ctx.parallelism().parallel_for((rows + rows_per_chunk - 1) / rows_per_chunk, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin * rows_per_chunk; r < std::min(rows, end * rows_per_chunk); ++r) {
        const float* src = in + r * width;
        float* dst = out + r * width;
        for (int64_t j = 0; j < width; ++j) dst[j] = src[j] + b[j];
        vunary_f32(VUnaryOpF32::kGeluErf, dst, dst, width);
      }
    });
  });
}

const RegisterOp kBiasGelu{{.domain = "com.microsoft", .op_type = "BiasGelu", .since_version = 1,
                            .last_version = INT_MAX, .factory = make_bias_gelu, .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

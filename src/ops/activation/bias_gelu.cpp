// ONNX Runtime's contrib ops BiasGelu and FastGelu (what Tessera's gelu_fusion pass writes):
//   BiasGelu(A, B)  = Gelu(A + B), the erf form;
//   FastGelu(X[, B]) = Gelu(X + B), the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
// B is 1-D and broadcast along the last dimension. float32 only (as ONNX Runtime); one pass over the input: the
// bias is added while the row is in cache, then f32-vunary's GELU.
#include <algorithm>
#include <climits>

#include "base/lazy_text.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_gelu_with_bias(const char* op, VUnaryOpF32 gelu, bool bias_required) {
  return make_kernel([op, gelu, bias_required](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const bool has_bias = ctx.has_input(1);
    check_argument(has_bias || !bias_required, op, " needs its bias input B");
    check_argument(a.dtype() == DType::kFloat, op, " takes float32 input, got ", tensor_text(a));
    const int64_t width = a.rank() == 0 ? 1 : a.dim(a.rank() - 1);
    const float* b = nullptr;
    if (has_bias) {
      const Tensor& bias = ctx.input(1);
      check_argument(bias.dtype() == DType::kFloat && a.rank() >= 1 && bias.rank() == 1 && bias.dim(0) == width, op,
                     " B ", tensor_text(bias), " must be 1-D float32 with the input's last dimension, input is ",
                     tensor_text(a));
      b = bias.data<float>();
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, a.shape());
    if (width == 0 || a.element_count() == 0) return;
    const int64_t rows = a.element_count() / width;
    const float* in = a.data<float>();
    float* out = y.data<float>();
    const int64_t rows_per_chunk = std::max<int64_t>(1, 16384 / width);
    ctx.parallelism().parallel_for((rows + rows_per_chunk - 1) / rows_per_chunk, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin * rows_per_chunk; r < std::min(rows, end * rows_per_chunk); ++r) {
        const float* src = in + r * width;
        float* dst = out + r * width;
        if (b != nullptr) {
          for (int64_t j = 0; j < width; ++j) dst[j] = src[j] + b[j];
          vunary_f32(gelu, dst, dst, width);
        } else {
          vunary_f32(gelu, src, dst, width);
        }
      }
    });
  });
}

std::unique_ptr<Kernel> make_bias_gelu(const KernelInfo&) {
  return make_gelu_with_bias("BiasGelu", VUnaryOpF32::kGeluErf, true);
}
std::unique_ptr<Kernel> make_fast_gelu(const KernelInfo&) {
  return make_gelu_with_bias("FastGelu", VUnaryOpF32::kGeluTanh, false);
}

const RegisterOp kBiasGelu{{.domain = "com.microsoft", .op_type = "BiasGelu", .since_version = 1,
                            .last_version = INT_MAX, .factory = make_bias_gelu, .infer = infer_same_as_input}};
const RegisterOp kFastGelu{{.domain = "com.microsoft", .op_type = "FastGelu", .since_version = 1,
                            .last_version = INT_MAX, .factory = make_fast_gelu, .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

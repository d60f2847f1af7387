// com.microsoft QuickGelu (ONNX Runtime's contrib op): y = x * sigmoid(alpha * x), alpha default 1.702 (the GELU
// approximation of CLIP-style models). float32, elementwise; the sigmoid is evaluated in the overflow-free form
// (exp of a non-positive argument only). Elements run in parallel.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// 1 / (1 + exp(-z)) without overflowing exp for large |z|.
float stable_sigmoid(float z) {
  if (z >= 0) return 1.0f / (1.0f + std::exp(-z));
  const float e = std::exp(z);
  return e / (1.0f + e);
}

std::unique_ptr<Kernel> make_quick_gelu(const KernelInfo& info) {
  const float alpha = info.node.attr_float("alpha", 1.702f);
  check_model(std::isfinite(alpha), info.node.label(), ": QuickGelu alpha must be finite, got ", alpha);
  return make_kernel([alpha](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() == DType::kFloat, "QuickGelu: input X ", tensor_text(x), " must be float");
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, x.shape());
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    ctx.parallelism().parallel_for(x.element_count(), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) yd[i] = xd[i] * stable_sigmoid(alpha * xd[i]);
    });
  });
}

void infer_same_as_input(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x != nullptr && x->is_tensor()) ctx.set_output_type(0, *x);
}

const RegisterOp kQuickGelu{{.domain = kMicrosoftDomain,
                             .op_type = "QuickGelu",
                             .since_version = 1,
                             .last_version = INT_MAX,
                             .factory = make_quick_gelu,
                             .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

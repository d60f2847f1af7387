// com.microsoft QLinearAdd and QLinearMul: C = quantize(dequantize(A) op dequantize(B)) over 8-bit tensors (int8 or
// uint8, one type for A, B and C) with per-tensor scales and zero points and NumPy broadcasting, as ONNX Runtime's
// contrib ops. Each element takes the roundings of the unfused DequantizeLinear -> Add/Mul -> QuantizeLinear group
// ((x - zero_point) * scale in float, the float op, then round_half_even(value / c_scale) + c_zero_point,
// saturated), so the qdq_binary_fusion pass that makes these nodes gives the same bytes.
#include <algorithm>
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "kernels/q8-binary/q8-binary.h"
#include "ops/common/op_utils.h"
#include "ops/quantization/quant_params.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using qlinear::QuantParam;
using qlinear::read_param;

template <typename T, bool kMul>
void compute(const Tensor& a, const Tensor& b, Tensor& c, QuantParam pa, QuantParam pb, QuantParam pc,
             Parallelism& parallelism) {
  const float lo = std::is_same_v<T, int8_t> ? -128.0f : 0.0f;
  const float hi = std::is_same_v<T, int8_t> ? 127.0f : 255.0f;
  auto one = [&](T x, T y) {
    const float fx = (static_cast<float>(x) - pa.zero_point) * pa.scale;
    const float fy = (static_cast<float>(y) - pb.zero_point) * pb.scale;
    float q = std::nearbyint((kMul ? fx * fy : fx + fy) / pc.scale) + pc.zero_point;
    q = q > lo ? q : lo;  // NaN -> the minimum
    return static_cast<T>(q < hi ? q : hi);
  };
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  T* out = c.data<T>();
  if (a.shape() == b.shape()) {
    // The vectorized kernel, in chunks of at least 16K elements per thread.
    const Q8BinaryParams params{pa.scale, pa.zero_point, pb.scale, pb.zero_point, pc.scale, pc.zero_point};
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(64, c.element_count() / 16384));
    const int64_t per = (c.element_count() + chunks - 1) / chunks;
    parallelism.parallel_for(chunks, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t first = k * per, count = std::min(per, c.element_count() - first);
        if (count > 0)
          q8_binary_elementwise(kMul, std::is_same_v<T, int8_t>, x + first, y + first, count, params, out + first);
      }
    });
    return;
  }
  const std::vector<int64_t> strides[2] = {broadcast_strides(a.shape(), c.shape()),
                                           broadcast_strides(b.shape(), c.shape())};
  for_each_broadcast(c.shape(), strides, [&](int64_t i, const int64_t* o) { out[i] = one(x[o[0]], y[o[1]]); });
}

template <bool kMul>
std::unique_ptr<Kernel> make_qlinear_binary(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    check_argument((a.dtype() == DType::kInt8 || a.dtype() == DType::kUint8) && b.dtype() == a.dtype(),
                   "A and B must both be int8 or both uint8, got ", tensor_text(a), " and ", tensor_text(b));
    const QuantParam pa = read_param(ctx, 1, 2, a.dtype(), "A");
    const QuantParam pb = read_param(ctx, 4, 5, a.dtype(), "B");
    const QuantParam pc = read_param(ctx, 6, 7, a.dtype(), "C");
    Tensor& c = ctx.allocate_output_uninitialized(0, a.dtype(), broadcast_shape(a.shape(), b.shape()));
    if (a.dtype() == DType::kInt8) {
      compute<int8_t, kMul>(a, b, c, pa, pb, pc, ctx.parallelism());
    } else {
      compute<uint8_t, kMul>(a, b, c, pa, pb, pc, ctx.parallelism());
    }
  });
}

void infer_qlinear_binary(InferenceContext& context) {
  const TypeInfo* a = context.input_type(0);
  const TypeInfo* b = context.input_type(3);
  if (a == nullptr || !a->is_tensor()) return;
  TypeInfo out = TypeInfo::tensor(a->elem_type);
  if (a->shape && b != nullptr && b->is_tensor() && b->shape && a->shape == b->shape) out.shape = a->shape;
  context.set_output_type(0, out);
}

const RegisterOp kQLinearAdd{{.domain = kMicrosoftDomain,
                              .op_type = "QLinearAdd",
                              .since_version = 1,
                              .last_version = INT_MAX,
                              .factory = make_qlinear_binary<false>,
                              .infer = infer_qlinear_binary}};
const RegisterOp kQLinearMul{{.domain = kMicrosoftDomain,
                              .op_type = "QLinearMul",
                              .since_version = 1,
                              .last_version = INT_MAX,
                              .factory = make_qlinear_binary<true>,
                              .infer = infer_qlinear_binary}};

}  // namespace
}  // namespace tessera

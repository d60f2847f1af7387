// com.microsoft MatMulIntegerToFloat (A already quantized: A, B, a_scale, b_scale, a_zero_point, b_zero_point,
// bias) shares the GEMM and epilogue; ONNX Runtime's optimizer writes it where several MatMuls share one
// DynamicQuantizeLinear.
// com.microsoft DynamicQuantizeMatMul: Y = dequantize(DynamicQuantizeLinear(A)) x dequantize(B) (+ bias), computed
// as ONNX Runtime computes it: A quantized to uint8 per tensor at run time (the ONNX DynamicQuantizeLinear rule),
// the exact int32 products of the q8-gemm kernels, then float(S) * (a_scale * b_scale[j]) + bias[j]. These are
// the roundings of the unfused DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(Mul(a_scale, b_scale))
// -> Add group that `tessera quantize` writes, so the fused node (dynamic_quantize_matmul_fusion) gives the same
// bits. B is 2-D int8 or uint8, packed once when constant; b_scale and b_zero_point are per tensor or per
// column.
#include <algorithm>
#include <climits>
#include <functional>

#include "base/lazy_text.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "kernels/qu8-quantize/qu8-quantize.h"
#include "ops/linalg/linalg_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// B's zero points as int32, one per tensor or per column (count of b_scale), 0 when absent.
std::vector<int32_t> zero_points(const Tensor* zp, int64_t count) {
  std::vector<int32_t> out(static_cast<size_t>(count), 0);
  if (zp == nullptr) return out;
  check_argument(zp->element_count() == count, "b_zero_point ", tensor_text(*zp), " must have as many values as ",
                 "b_scale (", count, ")");
  for (int64_t i = 0; i < count; ++i) {
    out[static_cast<size_t>(i)] =
        zp->dtype() == DType::kInt8 ? zp->data<int8_t>()[i] : static_cast<int32_t>(zp->data<uint8_t>()[i]);
  }
  return out;
}

void check_b(const Tensor& b, const Tensor& scale) {
  check_argument(b.dtype() == DType::kInt8 || b.dtype() == DType::kUint8, "B must be int8 or uint8, got ",
                 tensor_text(b));
  check_argument(b.rank() == 2, "B must be 2-D, got ", tensor_text(b));
  check_argument(scale.dtype() == DType::kFloat, "b_scale must be float, got ", tensor_text(scale));
  check_argument(scale.element_count() == 1 || (scale.rank() == 1 && scale.dim(0) == b.dim(1)),
                 "b_scale must hold 1 value or one per column of B ", tensor_text(b), ", got ", tensor_text(scale));
}

PackedQ8GemmB pack(const Tensor& b, const Tensor* zp, int64_t zp_count) {
  const std::vector<int32_t> zps = zero_points(zp, zp_count);
  return pack_q8_gemm_b(b.dtype() == DType::kInt8, false, b.dim(0), b.dim(1), b.data<uint8_t>(), b.dim(1), zps.data(),
                        zp_count);
}

struct PackedB {
  PackedQ8GemmB packed;
  std::vector<int64_t> shape;
};

// Where B, its scale and zero point, and the bias sit among an op's inputs.
struct Layout {
  size_t b, b_scale, b_zero_point, bias;
};
constexpr Layout kDynamicQuantizeMatMulInputs{1, 2, 3, 4};
constexpr Layout kMatMulIntegerToFloatInputs{1, 3, 5, 6};

// B packed at kernel creation when it, its scale and its zero point are constants (then consumed), else nullptr.
std::shared_ptr<const PackedB> pack_constant_b(const KernelInfo& info, const Layout& at) {
  const Tensor* b = info.constant_input(at.b);
  const Tensor* scale = info.constant_input(at.b_scale);
  const bool zp_constant = !info.has_input(at.b_zero_point) || info.constant_input(at.b_zero_point) != nullptr;
  if (b == nullptr || scale == nullptr || !zp_constant) return nullptr;
  check_b(*b, *scale);
  auto packed = std::make_shared<PackedB>();
  packed->packed = pack(*b, info.constant_input(at.b_zero_point), scale->element_count());
  packed->shape = b->shape();
  info.consume_constant_input(at.b);
  return packed;
}

// A quantized A operand: m x k bytes with one zero point and scale.
struct QuantizedA {
  const uint8_t* data = nullptr;
  bool is_signed = false;
  int32_t zero_point = 0;
  float scale = 1;
};

// Y [a_shape with the last dim n] = (A - a_zp)(B - b_zp) * (a_scale * b_scale[j]) + bias[j], the scale product in
// float as the unfused Mul(a_scale, b_scale) rounds it. `quantize(m, k)` supplies A once the shapes are checked.
void run_quantized_matmul(KernelContext& ctx, const PackedB* constant, const Layout& at, const Tensor& a,
                          const std::function<QuantizedA(int64_t, int64_t)>& quantize) {
  const Tensor& scale = ctx.input(at.b_scale);
  const bool use_constant = constant != nullptr && !ctx.has_input(at.b);
  PackedQ8GemmB per_run;
  std::vector<int64_t> b_shape;
  if (use_constant) {
    b_shape = constant->shape;
  } else {
    check_b(ctx.input(at.b), scale);
    b_shape = ctx.input(at.b).shape();
    per_run = pack(ctx.input(at.b), ctx.has_input(at.b_zero_point) ? &ctx.input(at.b_zero_point) : nullptr,
                   scale.element_count());
  }
  const PackedQ8GemmB& packed = use_constant ? constant->packed : per_run;
  const int64_t k = b_shape[0], n = b_shape[1];
  check_argument(a.rank() >= 1 && a.dim(a.rank() - 1) == k, "A ", tensor_text(a), " does not match B ",
                 shape_text(b_shape));
  std::vector<int64_t> y_shape = a.shape();
  y_shape.back() = n;
  const float* bias = nullptr;
  if (ctx.has_input(at.bias)) {
    const Tensor& b = ctx.input(at.bias);
    check_argument(b.dtype() == DType::kFloat && b.element_count() == n, "bias must be float with ", n, " values, got ",
                   tensor_text(b));
    bias = b.data<float>();
  }
  Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, y_shape);
  if (y.element_count() == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < y.element_count(); ++i) y.data<float>()[i] = bias != nullptr ? bias[i % n] : 0.0f;
    return;
  }
  const int64_t m = a.element_count() / k;
  const QuantizedA qa = quantize(m, k);
  std::vector<float> scales(static_cast<size_t>(scale.element_count()));
  for (size_t j = 0; j < scales.size(); ++j) scales[j] = qa.scale * scale.data<float>()[j];
  Q8GemmOutput out;
  out.c_f32 = y.data<float>();
  out.ldc = n;
  out.a_scale = 1.0f;
  out.b_scales = scales.data();
  out.b_scale_count = static_cast<int64_t>(scales.size());
  out.bias = bias;
  q8_gemm(m, n, k, qa.data, k, qa.is_signed, qa.zero_point, packed, out, &ctx.parallelism());
}

std::unique_ptr<Kernel> make_dynamic_quantize_matmul(const KernelInfo& info) {
  std::shared_ptr<const PackedB> constant = pack_constant_b(info, kDynamicQuantizeMatMulInputs);
  return make_kernel([constant](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    check_argument(a.dtype() == DType::kFloat, "A must be float, got ", tensor_text(a));
    Tensor a_q;
    run_quantized_matmul(ctx, constant.get(), kDynamicQuantizeMatMulInputs, a, [&](int64_t m, int64_t k) {
      const DynamicQuantU8 q = dynamic_quant_u8_params(a.data<float>(), a.element_count(), &ctx.parallelism());
      a_q = Tensor::uninitialized(DType::kUint8, {m, k});
      quantize_u8(a.data<float>(), a.element_count(), q, a_q.data<uint8_t>(), &ctx.parallelism());
      return QuantizedA{a_q.data<uint8_t>(), false, q.zero_point, q.scale};
    });
  });
}

std::unique_ptr<Kernel> make_matmul_integer_to_float(const KernelInfo& info) {
  std::shared_ptr<const PackedB> constant = pack_constant_b(info, kMatMulIntegerToFloatInputs);
  return make_kernel([constant](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    check_argument(a.dtype() == DType::kInt8 || a.dtype() == DType::kUint8, "A must be int8 or uint8, got ",
                   tensor_text(a));
    const Tensor& a_scale = ctx.input(2);
    check_argument(a_scale.dtype() == DType::kFloat && a_scale.element_count() == 1,
                   "a_scale must be one float (per-tensor A), got ", tensor_text(a_scale));
    int32_t a_zp = 0;
    if (ctx.has_input(4)) {
      const Tensor& zp = ctx.input(4);
      check_argument(zp.dtype() == a.dtype() && zp.element_count() == 1, "a_zero_point must be one ",
                     dtype_name(a.dtype()), ", got ", tensor_text(zp));
      a_zp = a.dtype() == DType::kInt8 ? zp.data<int8_t>()[0] : zp.data<uint8_t>()[0];
    }
    run_quantized_matmul(ctx, constant.get(), kMatMulIntegerToFloatInputs, a, [&](int64_t, int64_t) {
      return QuantizedA{a.data<uint8_t>(), a.dtype() == DType::kInt8, a_zp, a_scale.data<float>()[0]};
    });
  });
}

void infer_dynamic_quantize_matmul(InferenceContext& context) {
  const TypeInfo* a = context.input_type(0);
  const TypeInfo* b = context.input_type(1);
  TypeInfo out = TypeInfo::tensor(DType::kFloat);
  if (a != nullptr && b != nullptr && a->shape && b->shape && b->shape->size() == 2 && !a->shape->empty()) {
    std::vector<Dim> dims = *a->shape;
    dims.back() = (*b->shape)[1];
    out.shape = dims;
  }
  context.set_output_type(0, out);
}

const RegisterOp kMatMulIntegerToFloat{{.domain = kMicrosoftDomain,
                                        .op_type = "MatMulIntegerToFloat",
                                        .since_version = 1,
                                        .last_version = INT_MAX,
                                        .factory = make_matmul_integer_to_float,
                                        .infer = infer_dynamic_quantize_matmul}};
const RegisterOp kDynamicQuantizeMatMul{{.domain = kMicrosoftDomain,
                                         .op_type = "DynamicQuantizeMatMul",
                                         .since_version = 1,
                                         .last_version = INT_MAX,
                                         .factory = make_dynamic_quantize_matmul,
                                         .infer = infer_dynamic_quantize_matmul}};

}  // namespace
}  // namespace tessera

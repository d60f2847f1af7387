// com.microsoft QGemm (ONNX Runtime's quantized Gemm): S = (op(A) - a_zero_point) (op(B) - b_zero_point[j]) exact
// in int32 (q8-gemm), plus the optional int32 C (broadcast to [M, N]); then, as ONNX Runtime, with y_scale given
// Y = saturate(round_half_even(float(S) * (alpha * a_scale * b_scale[j] / y_scale)) + y_zero_point) in y_zero_point's
// type (uint8 without one), else float Y = float(S) * (alpha * a_scale * b_scale[j]). b_scale and b_zero_point are
// one value or one per column of op(B). A and B are int8 or uint8 (independently), 2-D; transA / transB as Gemm.
#include <climits>
#include <cmath>
#include <memory>
#include <vector>

#include "base/lazy_text.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "ops/common/op_utils.h"
#include "ops/quantization/quant_params.h"
#include "ops/registry.h"

namespace tessera {
namespace {

int32_t zero_point_value(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt8 ? t.data<int8_t>()[i] : t.data<uint8_t>()[i];
}

// B (k x n after transB) packed for the q8 GEMM with its zero points (one, or one per column).
PackedQ8GemmB pack_b(const Tensor& b, const Tensor& zero, bool trans_b, int64_t k, int64_t n) {
  std::vector<int32_t> zeros(static_cast<size_t>(zero.element_count()));
  for (size_t j = 0; j < zeros.size(); ++j) zeros[j] = zero_point_value(zero, static_cast<int64_t>(j));
  return pack_q8_gemm_b(b.dtype() == DType::kInt8, trans_b, k, n, static_cast<const uint8_t*>(b.raw_data()),
                        trans_b ? k : n, zeros.data(), static_cast<int64_t>(zeros.size()));
}

// A constant B packed once at session creation, recognised at run time by its data (the runtime passes the same
// initializer every run).
struct ConstantB {
  PackedQ8GemmB packed;
  const void* source = nullptr;
};

// B (input 3) packed when it and its zero point (input 5) are constants of the expected form; else nullptr (each
// run packs the B it gets).
std::shared_ptr<const ConstantB> pack_constant_b(const KernelInfo& info, bool trans_b) {
  const Tensor* b = info.constant_input(3);
  const Tensor* zero = info.constant_input(5);
  if (b == nullptr || zero == nullptr || b->rank() != 2 || !qlinear::is_q8(b->dtype()) || zero->dtype() != b->dtype() ||
      b->element_count() == 0) {
    return nullptr;
  }
  const int64_t k = trans_b ? b->dim(1) : b->dim(0), n = trans_b ? b->dim(0) : b->dim(1);
  if (zero->element_count() != 1 && zero->element_count() != n) return nullptr;
  auto constant = std::make_shared<ConstantB>();
  constant->packed = pack_b(*b, *zero, trans_b, k, n);
  constant->source = b->raw_data();
  return constant;
}

std::unique_ptr<Kernel> make_qgemm(const KernelInfo& info) {
  const bool trans_a = info.node.attr_int("transA", 0) != 0;
  const bool trans_b = info.node.attr_int("transB", 0) != 0;
  const float alpha = info.node.attr_float("alpha", 1.0f);
  const std::shared_ptr<const ConstantB> constant = pack_constant_b(info, trans_b);
  return make_kernel([trans_a, trans_b, alpha, constant](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    check_argument(qlinear::is_q8(a.dtype()) && qlinear::is_q8(b.dtype()) && a.rank() == 2 && b.rank() == 2,
                   "QGemm: A ", tensor_text(a), " and B ", tensor_text(b), " must be 2-D int8 or uint8");
    const int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
    const int64_t n = trans_b ? b.dim(0) : b.dim(1);
    check_argument((trans_b ? b.dim(1) : b.dim(0)) == k, "QGemm: A ", tensor_text(a), " and B ", tensor_text(b),
                   " do not multiply", trans_a ? " (transA)" : "", trans_b ? " (transB)" : "");
    const Tensor& a_scale = ctx.input(1);
    const Tensor& a_zero = ctx.input(2);
    const Tensor& b_scale = ctx.input(4);
    const Tensor& b_zero = ctx.input(5);
    check_argument(a_scale.dtype() == DType::kFloat && a_scale.element_count() == 1 && a_zero.dtype() == a.dtype() &&
                       a_zero.element_count() == 1,
                   "QGemm: a_scale ", tensor_text(a_scale), " and a_zero_point ", tensor_text(a_zero),
                   " must be one float and one value of A's type");
    const int64_t columns = b_scale.element_count();
    check_argument(b_scale.dtype() == DType::kFloat && (columns == 1 || columns == n) && b_zero.dtype() == b.dtype() &&
                       (b_zero.element_count() == 1 || b_zero.element_count() == n),
                   "QGemm: b_scale ", tensor_text(b_scale), " and b_zero_point ", tensor_text(b_zero),
                   " must hold 1 or N = ", n, " values (float, and B's type)");
    // A as m x k row-major bytes (transposed once when transA).
    const uint8_t* a_bytes = static_cast<const uint8_t*>(a.raw_data());
    std::vector<uint8_t> a_rows;
    if (trans_a) {
      a_rows.resize(static_cast<size_t>(m * k));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < k; ++p) a_rows[static_cast<size_t>(i * k + p)] = a_bytes[p * m + i];
      a_bytes = a_rows.data();
    }
    const bool use_constant = constant != nullptr && constant->source == b.raw_data();
    PackedQ8GemmB packed_here;
    if (!use_constant) packed_here = pack_b(b, b_zero, trans_b, k, n);
    const PackedQ8GemmB& packed = use_constant ? constant->packed : packed_here;
    std::vector<int32_t> sums(static_cast<size_t>(m * n));
    Q8GemmOutput out;
    out.c_s32 = sums.data();
    out.ldc = n;
    q8_gemm(m, n, k, a_bytes, k, a.dtype() == DType::kInt8, zero_point_value(a_zero, 0), packed, out,
            &ctx.parallelism());
    if (ctx.has_input(6)) {
      const Tensor& c = ctx.input(6);
      check_argument(c.dtype() == DType::kInt32, "QGemm: C ", tensor_text(c), " must be int32");
      const std::vector<int64_t> shape{m, n};
      check_argument(broadcast_shape(c.shape(), shape) == shape, "QGemm: C ", tensor_text(c),
                     " does not broadcast to [", m, ",", n, "]");
      const std::vector<int64_t> strides = broadcast_strides(c.shape(), shape);
      const int32_t* cd = c.data<int32_t>();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) sums[static_cast<size_t>(i * n + j)] += cd[i * strides[0] + j * strides[1]];
    }
    std::vector<float> scales(static_cast<size_t>(columns));
    const bool quantized = ctx.has_input(7);
    const float y_scale = quantized ? ctx.input(7).data<float>()[0] : 1.0f;
    if (quantized) {
      check_argument(ctx.input(7).dtype() == DType::kFloat && ctx.input(7).element_count() == 1, "QGemm: y_scale ",
                     tensor_text(ctx.input(7)), " must be one float");
    }
    for (int64_t j = 0; j < columns; ++j) {
      scales[static_cast<size_t>(j)] = alpha * a_scale.data<float>()[0] * b_scale.data<float>()[j];
      if (quantized) scales[static_cast<size_t>(j)] /= y_scale;
    }
    const auto scale_of = [&](int64_t j) { return scales[static_cast<size_t>(columns == 1 ? 0 : j)]; };
    if (!quantized) {
      Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, {m, n});
      float* yd = y.data<float>();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          yd[i * n + j] = static_cast<float>(sums[static_cast<size_t>(i * n + j)]) * scale_of(j);
      return;
    }
    const DType y_type = ctx.has_input(8) ? ctx.input(8).dtype() : DType::kUint8;
    check_argument(qlinear::is_q8(y_type) && (!ctx.has_input(8) || ctx.input(8).element_count() == 1),
                   "QGemm: y_zero_point ", ctx.has_input(8) ? ctx.input(8).description() : "",
                   " must be one int8 or uint8");
    const float y_zero = ctx.has_input(8) ? static_cast<float>(zero_point_value(ctx.input(8), 0)) : 0.0f;
    const bool is_signed = y_type == DType::kInt8;
    Tensor& y = ctx.allocate_output_uninitialized(0, y_type, {m, n});
    uint8_t* yd = static_cast<uint8_t*>(y.raw_data());
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const float q = std::nearbyint(static_cast<float>(sums[static_cast<size_t>(i * n + j)]) * scale_of(j)) + y_zero;
        yd[i * n + j] = qlinear::saturate_q8(q, is_signed);
      }
    }
  });
}

void infer_qgemm(InferenceContext& context) {
  DType type = DType::kFloat;
  if (context.node().has_input(7)) {
    const TypeInfo* zero = context.node().has_input(8) ? context.input_type(8) : nullptr;
    type = zero != nullptr && zero->is_tensor() ? zero->elem_type : DType::kUint8;
  }
  context.set_output_type(0, TypeInfo::tensor(type));
}

const RegisterOp kQGemm{{.domain = kMicrosoftDomain,
                         .op_type = "QGemm",
                         .since_version = 1,
                         .last_version = INT_MAX,
                         .factory = make_qgemm,
                         .infer = infer_qgemm}};

}  // namespace
}  // namespace tessera

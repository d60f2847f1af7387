// MatMulInteger (opset 10) and QLinearMatMul (opsets 10, 21): NumPy matmul of 8-bit integer operands with zero
// points (per tensor, per row of A, per column of B), accumulated exactly in int32 on the q8 GEMM (a constant 2-D
// B with constant zero points packed once at kernel creation; runs of A rows sharing a zero point per call);
// QLinearMatMul then rescales
// by a_scale * b_scale / y_scale, rounds half to even and saturates to the output type. QLinearMatMul-21 also
// takes float8 operands (computed in double) and float16/bfloat16 scales.
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "ops/linalg/linalg_common.h"
#include "ops/linalg/quant_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using linalg::MatMulDims;

// Zero points (or scales) of A: one value, one per row (M), or one per row of every batch matrix.
std::vector<double> row_parameter(const Tensor* tensor, const Tensor& a, const MatMulDims& d, const char* what) {
  const std::vector<double> values = linalg::tensor_values(tensor);
  const int64_t rows = d.k == 0 ? 0 : a.element_count() / d.k;
  check_argument(
      values.size() == 1 || static_cast<int64_t>(values.size()) == d.m || static_cast<int64_t>(values.size()) == rows,
      what, " has ", values.size(), " values; expected 1, ", d.m, " (per row) or ", rows);
  return values;
}

// Zero points (or scales) of B: one value, one per column (N), or one per column of every batch matrix.
std::vector<double> column_parameter(const Tensor* tensor, int64_t b_elements, const MatMulDims& d, const char* what) {
  const std::vector<double> values = linalg::tensor_values(tensor);
  const int64_t columns = d.k == 0 ? 0 : b_elements / d.k;
  check_argument(values.size() == 1 || static_cast<int64_t>(values.size()) == d.n ||
                     static_cast<int64_t>(values.size()) == columns,
                 what, " has ", values.size(), " values; expected 1, ", d.n, " (per column) or ", columns);
  return values;
}

// Value of a per-column parameter for element i of B (matrices of k x n).
double column_value(const std::vector<double>& values, const MatMulDims& d, int64_t i) {
  if (values.size() == 1) return values[0];
  const int64_t column = i % d.n;
  const int64_t matrix = i / std::max<int64_t>(d.k * d.n, 1);
  return values[static_cast<size_t>((matrix * d.n + column) % static_cast<int64_t>(values.size()))];
}

// B widened to T with its zero points subtracted.
template <typename T>
std::vector<T> widen_b(const Tensor& b, const std::vector<double>& zero_points, const MatMulDims& d) {
  std::vector<T> out(static_cast<size_t>(b.element_count()));
  visit_dtype(b.dtype(), [&](auto tag) {
    using E = typename decltype(tag)::type;
    if constexpr (std::is_same_v<E, uint8_t> || std::is_same_v<E, int8_t> || kIsNarrowFloat<E>) {
      const E* data = b.data<E>();
      for (int64_t i = 0; i < b.element_count(); ++i) {
        out[static_cast<size_t>(i)] = static_cast<T>(element_to_double(data[i]) - column_value(zero_points, d, i));
      }
    }
  });
  return out;
}

// A widened to T with its zero points subtracted (one per row, cycling over all rows).
template <typename T>
std::vector<T> widen_a(const Tensor& a, const std::vector<double>& zero_points, const MatMulDims& d) {
  std::vector<T> out(static_cast<size_t>(a.element_count()));
  const int64_t blocks = static_cast<int64_t>(zero_points.size());
  visit_dtype(a.dtype(), [&](auto tag) {
    using E = typename decltype(tag)::type;
    if constexpr (std::is_same_v<E, uint8_t> || std::is_same_v<E, int8_t> || kIsNarrowFloat<E>) {
      const E* data = a.data<E>();
      for (int64_t i = 0; i < a.element_count(); ++i) {
        const double zp = blocks == 1 ? zero_points[0] : zero_points[static_cast<size_t>((i / d.k) % blocks)];
        out[static_cast<size_t>(i)] = static_cast<T>(element_to_double(data[i]) - zp);
      }
    }
  });
  return out;
}

// The product of the widened operands for every batch: [batches, m, n].
template <typename T>
std::vector<T> batched_product(const MatMulDims& d, const std::vector<T>& a, const std::vector<T>& b,
                               Parallelism& parallelism) {
  std::vector<T> out(static_cast<size_t>(d.batch_count() * d.m * d.n));
  parallelism.parallel_for(d.batch_count(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const size_t index = static_cast<size_t>(i);
      linalg::matmul_plain<T>(d.m, d.n, d.k, a.data() + d.a_offsets[index], b.data() + d.b_offsets[index],
                              out.data() + i * d.m * d.n);
    }
  });
  return out;
}

const Tensor* optional_input(KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

// The zero points of the B matrix starting at element b_offset, one per column.
std::vector<int32_t> matrix_zero_points(const std::vector<double>& values, const MatMulDims& d, int64_t b_offset) {
  std::vector<int32_t> out(static_cast<size_t>(d.n));
  for (int64_t j = 0; j < d.n; ++j)
    out[static_cast<size_t>(j)] = static_cast<int32_t>(column_value(values, d, b_offset + j));
  return out;
}

PackedQ8GemmB pack_matrix(const Tensor& b, const std::vector<double>& zero_points, const MatMulDims& d,
                          int64_t b_offset) {
  const std::vector<int32_t> zp = matrix_zero_points(zero_points, d, b_offset);
  return pack_q8_gemm_b(b.dtype() == DType::kInt8, false, d.k, d.n, b.data<uint8_t>() + b_offset, d.n, zp.data(), d.n);
}

// A constant 2-D B with constant zero points, packed for the q8 GEMM at kernel creation.
struct PackedConstantB {
  PackedQ8GemmB packed;
  const void* source = nullptr;  // the constant's data while the caller keeps it, to recognise it when passed
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  std::vector<double> zero_points;
};

// Packs a constant B (input b_index) with a constant or absent zero point (input zp_index). The kernel consumes B
// (the runtime then passes it no more and frees it) when A is known to be 8-bit with a constant or absent zero
// point in its range (input a_zp_index): then every run takes the q8 GEMM with this packed copy.
std::shared_ptr<const PackedConstantB> pack_constant_b(const KernelInfo& info, size_t b_index, size_t zp_index,
                                                       size_t a_zp_index) {
  const Tensor* b = info.constant_input(b_index);
  if (b == nullptr || b->rank() != 2 || !linalg::is_int8_type(b->dtype()) || b->element_count() == 0) return nullptr;
  const bool has_zp = info.node.has_input(zp_index);
  const Tensor* zp = has_zp ? info.constant_input(zp_index) : nullptr;
  if (has_zp && zp == nullptr) return nullptr;
  auto weight = std::make_shared<PackedConstantB>();
  weight->zero_points = linalg::tensor_values(zp);
  const int64_t n = b->dim(1);
  if (!(weight->zero_points.size() == 1 || static_cast<int64_t>(weight->zero_points.size()) == n) ||
      !linalg::fit_in_8bit_type(weight->zero_points, b->dtype())) {
    return nullptr;
  }
  const MatMulDims d = linalg::matmul_dims({1, b->dim(0)}, b->shape());
  weight->packed = pack_matrix(*b, weight->zero_points, d, 0);
  weight->source = b->raw_data();
  weight->dtype = b->dtype();
  weight->shape = b->shape();
  if (linalg::runs_always_take_q8_gemm(info, a_zp_index)) info.consume_constant_input(b_index);
  return weight;
}

using OperandB = linalg::WeightsInput;

OperandB operand_b(KernelContext& ctx, size_t index, const PackedConstantB* constant) {
  return linalg::weights_input(ctx, index, constant ? constant->dtype : DType::kUndefined,
                               constant ? &constant->shape : nullptr);
}

// The exact int32 product [batches, m, n] of 8-bit A and B with their zero points on the q8 GEMM, into `out`.
// Rows of A run in groups sharing one zero point; `constant` (when it stands for this B) saves packing B.
// Returns false, doing nothing, when a zero point lies outside its operand's range (the widened loops then
// give the reference result).
bool q8_product(const Tensor& a, const OperandB& b, const MatMulDims& d, const std::vector<double>& a_zp,
                const std::vector<double>& b_zp, const PackedConstantB* constant, int32_t* out,
                Parallelism& parallelism) {
  if (!linalg::fit_in_8bit_type(a_zp, a.dtype()) || !linalg::fit_in_8bit_type(b_zp, b.dtype)) return false;
  const int64_t batches = d.batch_count();
  if (d.k == 0) {
    std::fill(out, out + batches * d.m * d.n, 0);
    return true;
  }
  const bool use_constant =
      constant != nullptr && d.b_is_shared &&
      (b.tensor == nullptr || (constant->source == b.tensor->raw_data() && constant->shape == b.shape)) &&
      constant->zero_points == b_zp && constant->packed.depth() == d.k && q8_gemm_runs_packed(constant->packed);
  check_argument(use_constant || b.tensor != nullptr, "the packed constant B (packed for ",
                 constant != nullptr ? constant->packed.kernel_name() : "", ") does not fit this run");
  const PackedQ8GemmB shared = use_constant || !d.b_is_shared ? PackedQ8GemmB() : pack_matrix(*b.tensor, b_zp, d, 0);
  const PackedQ8GemmB& shared_b = use_constant ? constant->packed : shared;
  const int64_t a_rows = a.element_count() / d.k;
  const bool a_signed = a.dtype() == DType::kInt8;
  const auto run_batch = [&](int64_t batch, Parallelism* inner) {
    const size_t index = static_cast<size_t>(batch);
    const PackedQ8GemmB own = d.b_is_shared ? PackedQ8GemmB() : pack_matrix(*b.tensor, b_zp, d, d.b_offsets[index]);
    const PackedQ8GemmB& packed = d.b_is_shared ? shared_b : own;
    const int64_t a_row0 = d.a_offsets[index] / d.k;
    const uint8_t* a_data = a.data<uint8_t>() + d.a_offsets[index];
    Q8GemmOutput o;
    o.ldc = d.n;
    // Runs of rows with one zero point (all of them for a per-tensor zero point).
    for (int64_t r = 0; r < d.m;) {
      const auto zp = [&](int64_t row) {
        return a_zp.size() == 1 ? a_zp[0] : a_zp[static_cast<size_t>(((a_row0 + row) % a_rows) % a_zp.size())];
      };
      int64_t end = r + 1;
      while (end < d.m && zp(end) == zp(r)) ++end;
      o.c_s32 = out + (batch * d.m + r) * d.n;
      q8_gemm(end - r, d.n, d.k, a_data + r * d.k, d.k, a_signed, static_cast<int32_t>(zp(r)), packed, o, inner);
      r = end;
    }
  };
  // Many small products run one per thread; large ones split each product over the threads.
  const double work = static_cast<double>(d.m) * static_cast<double>(d.n) * static_cast<double>(d.k);
  if (batches > 1 && work < double(1 << 21) && parallelism.thread_count() > 1) {
    parallelism.parallel_for(batches, [&](int64_t begin, int64_t end) {
      for (int64_t batch = begin; batch < end; ++batch) run_batch(batch, nullptr);
    });
  } else {
    for (int64_t batch = 0; batch < batches; ++batch) run_batch(batch, &parallelism);
  }
  return true;
}

// The int32 product of 8-bit operands: the q8 GEMM, or the widened loops for out-of-range zero points.
void integer_product(const Tensor& a, const OperandB& b, const MatMulDims& d, const std::vector<double>& a_zp,
                     const std::vector<double>& b_zp, const PackedConstantB* constant, int32_t* out,
                     Parallelism& parallelism) {
  if (q8_product(a, b, d, a_zp, b_zp, constant, out, parallelism)) return;
  check_argument(b.tensor != nullptr, "zero points outside the operands' types need B, which the kernel consumed");
  const std::vector<int32_t> product =
      batched_product<int32_t>(d, widen_a<int32_t>(a, a_zp, d), widen_b<int32_t>(*b.tensor, b_zp, d), parallelism);
  std::copy(product.begin(), product.end(), out);
}

void compute_matmul_integer(KernelContext& ctx, const PackedConstantB* constant) {
  const Tensor& a = ctx.input(0);
  const OperandB b = operand_b(ctx, 1, constant);
  check_argument(linalg::is_int8_type(a.dtype()) && linalg::is_int8_type(b.dtype),
                 "MatMulInteger needs int8/uint8 inputs, got A ", tensor_text(a), " and B ", b.description());
  const MatMulDims d = linalg::matmul_dims(a.shape(), b.shape);
  const std::vector<double> a_zp = row_parameter(optional_input(ctx, 2), a, d, "MatMulInteger a_zero_point");
  const std::vector<double> b_zp =
      column_parameter(optional_input(ctx, 3), b.element_count(), d, "MatMulInteger b_zero_point");
  Tensor& y = ctx.allocate_output_uninitialized(0, DType::kInt32, d.output_shape);
  if (y.element_count() == 0) return;
  integer_product(a, b, d, a_zp, b_zp, constant, y.data<int32_t>(), ctx.parallelism());
}

void compute_qlinear_matmul(KernelContext& ctx, const PackedConstantB* constant) {
  const Tensor& a = ctx.input(0);
  const OperandB b = operand_b(ctx, 3, constant);
  const DType out_dtype = ctx.has_input(7) ? ctx.input(7).dtype() : a.dtype();
  check_argument(
      linalg::is_qlinear_type(a.dtype()) && linalg::is_qlinear_type(b.dtype) && linalg::is_qlinear_type(out_dtype),
      "QLinearMatMul needs 8-bit inputs, got a ", tensor_text(a), " and b ", b.description());
  const MatMulDims d = linalg::matmul_dims(a.shape(), b.shape);
  const std::vector<double> a_zp = row_parameter(optional_input(ctx, 2), a, d, "QLinearMatMul a_zero_point");
  const std::vector<double> b_zp =
      column_parameter(optional_input(ctx, 5), b.element_count(), d, "QLinearMatMul b_zero_point");
  const std::vector<double> a_scale = row_parameter(&ctx.input(1), a, d, "QLinearMatMul a_scale");
  const std::vector<double> b_scale = column_parameter(&ctx.input(4), b.element_count(), d, "QLinearMatMul b_scale");
  const std::vector<double> y_scale = linalg::tensor_values(&ctx.input(6));
  const std::vector<double> y_zp = linalg::tensor_values(optional_input(ctx, 7));
  check_argument(y_scale.size() == 1 && y_zp.size() == 1, "QLinearMatMul y_scale and y_zero_point must be scalars");
  const DType scale_dtype = ctx.input(1).dtype();
  Tensor& y = ctx.allocate_output(0, out_dtype, d.output_shape);
  if (y.element_count() == 0) return;
  const bool integer = linalg::is_int8_type(a.dtype()) && linalg::is_int8_type(b.dtype);
  std::vector<int32_t> exact;
  std::vector<double> product;
  if (integer) {
    exact.resize(static_cast<size_t>(y.element_count()));
    integer_product(a, b, d, a_zp, b_zp, constant, exact.data(), ctx.parallelism());
  } else {
    check_argument(b.tensor != nullptr, "QLinearMatMul: A ", tensor_text(a), " does not match the consumed B");
    product =
        batched_product<double>(d, widen_a<double>(a, a_zp, d), widen_b<double>(*b.tensor, b_zp, d), ctx.parallelism());
  }
  const int64_t a_rows = d.k == 0 ? 0 : a.element_count() / d.k;
  std::vector<double> scale(static_cast<size_t>(d.n));
  for (int64_t batch = 0; batch < d.batch_count(); ++batch) {
    // Row r of this batch reads A row (a_offset / k + r); column j reads B element (b_offset + j).
    const int64_t a_row0 = d.a_offsets[static_cast<size_t>(batch)] / std::max<int64_t>(d.k, 1);
    const int64_t b_offset = d.b_offsets[static_cast<size_t>(batch)];
    double scale_sa = std::numeric_limits<double>::quiet_NaN();
    for (int64_t r = 0; r < d.m; ++r) {
      const int64_t a_row = a_rows == 0 ? 0 : (a_row0 + r) % a_rows;
      const double sa = a_scale.size() == 1 ? a_scale[0] : a_scale[static_cast<size_t>(a_row % a_scale.size())];
      if (!(sa == scale_sa) || r == 0) {
        // The combined scales of this row, in the scales' dtype (as the reference rounds them).
        for (int64_t j = 0; j < d.n; ++j) {
          const double sb = column_value(b_scale, d, b_offset + j);
          scale[static_cast<size_t>(j)] =
              linalg::round_to_dtype(linalg::round_to_dtype(sa * sb, scale_dtype) / y_scale[0], scale_dtype);
        }
        scale_sa = sa;
      }
      const int64_t row = (batch * d.m + r) * d.n;
      if (integer) {
        linalg::requantize(exact.data() + row, d.n, scale.data(), 1, y_zp[0], y, row);
      } else {
        for (int64_t j = 0; j < d.n; ++j) {
          linalg::store_quantized(product[static_cast<size_t>(row + j)] * scale[static_cast<size_t>(j)], y_zp[0], y,
                                  row + j);
        }
      }
    }
  }
}

std::unique_ptr<Kernel> make_matmul_integer(const KernelInfo& info) {
  std::shared_ptr<const PackedConstantB> constant = pack_constant_b(info, 1, 3, 2);
  return make_kernel([constant](KernelContext& ctx) { compute_matmul_integer(ctx, constant.get()); });
}
std::unique_ptr<Kernel> make_qlinear_matmul(const KernelInfo& info) {
  std::shared_ptr<const PackedConstantB> constant = pack_constant_b(info, 3, 5, 2);
  return make_kernel([constant](KernelContext& ctx) { compute_qlinear_matmul(ctx, constant.get()); });
}

void infer_matmul_integer(InferenceContext& context) { linalg::infer_matmul_output(context, 0, 1, DType::kInt32); }

void infer_qlinear_matmul(InferenceContext& context) {
  const TypeInfo* zp = context.input_type(7);
  const DType dtype = zp != nullptr && zp->is_tensor() ? zp->elem_type : DType::kUndefined;
  linalg::infer_matmul_output(context, 0, 3, dtype);
}

const RegisterOp kMatMulInteger{{.op_type = "MatMulInteger",
                                 .since_version = 10,
                                 .last_version = INT_MAX,
                                 .factory = make_matmul_integer,
                                 .infer = infer_matmul_integer}};
const RegisterOp kQLinearMatMul{{.op_type = "QLinearMatMul",
                                 .since_version = 10,
                                 .last_version = INT_MAX,
                                 .factory = make_qlinear_matmul,
                                 .infer = infer_qlinear_matmul}};

}  // namespace
}  // namespace tessera

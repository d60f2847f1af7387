// MatMulInteger (opset 10) and QLinearMatMul (opsets 10, 21): NumPy matmul of 8-bit integer operands with zero
// points (per tensor, per row of A, per column of B), accumulated exactly in int32; QLinearMatMul then rescales
// by a_scale * b_scale / y_scale, rounds half to even and saturates to the output type. QLinearMatMul-21 also
// takes float8 operands (computed in double) and float16/bfloat16 scales.
#include <algorithm>
#include <climits>

#include "base/dtype_dispatch.h"
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
  check_argument(values.size() == 1 || static_cast<int64_t>(values.size()) == d.m ||
                     static_cast<int64_t>(values.size()) == rows,
                 what, " has ", values.size(), " values; expected 1, ", d.m, " (per row) or ", rows);
  return values;
}

// Zero points (or scales) of B: one value, one per column (N), or one per column of every batch matrix.
std::vector<double> column_parameter(const Tensor* tensor, const Tensor& b, const MatMulDims& d, const char* what) {
  const std::vector<double> values = linalg::tensor_values(tensor);
  const int64_t columns = d.k == 0 ? 0 : b.element_count() / d.k;
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
        out[static_cast<size_t>(i)] =
            static_cast<T>(element_to_double(data[i]) - column_value(zero_points, d, i));
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

void compute_matmul_integer(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_argument(linalg::is_int8_type(a.dtype()) && linalg::is_int8_type(b.dtype()),
                 "MatMulInteger needs int8/uint8 inputs, got A ", a.description(), " and B ", b.description());
  const MatMulDims d = linalg::matmul_dims(a.shape(), b.shape());
  const std::vector<double> a_zp = row_parameter(optional_input(ctx, 2), a, d, "MatMulInteger a_zero_point");
  const std::vector<double> b_zp = column_parameter(optional_input(ctx, 3), b, d, "MatMulInteger b_zero_point");
  Tensor& y = ctx.allocate_output(0, DType::kInt32, d.output_shape);
  if (y.element_count() == 0) return;
  const std::vector<int32_t> product =
      batched_product<int32_t>(d, widen_a<int32_t>(a, a_zp, d), widen_b<int32_t>(b, b_zp, d), ctx.parallelism());
  std::copy(product.begin(), product.end(), y.data<int32_t>());
}

void compute_qlinear_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  const DType out_dtype = ctx.has_input(7) ? ctx.input(7).dtype() : a.dtype();
  check_argument(linalg::is_qlinear_type(a.dtype()) && linalg::is_qlinear_type(b.dtype()) &&
                     linalg::is_qlinear_type(out_dtype),
                 "QLinearMatMul needs 8-bit inputs, got a ", a.description(), " and b ", b.description());
  const MatMulDims d = linalg::matmul_dims(a.shape(), b.shape());
  const std::vector<double> a_zp = row_parameter(optional_input(ctx, 2), a, d, "QLinearMatMul a_zero_point");
  const std::vector<double> b_zp = column_parameter(optional_input(ctx, 5), b, d, "QLinearMatMul b_zero_point");
  const std::vector<double> a_scale = row_parameter(&ctx.input(1), a, d, "QLinearMatMul a_scale");
  const std::vector<double> b_scale = column_parameter(&ctx.input(4), b, d, "QLinearMatMul b_scale");
  const std::vector<double> y_scale = linalg::tensor_values(&ctx.input(6));
  const std::vector<double> y_zp = linalg::tensor_values(optional_input(ctx, 7));
  check_argument(y_scale.size() == 1 && y_zp.size() == 1, "QLinearMatMul y_scale and y_zero_point must be scalars");
  const DType scale_dtype = ctx.input(1).dtype();
  Tensor& y = ctx.allocate_output(0, out_dtype, d.output_shape);
  if (y.element_count() == 0) return;
  std::vector<double> product;
  if (linalg::is_int8_type(a.dtype()) && linalg::is_int8_type(b.dtype())) {
    const std::vector<int32_t> exact =
        batched_product<int32_t>(d, widen_a<int32_t>(a, a_zp, d), widen_b<int32_t>(b, b_zp, d), ctx.parallelism());
    product.assign(exact.begin(), exact.end());
  } else {
    product = batched_product<double>(d, widen_a<double>(a, a_zp, d), widen_b<double>(b, b_zp, d), ctx.parallelism());
  }
  const int64_t a_rows = d.k == 0 ? 0 : a.element_count() / d.k;
  for (int64_t batch = 0; batch < d.batch_count(); ++batch) {
    // Row r of this batch reads A row (a_offset / k + r); column j reads B element (b_offset + j).
    const int64_t a_row0 = d.a_offsets[static_cast<size_t>(batch)] / std::max<int64_t>(d.k, 1);
    const int64_t b_offset = d.b_offsets[static_cast<size_t>(batch)];
    for (int64_t r = 0; r < d.m; ++r) {
      const int64_t a_row = a_rows == 0 ? 0 : (a_row0 + r) % a_rows;
      const double sa = a_scale.size() == 1 ? a_scale[0] : a_scale[static_cast<size_t>(a_row % a_scale.size())];
      for (int64_t j = 0; j < d.n; ++j) {
        const double sb = column_value(b_scale, d, b_offset + j);
        const double scale =
            linalg::round_to_dtype(linalg::round_to_dtype(sa * sb, scale_dtype) / y_scale[0], scale_dtype);
        const int64_t index = (batch * d.m + r) * d.n + j;
        linalg::store_quantized(product[static_cast<size_t>(index)] * scale, y_zp[0], y, index);
      }
    }
  }
}

std::unique_ptr<Kernel> make_matmul_integer(const KernelInfo&) { return make_kernel(compute_matmul_integer); }
std::unique_ptr<Kernel> make_qlinear_matmul(const KernelInfo&) { return make_kernel(compute_qlinear_matmul); }

void infer_matmul_integer(InferenceContext& context) {
  linalg::infer_matmul_output(context, 0, 1, DType::kInt32);
}

void infer_qlinear_matmul(InferenceContext& context) {
  const TypeInfo* zp = context.input_type(7);
  const DType dtype = zp != nullptr && zp->is_tensor() ? zp->elem_type : DType::kUndefined;
  linalg::infer_matmul_output(context, 0, 3, dtype);
}

const RegisterOp kMatMulInteger{{.op_type = "MatMulInteger", .since_version = 10, .last_version = INT_MAX,
                                 .factory = make_matmul_integer, .infer = infer_matmul_integer}};
const RegisterOp kQLinearMatMul{{.op_type = "QLinearMatMul", .since_version = 10, .last_version = INT_MAX,
                                 .factory = make_qlinear_matmul, .infer = infer_qlinear_matmul}};

}  // namespace
}  // namespace tessera

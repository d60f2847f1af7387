// Det (opsets 11 and 22: bfloat16 added): the determinant of each trailing [M, M] matrix, by LU
// decomposition with partial pivoting in double precision. Input [*, M, M] gives output [*].
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Determinant of the n x n row-major matrix in `a` (destroyed).
double lu_determinant(double* a, int64_t n) {
  double det = 1.0;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; ++r) {
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    }
    const double p = a[pivot * n + col];
    if (p == 0.0) return 0.0;
    if (pivot != col) {
      for (int64_t c = 0; c < n; ++c) std::swap(a[pivot * n + c], a[col * n + c]);
      det = -det;
    }
    det *= p;
    for (int64_t r = col + 1; r < n; ++r) {
      const double factor = a[r * n + col] / p;
      if (factor == 0.0) continue;
      for (int64_t c = col + 1; c < n; ++c) a[r * n + c] -= factor * a[col * n + c];
    }
  }
  return det;
}

template <typename T>
void det_typed(const Tensor& x, Tensor& y, int64_t n, Parallelism& parallelism) {
  const int64_t count = y.element_count();
  const T* in = x.data<T>();
  T* out = y.data<T>();
  maybe_parallel_for(parallelism, count, count * n * n * n, [&](int64_t begin, int64_t end) {
    std::vector<double> a(static_cast<size_t>(n * n));
    for (int64_t m = begin; m < end; ++m) {
      const T* src = in + m * n * n;
      for (int64_t e = 0; e < n * n; ++e) a[static_cast<size_t>(e)] = to_compute<double>(src[e]);
      out[m] = from_compute<T>(lu_determinant(a.data(), n));
    }
  });
}

std::unique_ptr<Kernel> make_det(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const size_t rank = x.rank();
    check_argument(rank >= 2 && x.dim(rank - 1) == x.dim(rank - 2), "input 'X' ", tensor_text(x),
                   " must be [*, M, M] (square matrices in the last two dims)");
    const std::vector<int64_t> shape(x.shape().begin(), x.shape().end() - 2);
    Tensor& y = ctx.allocate_output(0, x.dtype(), shape);
    if (y.element_count() == 0) return;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsSoftmaxType<T>) {
        det_typed<T>(x, y, x.dim(rank - 1), ctx.parallelism());
      } else {
        fail(ErrorCode::kUnsupported, "input 'X' ", x.description(), ": element type ", dtype_name(x.dtype()),
             " is not supported (float types only)");
      }
    });
  });
}

void infer_det(InferenceContext& ctx) {
  const TypeInfo* t = ctx.input_type(0);
  if (t == nullptr || !t->is_tensor()) return;
  if (!t->shape) {
    ctx.set_output_type(0, TypeInfo::tensor(t->elem_type));
    return;
  }
  check_model(t->shape->size() >= 2, ctx.node().label(), ": input 'X' ", t->to_string(), " must have rank >= 2");
  ctx.set_output_type(0, TypeInfo::tensor(t->elem_type, std::vector<Dim>(t->shape->begin(), t->shape->end() - 2)));
}

const RegisterOp kDet{
    {.op_type = "Det", .since_version = 11, .last_version = INT_MAX, .factory = make_det, .infer = infer_det}};

}  // namespace
}  // namespace tessera

// LpNormalization (opsets 1 and 22: bfloat16 added): y = x / ||x||_p along one axis, p in {1, 2}; where the
// norm is zero the output is zero.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

template <typename T>
inline constexpr bool kLpNormType =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

// Normalizes every (outer, inner) line of `s.axis` elements; accumulates in double.
template <typename T>
void lp_normalize(const T* x, T* y, const AxisSplit& s, int64_t p, Parallelism& parallelism) {
  maybe_parallel_for(parallelism, s.outer, s.outer * s.axis * s.inner, [&](int64_t begin, int64_t end) {
    std::vector<double> norm(static_cast<size_t>(s.inner));
    for (int64_t o = begin; o < end; ++o) {
      const int64_t block = o * s.axis * s.inner;
      std::fill(norm.begin(), norm.end(), 0.0);
      for (int64_t i = 0; i < s.axis; ++i) {
        const T* row = x + block + i * s.inner;
        for (int64_t j = 0; j < s.inner; ++j) {
          const double v = to_compute<double>(row[j]);
          norm[static_cast<size_t>(j)] += p == 1 ? std::fabs(v) : v * v;
        }
      }
      if (p == 2) {
        for (double& n : norm) n = std::sqrt(n);
      }
      for (int64_t i = 0; i < s.axis; ++i) {
        const T* row = x + block + i * s.inner;
        T* out = y + block + i * s.inner;
        for (int64_t j = 0; j < s.inner; ++j) {
          const double n = norm[static_cast<size_t>(j)];
          out[j] = from_compute<T>(n == 0.0 ? 0.0 : to_compute<double>(row[j]) / n);
        }
      }
    }
  });
}

std::unique_ptr<Kernel> make_lp_normalization(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", -1);
  const int64_t p = info.node.attr_int("p", 2);
  check_model(p == 1 || p == 2, "attribute 'p' = ", p, ": only 1 and 2 are supported");
  return make_kernel([axis_attr, p](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const auto rank = static_cast<int64_t>(x.rank());
    check_argument(rank >= 1, "input 'input' ", tensor_text(x), " must have rank >= 1");
    const int64_t axis = normalize_axis(axis_attr, rank);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    if (y.element_count() == 0) return;
    const AxisSplit s = split_at_axis(x.shape(), axis);
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kLpNormType<T>) {
        lp_normalize<T>(x.data<T>(), y.data<T>(), s, p, ctx.parallelism());
      } else {
        fail(ErrorCode::kInvalidArgument, "input 'input' ", x.description(), ": element type ", dtype_name(x.dtype()),
             " is not a float type");
      }
    });
  });
}

const RegisterOp kLpNormalization1{{.op_type = "LpNormalization",
                                    .since_version = 1,
                                    .last_version = 21,
                                    .factory = make_lp_normalization,
                                    .infer = infer_same_as_input}};
const RegisterOp kLpNormalization22{{.op_type = "LpNormalization",
                                     .since_version = 22,
                                     .last_version = INT_MAX,
                                     .factory = make_lp_normalization,
                                     .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

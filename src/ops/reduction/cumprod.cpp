// CumProd (opset 26): running products along the axis given by a scalar input, optionally exclusive (each
// output omits its own element, the first is 1) and/or reversed.
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Floats accumulate in double, integers in uint64: products modulo 2^64 truncate to the same bits as a
// wrapping product in T, signed or not.
template <typename T>
using CumProdAcc = std::conditional_t<std::is_floating_point_v<T> || kIsNarrowFloat<T>, double, uint64_t>;

template <typename T>
CumProdAcc<T> to_cumprod_acc(const T& v) {
  if constexpr (std::is_same_v<CumProdAcc<T>, double>)
    return to_compute<double>(v);
  else if constexpr (std::is_signed_v<T>)
    return static_cast<uint64_t>(static_cast<int64_t>(v));
  else
    return static_cast<uint64_t>(v);
}

template <typename T>
T from_cumprod_acc(CumProdAcc<T> v) {
  if constexpr (std::is_same_v<CumProdAcc<T>, double>)
    return from_compute<T>(v);
  else
    return static_cast<T>(v);
}

template <typename T>
void cumprod_typed(const Tensor& x, Tensor& y, const AxisSplit& s, bool exclusive, bool reverse,
                   Parallelism& parallelism) {
  using Acc = CumProdAcc<T>;
  const T* in = x.data<T>();
  T* out = y.data<T>();
  maybe_parallel_for(parallelism, s.outer, s.outer * s.axis * s.inner, [&](int64_t begin, int64_t end) {
    std::vector<Acc> acc(static_cast<size_t>(s.inner));
    for (int64_t o = begin; o < end; ++o) {
      const int64_t block = o * s.axis * s.inner;
      std::fill(acc.begin(), acc.end(), Acc{1});
      for (int64_t step = 0; step < s.axis; ++step) {
        const int64_t i = reverse ? s.axis - 1 - step : step;
        const T* row = in + block + i * s.inner;
        T* out_row = out + block + i * s.inner;
        for (int64_t j = 0; j < s.inner; ++j) {
          Acc& a = acc[static_cast<size_t>(j)];
          if (exclusive) {
            out_row[j] = from_cumprod_acc<T>(a);
            a *= to_cumprod_acc(row[j]);
          } else {
            a *= to_cumprod_acc(row[j]);
            out_row[j] = from_cumprod_acc<T>(a);
          }
        }
      }
    }
  });
}

template <typename T>
inline constexpr bool kCumProdType =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Float16> ||
    std::is_same_v<T, BFloat16> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> ||
    std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>;

std::unique_ptr<Kernel> make_cumprod(const KernelInfo& info) {
  const bool exclusive = info.node.attr_int("exclusive", 0) != 0;
  const bool reverse = info.node.attr_int("reverse", 0) != 0;
  return make_kernel([exclusive, reverse](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& axis_tensor = ctx.input(1);
    check_argument(axis_tensor.element_count() == 1 && axis_tensor.rank() <= 1, "input 'axis' ",
                   tensor_text(axis_tensor), " must hold exactly one value");
    const auto rank = static_cast<int64_t>(x.rank());
    check_argument(rank >= 1, "input 'x' ", tensor_text(x), " must have rank >= 1");
    const int64_t axis = normalize_axis(tensor_to_int64s(axis_tensor)[0], rank);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    if (y.element_count() == 0) return;
    const AxisSplit s = split_at_axis(x.shape(), axis);
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kCumProdType<T>) {
        cumprod_typed<T>(x, y, s, exclusive, reverse, ctx.parallelism());
      } else {
        fail(ErrorCode::kUnsupported, "input 'x' ", x.description(), ": element type ", dtype_name(x.dtype()),
             " is not supported by CumProd");
      }
    });
  });
}

const RegisterOp kCumProd{{.op_type = "CumProd",
                           .since_version = 26,
                           .last_version = INT_MAX,
                           .factory = make_cumprod,
                           .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

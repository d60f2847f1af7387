// Pow: Z = X ^ Y with the output of X's type. Opset 1-6: one type and legacy broadcasting; opset 7-11: one type,
// multidirectional broadcasting; opset 12+: the exponent may have another numeric type.
// Integer ^ integer is exact (wrapping, by squaring); a negative integer exponent truncates 1 / x^n toward zero.
// Anything involving a float is computed in double (float ^ float in float) and converted to X's type.
#include <climits>
#include <cmath>
#include <type_traits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"

namespace tessera {
namespace {

using namespace elementwise;

template <typename T>
T integer_power(T base, int64_t exponent) {
  using U = std::make_unsigned_t<std::conditional_t<sizeof(T) < sizeof(int), int, T>>;
  if (exponent < 0) {
    if (base == 1) return 1;
    if constexpr (std::is_signed_v<T>) {
      if (base == -1) return (exponent & 1) ? T(-1) : T(1);
    }
    return 0;
  }
  U result = 1;
  U factor = static_cast<U>(base);
  for (uint64_t e = static_cast<uint64_t>(exponent); e != 0; e >>= 1) {
    if (e & 1) result = static_cast<U>(result * factor);
    factor = static_cast<U>(factor * factor);
  }
  return static_cast<T>(result);
}

// Converts a double result to integer type T without undefined behaviour (NaN and out-of-range give 0 / wrap).
template <typename T>
T double_to_integer(double v) {
  if (!(v > -9.2233720368547758e18 && v < 9.2233720368547758e18)) return 0;
  return static_cast<T>(static_cast<int64_t>(v));
}

template <typename X, typename Y>
inline X power(X x, Y y) {
  using CX = Compute<X>;
  using CY = Compute<Y>;
  if constexpr (std::is_integral_v<CX> && std::is_integral_v<CY>) {
    if constexpr (std::is_unsigned_v<CY>) {
      const uint64_t e = static_cast<uint64_t>(y);
      return integer_power<X>(x, e > uint64_t{INT64_MAX} ? INT64_MAX : static_cast<int64_t>(e));
    } else {
      return integer_power<X>(x, static_cast<int64_t>(y));
    }
  } else if constexpr (std::is_same_v<CX, float> && std::is_same_v<CY, float>) {
    return store<X>(std::pow(load(x), load(y)));
  } else {
    const double r = std::pow(static_cast<double>(load(x)), static_cast<double>(load(y)));
    if constexpr (std::is_integral_v<CX>)
      return double_to_integer<X>(r);
    else
      return store<X>(static_cast<CX>(r));
  }
}

std::unique_ptr<Kernel> make_pow(const KernelInfo& info) {
  const LegacyBroadcast legacy = read_legacy_broadcast(info);
  const bool mixed_types = info.opset >= 12;
  return make_kernel([legacy, mixed_types](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor y = legacy_operand_b(legacy, x, ctx.input(1));
    check_argument(mixed_types || x.dtype() == y.dtype(), "inputs must have one element type before opset 12, got X ",
                   tensor_text(x), " and Y ", tensor_text(y));
    Tensor& z = ctx.allocate_output(0, x.dtype(), broadcast_shape(x.shape(), y.shape()));
    visit_types<kFloatTypes | kSignedIntTypes | kUnsignedIntTypes>(x.dtype(), "input 'X'", [&](auto xtag) {
      using X = typename decltype(xtag)::type;
      visit_types<kNumericTypes>(y.dtype(), "input 'Y'", [&](auto ytag) {
        using Y = typename decltype(ytag)::type;
        if constexpr (std::is_same_v<X, float> && std::is_same_v<Y, float>) {
          broadcast_binary<float, float, float>(x, y, z, ctx.parallelism(), kTranscendentalGrain, [](float a, float b) {
            // Squares are common and far cheaper than pow (and a * a is exactly what pow returns).
            return b == 2.0f ? a * a : std::pow(a, b);
          });
        } else {
          broadcast_binary<X, Y, X>(x, y, z, ctx.parallelism(), kTranscendentalGrain,
                                    [](X a, Y b) { return power<X, Y>(a, b); });
        }
      });
    });
  });
}

const RegisterOp kPowLegacy{{.op_type = "Pow",
                             .since_version = 1,
                             .last_version = 6,
                             .factory = make_pow,
                             .infer = elementwise::infer_legacy_binary}};
const RegisterOp kPow{{.op_type = "Pow",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_pow,
                       .infer = infer_broadcast_inputs}};

}  // namespace
}  // namespace tessera

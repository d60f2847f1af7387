// Mod (opset 10+): with fmod = 0 the remainder takes the divisor's sign (A - floor(A / B) * B, as NumPy's mod),
// with fmod = 1 the dividend's sign (C fmod / %). Floats follow the special cases of the spec (NaN for a zero
// divisor or infinite dividend); an integer zero divisor is refused.
#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"

namespace tessera {
namespace {

using namespace elementwise;

template <typename T>
inline T floor_mod_float(T a, T b) {
  if (std::isnan(a) || std::isnan(b) || std::isinf(a) || b == 0) return std::numeric_limits<T>::quiet_NaN();
  if (std::isinf(b)) {
    if (a == 0) return std::copysign(T(0), b);
    return std::signbit(a) == std::signbit(b) ? a : b;
  }
  T r = std::fmod(a, b);
  if (r == 0) return std::copysign(T(0), b);
  if (std::signbit(r) != std::signbit(b)) r += b;
  return r;
}

template <typename T>
inline T integer_mod(T a, T b, bool fmod) {
  if (b == 0) return 0;  // refused before the loop
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return 0;  // MIN % -1 traps on x86
    const T r = static_cast<T>(a % b);
    if (!fmod && r != 0 && ((r < 0) != (b < 0))) return static_cast<T>(r + b);
    return r;
  } else {
    return static_cast<T>(a % b);
  }
}

std::unique_ptr<Kernel> make_mod(const KernelInfo& info) {
  const int64_t fmod_attr = info.node.attr_int("fmod", 0);
  check_model(fmod_attr == 0 || fmod_attr == 1, "attribute 'fmod' must be 0 or 1, got ", fmod_attr);
  const bool fmod = fmod_attr == 1;
  return make_kernel([fmod](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    check_argument(a.dtype() == b.dtype(), "inputs must have one element type, got A ", tensor_text(a), " and B ",
                   tensor_text(b));
    Tensor& out = ctx.allocate_output(0, a.dtype(), broadcast_shape(a.shape(), b.shape()));
    visit_types<kNumericTypes>(a.dtype(), "input 'A'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = Compute<T>;
      if constexpr (std::is_integral_v<C>) {
        const T* divisor = b.data<T>();
        for (int64_t i = 0; i < b.element_count(); ++i) {
          check_argument(divisor[i] != 0, "integer modulo by zero: B ", tensor_text(b), " holds 0 at flat index ", i);
        }
        broadcast_binary<T, T, T>(a, b, out, ctx.parallelism(), kCheapGrain,
                                  [fmod](T x, T y) { return integer_mod(x, y, fmod); });
      } else if (fmod) {
        broadcast_binary<T, T, T>(a, b, out, ctx.parallelism(), kTranscendentalGrain,
                                  [](T x, T y) { return store<T>(std::fmod(load(x), load(y))); });
      } else {
        broadcast_binary<T, T, T>(a, b, out, ctx.parallelism(), kTranscendentalGrain,
                                  [](T x, T y) { return store<T>(floor_mod_float<C>(load(x), load(y))); });
      }
    });
  });
}

const RegisterOp kMod{{.op_type = "Mod",
                       .since_version = 10,
                       .last_version = INT_MAX,
                       .factory = make_mod,
                       .infer = infer_broadcast_inputs}};

}  // namespace
}  // namespace tessera

// Add, Sub, Mul, Div: numeric types, legacy `broadcast`/`axis` attributes before opset 7, multidirectional
// broadcasting from opset 7. Integer arithmetic wraps; integer division truncates and refuses a zero divisor.
#include <climits>
#include <type_traits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"

namespace tessera {
namespace {

using namespace elementwise;

enum class ArithmeticOp { kAdd, kSub, kMul, kDiv };

// Integer add/sub/mul in the unsigned type so overflow wraps instead of being undefined.
template <typename T>
using Wide = std::make_unsigned_t<std::conditional_t<sizeof(T) < sizeof(int), int, T>>;

template <ArithmeticOp Op, typename T>
inline T apply(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (Op == ArithmeticOp::kAdd)
      return a + b;
    else if constexpr (Op == ArithmeticOp::kSub)
      return a - b;
    else if constexpr (Op == ArithmeticOp::kMul)
      return a * b;
    else
      return a / b;
  } else {
    using U = Wide<T>;
    if constexpr (Op == ArithmeticOp::kAdd)
      return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    else if constexpr (Op == ArithmeticOp::kSub)
      return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
    else if constexpr (Op == ArithmeticOp::kMul)
      return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    else {
      // Zero divisors are refused before the loop; -1 is special-cased because MIN / -1 traps on x86.
      if constexpr (std::is_signed_v<T>) {
        if (b == -1) return static_cast<T>(U{0} - static_cast<U>(a));
      }
      return b == 0 ? T{0} : static_cast<T>(a / b);
    }
  }
}

// The float32 form of an arithmetic op, naming its kernels/f32-vexact loop (see binary_run).
template <ArithmeticOp Op>
struct FloatArithmetic {
  static constexpr VBinaryOpF32 kVectorF32 = Op == ArithmeticOp::kAdd   ? VBinaryOpF32::kAdd
                                             : Op == ArithmeticOp::kSub ? VBinaryOpF32::kSub
                                             : Op == ArithmeticOp::kMul ? VBinaryOpF32::kMul
                                                                        : VBinaryOpF32::kDiv;
  float operator()(float x, float y) const { return apply<Op>(x, y); }
};

template <typename T>
void check_no_zero_divisor(const Tensor& b) {
  const T* data = b.data<T>();
  for (int64_t i = 0; i < b.element_count(); ++i) {
    check_argument(data[i] != 0, "integer division by zero: divisor ", tensor_text(b), " holds 0 at flat index ", i);
  }
}

template <ArithmeticOp Op>
std::unique_ptr<Kernel> make_arithmetic(const KernelInfo& info) {
  const LegacyBroadcast legacy = read_legacy_broadcast(info);
  return make_kernel([legacy](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    // B as given (held by reference, so its memory can be taken over), or its legacy-broadcast view.
    const Tensor b_view = legacy.enabled ? legacy_operand_b(legacy, a, ctx.input(1)) : Tensor();
    const Tensor& b = legacy.enabled ? b_view : ctx.input(1);
    check_argument(a.dtype() == b.dtype(), "inputs must have one element type, got A ", tensor_text(a), " and B ",
                   tensor_text(b));
    // In place over A, or over B (not a legacy view) of the output's shape: each element is read before the same
    // index is written (broadcast_binary).
    const std::vector<int64_t> shape = broadcast_shape(a.shape(), b.shape());
    Tensor* over = ctx.output_over_input(0, 0, a.dtype(), shape);
    if (over == nullptr && !legacy.enabled) over = ctx.output_over_input(0, 1, a.dtype(), shape);
    Tensor& out = over != nullptr ? *over : ctx.allocate_output_uninitialized(0, a.dtype(), shape);
    visit_types<kNumericTypes>(a.dtype(), "input 'A'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (Op == ArithmeticOp::kDiv && std::is_integral_v<T>) check_no_zero_divisor<T>(b);
      if constexpr (std::is_same_v<T, float>) {
        broadcast_binary<T, T, T>(a, b, out, ctx.parallelism(), kCheapGrain, FloatArithmetic<Op>{});
      } else if constexpr (std::is_same_v<Compute<T>, T>) {
        broadcast_binary<T, T, T>(a, b, out, ctx.parallelism(), kCheapGrain, [](T x, T y) { return apply<Op>(x, y); });
      } else {
        broadcast_binary<T, T, T>(a, b, out, ctx.parallelism(), kCheapGrain,
                                  [](T x, T y) { return store<T>(apply<Op>(load(x), load(y))); });
      }
    });
  });
}

const RegisterOp kAddLegacy{{.op_type = "Add",
                             .since_version = 1,
                             .last_version = 6,
                             .factory = make_arithmetic<ArithmeticOp::kAdd>,
                             .infer = infer_legacy_binary}};
const RegisterOp kAdd{{.op_type = "Add",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_arithmetic<ArithmeticOp::kAdd>,
                       .infer = infer_broadcast_inputs}};
const RegisterOp kSubLegacy{{.op_type = "Sub",
                             .since_version = 1,
                             .last_version = 6,
                             .factory = make_arithmetic<ArithmeticOp::kSub>,
                             .infer = infer_legacy_binary}};
const RegisterOp kSub{{.op_type = "Sub",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_arithmetic<ArithmeticOp::kSub>,
                       .infer = infer_broadcast_inputs}};
const RegisterOp kMulLegacy{{.op_type = "Mul",
                             .since_version = 1,
                             .last_version = 6,
                             .factory = make_arithmetic<ArithmeticOp::kMul>,
                             .infer = infer_legacy_binary}};
const RegisterOp kMul{{.op_type = "Mul",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_arithmetic<ArithmeticOp::kMul>,
                       .infer = infer_broadcast_inputs}};
const RegisterOp kDivLegacy{{.op_type = "Div",
                             .since_version = 1,
                             .last_version = 6,
                             .factory = make_arithmetic<ArithmeticOp::kDiv>,
                             .infer = infer_legacy_binary}};
const RegisterOp kDiv{{.op_type = "Div",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_arithmetic<ArithmeticOp::kDiv>,
                       .infer = infer_broadcast_inputs}};

}  // namespace
}  // namespace tessera

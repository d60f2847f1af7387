// BitShift (opset 11+; signed types as in the newest spec: arithmetic right shift, and a shift amount that is
// negative or at least the bit width leaves only the sign fill), BitwiseAnd / BitwiseOr / BitwiseXor /
// BitwiseNot (opset 18+) on every integer type.
#include <climits>
#include <type_traits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"

namespace tessera {
namespace {

using namespace elementwise;

template <typename T>
inline T shift_left(T x, T amount) {
  using U = std::make_unsigned_t<T>;
  constexpr int kBits = static_cast<int>(sizeof(T) * 8);
  if constexpr (std::is_signed_v<T>) {
    if (amount < 0) return 0;
  }
  if (static_cast<uint64_t>(amount) >= kBits) return 0;
  // Shift in a type at least as wide as int so promotion cannot make the shift undefined.
  using W = std::conditional_t<sizeof(U) < sizeof(unsigned), unsigned, U>;
  return static_cast<T>(static_cast<U>(static_cast<W>(static_cast<U>(x)) << static_cast<int>(amount)));
}

template <typename T>
inline T shift_right(T x, T amount) {
  constexpr int kBits = static_cast<int>(sizeof(T) * 8);
  bool out_of_range = static_cast<uint64_t>(amount) >= kBits;
  if constexpr (std::is_signed_v<T>) out_of_range = out_of_range || amount < 0;
  if (out_of_range) {
    if constexpr (std::is_signed_v<T>) return x < 0 ? T(-1) : T(0);
    return 0;
  }
  return static_cast<T>(x >> static_cast<int>(amount));  // arithmetic for signed types (C++20)
}

std::unique_ptr<Kernel> make_bit_shift(const KernelInfo& info) {
  const std::string direction = info.node.required_attribute("direction").s;
  check_model(direction == "LEFT" || direction == "RIGHT",
              "attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"", direction, "\"");
  const bool left = direction == "LEFT";
  return make_kernel([left](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& y = ctx.input(1);
    check_argument(x.dtype() == y.dtype(), "inputs must have one element type, got X ", tensor_text(x), " and Y ",
                   tensor_text(y));
    Tensor& z = ctx.allocate_output(0, x.dtype(), broadcast_shape(x.shape(), y.shape()));
    visit_types<kIntTypes>(x.dtype(), "input 'X'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (left) {
        broadcast_binary<T, T, T>(x, y, z, ctx.parallelism(), kCheapGrain, [](T a, T b) { return shift_left(a, b); });
      } else {
        broadcast_binary<T, T, T>(x, y, z, ctx.parallelism(), kCheapGrain, [](T a, T b) { return shift_right(a, b); });
      }
    });
  });
}

enum class BitOp { kAnd, kOr, kXor };

template <BitOp Op>
std::unique_ptr<Kernel> make_bitwise(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    check_argument(a.dtype() == b.dtype(), "inputs must have one element type, got A ", tensor_text(a), " and B ",
                   tensor_text(b));
    Tensor& c = ctx.allocate_output(0, a.dtype(), broadcast_shape(a.shape(), b.shape()));
    visit_types<kIntTypes>(a.dtype(), "input 'A'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      broadcast_binary<T, T, T>(a, b, c, ctx.parallelism(), kCheapGrain, [](T x, T y) {
        if constexpr (Op == BitOp::kAnd)
          return static_cast<T>(x & y);
        else if constexpr (Op == BitOp::kOr)
          return static_cast<T>(x | y);
        else
          return static_cast<T>(x ^ y);
      });
    });
  });
}

std::unique_ptr<Kernel> make_bitwise_not(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    visit_types<kIntTypes>(x.dtype(), "input 'X'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      map_unary(x.data<T>(), y.data<T>(), x.element_count(), ctx.parallelism(), kCheapGrain,
                [](T v) { return static_cast<T>(~v); });
    });
  });
}

const RegisterOp kBitShift{{.op_type = "BitShift",
                            .since_version = 11,
                            .last_version = INT_MAX,
                            .factory = make_bit_shift,
                            .infer = infer_broadcast_inputs}};
const RegisterOp kBitwiseAnd{{.op_type = "BitwiseAnd",
                              .since_version = 18,
                              .last_version = INT_MAX,
                              .factory = make_bitwise<BitOp::kAnd>,
                              .infer = infer_broadcast_inputs}};
const RegisterOp kBitwiseOr{{.op_type = "BitwiseOr",
                             .since_version = 18,
                             .last_version = INT_MAX,
                             .factory = make_bitwise<BitOp::kOr>,
                             .infer = infer_broadcast_inputs}};
const RegisterOp kBitwiseXor{{.op_type = "BitwiseXor",
                              .since_version = 18,
                              .last_version = INT_MAX,
                              .factory = make_bitwise<BitOp::kXor>,
                              .infer = infer_broadcast_inputs}};
const RegisterOp kBitwiseNot{{.op_type = "BitwiseNot",
                              .since_version = 18,
                              .last_version = INT_MAX,
                              .factory = make_bitwise_not,
                              .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

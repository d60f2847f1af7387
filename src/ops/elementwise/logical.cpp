// And, Or, Xor (opset 1+; legacy broadcasting before 7) and Not (opset 1+) on bool tensors, and Where
// (opset 9+): condition ? X : Y with three-way broadcasting, for every element type.
#include <climits>
#include <type_traits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"

namespace tessera {
namespace {

using namespace elementwise;

enum class LogicOp { kAnd, kOr, kXor };

template <LogicOp Op>
std::unique_ptr<Kernel> make_logic(const KernelInfo& info) {
  const LegacyBroadcast legacy = read_legacy_broadcast(info);
  return make_kernel([legacy](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor b = legacy_operand_b(legacy, a, ctx.input(1));
    check_argument(a.dtype() == DType::kBool && b.dtype() == DType::kBool, "inputs must be bool, got A ",
                   tensor_text(a), " and B ", tensor_text(b));
    Tensor& c = ctx.allocate_output(0, DType::kBool, broadcast_shape(a.shape(), b.shape()));
    broadcast_binary<bool, bool, bool>(a, b, c, ctx.parallelism(), kCheapGrain, [](bool x, bool y) {
      if constexpr (Op == LogicOp::kAnd)
        return x && y;
      else if constexpr (Op == LogicOp::kOr)
        return x || y;
      else
        return x != y;
    });
  });
}

std::unique_ptr<Kernel> make_not(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() == DType::kBool, "input 'X' must be bool, got ", tensor_text(x));
    Tensor& y = ctx.allocate_output(0, DType::kBool, x.shape());
    map_unary(x.data<bool>(), y.data<bool>(), x.element_count(), ctx.parallelism(), kCheapGrain,
              [](bool v) { return !v; });
  });
}

std::unique_ptr<Kernel> make_where(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& condition = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& y = ctx.input(2);
    check_argument(condition.dtype() == DType::kBool, "input 'condition' must be bool, got ", tensor_text(condition));
    check_argument(x.dtype() == y.dtype(), "inputs 'X' and 'Y' must have one element type, got ", tensor_text(x),
                   " and ", tensor_text(y));
    Tensor& out = ctx.allocate_output(0, x.dtype(), broadcast_shapes({&condition, &x, &y}));
    visit_types<kAllTypes>(x.dtype(), "input 'X'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      // Strings are selected by reference; everything else by masks, which vectorizes.
      using Selected = std::conditional_t<std::is_same_v<T, std::string>, const T&, T>;
      broadcast_ternary<bool, T, T, T>(condition, x, y, out, ctx.parallelism(), kCheapGrain,
                                       [](bool c, const T& a, const T& b) -> Selected {
                                         if constexpr (std::is_arithmetic_v<T>)
                                           return fast_math::select(c, a, b);
                                         else
                                           return c ? a : b;
                                       });
    });
  });
}

void infer_where(InferenceContext& context) {
  std::vector<Dim> dims;
  for (size_t i = 0; i < 3; ++i) {
    const TypeInfo* t = context.input_type(i);
    if (t == nullptr || !t->is_tensor() || !t->shape) return;
    dims = i == 0 ? *t->shape : broadcast_dims(dims, *t->shape);
  }
  context.set_output_type(0, TypeInfo::tensor(context.input_type(1)->elem_type, dims));
}

const RegisterOp kAndLegacy{{.op_type = "And",
                             .since_version = 1,
                             .last_version = 6,
                             .factory = make_logic<LogicOp::kAnd>,
                             .infer = infer_legacy_binary_to_bool}};
const RegisterOp kAnd{{.op_type = "And",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_logic<LogicOp::kAnd>,
                       .infer = infer_broadcast_to_bool}};
const RegisterOp kOrLegacy{{.op_type = "Or",
                            .since_version = 1,
                            .last_version = 6,
                            .factory = make_logic<LogicOp::kOr>,
                            .infer = infer_legacy_binary_to_bool}};
const RegisterOp kOr{{.op_type = "Or",
                      .since_version = 7,
                      .last_version = INT_MAX,
                      .factory = make_logic<LogicOp::kOr>,
                      .infer = infer_broadcast_to_bool}};
const RegisterOp kXorLegacy{{.op_type = "Xor",
                             .since_version = 1,
                             .last_version = 6,
                             .factory = make_logic<LogicOp::kXor>,
                             .infer = infer_legacy_binary_to_bool}};
const RegisterOp kXor{{.op_type = "Xor",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_logic<LogicOp::kXor>,
                       .infer = infer_broadcast_to_bool}};
const RegisterOp kNot{
    {.op_type = "Not", .since_version = 1, .last_version = INT_MAX, .factory = make_not, .infer = infer_same_as_input}};
const RegisterOp kWhere{
    {.op_type = "Where", .since_version = 9, .last_version = INT_MAX, .factory = make_where, .infer = infer_where}};

}  // namespace
}  // namespace tessera

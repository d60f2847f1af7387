// Elementwise math on one tensor: Abs, Neg, Sign, Erf (numeric types), Floor, Ceil, Round (half to even), Sqrt,
// Reciprocal, Exp, Log and the trigonometric and hyperbolic functions (float types); IsNaN and IsInf (float types
// including float8, bool output). Each op has one semantics across its versions (later versions only added
// types), so one registration covers every version from the first.
#include <climits>
#include <cmath>
#include <type_traits>

#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"
#include "ops/elementwise/unary_ops.h"

namespace tessera {
namespace {

using namespace elementwise;

struct SignOp {
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>)
      return x > 0 ? C(1) : (x < 0 ? C(-1) : (x == 0 ? C(0) : x));
    else
      return x > 0 ? C(1) : (x < 0 ? static_cast<C>(-1) : C(0));
  }
};

// Ops on float types that call the standard library function of the same name.
#define TESSERA_STD_UNARY_OPS(X) \
  X(Floor, floor)                \
  X(Ceil, ceil)                  \
  X(Round, nearbyint)            \
  X(Sqrt, sqrt)                  \
  X(Log, log)                    \
  X(Sin, sin)                    \
  X(Cos, cos)                    \
  X(Tan, tan)                    \
  X(Asin, asin)                  \
  X(Acos, acos)                  \
  X(Atan, atan)                  \
  X(Sinh, sinh)                  \
  X(Cosh, cosh)                  \
  X(Asinh, asinh)                \
  X(Acosh, acosh)                \
  X(Atanh, atanh)

#define TESSERA_DEFINE_STD_OP(Name, fn) \
  struct Name##Op {                     \
    template <typename C>               \
    C operator()(C x) const {           \
      return std::fn(x);                \
    }                                   \
  };
TESSERA_STD_UNARY_OPS(TESSERA_DEFINE_STD_OP)
#undef TESSERA_DEFINE_STD_OP

template <uint32_t Types, typename Op, int64_t kGrain>
std::unique_ptr<Kernel> make_unary(const KernelInfo&) {
  return make_unary_kernel<Types>(Op{}, kGrain);
}

// Calls f(TypeTag<T>{}) for every float storage type, narrow floats included; throws for other types.
template <typename F>
void visit_float_types(DType dtype, F&& f) {
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      f(tag);
    } else {
      fail(ErrorCode::kInvalidArgument, "input 'X' does not accept element type ", dtype_name(dtype));
    }
  });
}

std::unique_ptr<Kernel> make_is_nan(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.allocate_output(0, DType::kBool, x.shape());
    visit_float_types(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      map_unary(x.data<T>(), y.data<bool>(), x.element_count(), ctx.parallelism(), kCheapGrain,
                [](const T& v) { return std::isnan(element_to_double(v)); });
    });
  });
}

std::unique_ptr<Kernel> make_is_inf(const KernelInfo& info) {
  const bool positive = info.node.attr_int("detect_positive", 1) != 0;
  const bool negative = info.node.attr_int("detect_negative", 1) != 0;
  return make_kernel([positive, negative](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.allocate_output(0, DType::kBool, x.shape());
    visit_float_types(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      map_unary(x.data<T>(), y.data<bool>(), x.element_count(), ctx.parallelism(), kCheapGrain,
                [positive, negative](const T& v) {
                  const double d = element_to_double(v);
                  return std::isinf(d) && (d > 0 ? positive : negative);
                });
    });
  });
}

void infer_bool_like_input(InferenceContext& context) { infer_shape_of_input0(context, DType::kBool); }

constexpr uint32_t kSignedOrFloat = kFloatTypes | kSignedIntTypes;

const RegisterOp kAbs{{.op_type = "Abs",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = make_unary<kNumericTypes, AbsOp, kCheapGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kNeg{{.op_type = "Neg",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = make_unary<kSignedOrFloat, NegOp, kCheapGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kSign{{.op_type = "Sign",
                        .since_version = 9,
                        .last_version = INT_MAX,
                        .factory = make_unary<kNumericTypes, SignOp, kCheapGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kErf{{.op_type = "Erf",
                       .since_version = 9,
                       .last_version = INT_MAX,
                       .factory = make_unary<kNumericTypes, ErfOp, kTranscendentalGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kExp{{.op_type = "Exp",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = make_unary<kFloatTypes, ExpOp, kTranscendentalGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kReciprocal{{.op_type = "Reciprocal",
                              .since_version = 1,
                              .last_version = INT_MAX,
                              .factory = make_unary<kFloatTypes, ReciprocalOp, kCheapGrain>,
                              .infer = infer_same_as_input}};
const RegisterOp kFloor{{.op_type = "Floor",
                         .since_version = 1,
                         .last_version = INT_MAX,
                         .factory = make_unary<kFloatTypes, FloorOp, kCheapGrain>,
                         .infer = infer_same_as_input}};
const RegisterOp kCeil{{.op_type = "Ceil",
                        .since_version = 1,
                        .last_version = INT_MAX,
                        .factory = make_unary<kFloatTypes, CeilOp, kCheapGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kRound{{.op_type = "Round",
                         .since_version = 11,
                         .last_version = INT_MAX,
                         .factory = make_unary<kFloatTypes, RoundOp, kCheapGrain>,
                         .infer = infer_same_as_input}};
const RegisterOp kSqrt{{.op_type = "Sqrt",
                        .since_version = 1,
                        .last_version = INT_MAX,
                        .factory = make_unary<kFloatTypes, SqrtOp, kCheapGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kLog{{.op_type = "Log",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = make_unary<kFloatTypes, LogOp, kTranscendentalGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kSin{{.op_type = "Sin",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_unary<kFloatTypes, SinOp, kTranscendentalGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kCos{{.op_type = "Cos",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_unary<kFloatTypes, CosOp, kTranscendentalGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kTan{{.op_type = "Tan",
                       .since_version = 7,
                       .last_version = INT_MAX,
                       .factory = make_unary<kFloatTypes, TanOp, kTranscendentalGrain>,
                       .infer = infer_same_as_input}};
const RegisterOp kAsin{{.op_type = "Asin",
                        .since_version = 7,
                        .last_version = INT_MAX,
                        .factory = make_unary<kFloatTypes, AsinOp, kTranscendentalGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kAcos{{.op_type = "Acos",
                        .since_version = 7,
                        .last_version = INT_MAX,
                        .factory = make_unary<kFloatTypes, AcosOp, kTranscendentalGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kAtan{{.op_type = "Atan",
                        .since_version = 7,
                        .last_version = INT_MAX,
                        .factory = make_unary<kFloatTypes, AtanOp, kTranscendentalGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kSinh{{.op_type = "Sinh",
                        .since_version = 9,
                        .last_version = INT_MAX,
                        .factory = make_unary<kFloatTypes, SinhOp, kTranscendentalGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kCosh{{.op_type = "Cosh",
                        .since_version = 9,
                        .last_version = INT_MAX,
                        .factory = make_unary<kFloatTypes, CoshOp, kTranscendentalGrain>,
                        .infer = infer_same_as_input}};
const RegisterOp kAsinh{{.op_type = "Asinh",
                         .since_version = 9,
                         .last_version = INT_MAX,
                         .factory = make_unary<kFloatTypes, AsinhOp, kTranscendentalGrain>,
                         .infer = infer_same_as_input}};
const RegisterOp kAcosh{{.op_type = "Acosh",
                         .since_version = 9,
                         .last_version = INT_MAX,
                         .factory = make_unary<kFloatTypes, AcoshOp, kTranscendentalGrain>,
                         .infer = infer_same_as_input}};
const RegisterOp kAtanh{{.op_type = "Atanh",
                         .since_version = 9,
                         .last_version = INT_MAX,
                         .factory = make_unary<kFloatTypes, AtanhOp, kTranscendentalGrain>,
                         .infer = infer_same_as_input}};
const RegisterOp kIsNaN{{.op_type = "IsNaN",
                         .since_version = 9,
                         .last_version = INT_MAX,
                         .factory = make_is_nan,
                         .infer = infer_bool_like_input}};
const RegisterOp kIsInf{{.op_type = "IsInf",
                         .since_version = 10,
                         .last_version = INT_MAX,
                         .factory = make_is_inf,
                         .infer = infer_bool_like_input}};

}  // namespace
}  // namespace tessera

// Equal, Less, Greater (opset 1+; legacy broadcasting before 7), LessOrEqual, GreaterOrEqual (opset 12+):
// bool outputs. Equal accepts bool and (opset 19+) string; ordered comparisons accept numeric types. NaN compares
// unequal and unordered as in IEEE 754.
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"

namespace tessera {
namespace {

using namespace elementwise;

enum class CompareOp { kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual };

template <CompareOp Op, typename C>
inline bool compare(const C& a, const C& b) {
  if constexpr (Op == CompareOp::kEqual)
    return a == b;
  else if constexpr (Op == CompareOp::kLess)
    return a < b;
  else if constexpr (Op == CompareOp::kGreater)
    return a > b;
  else if constexpr (Op == CompareOp::kLessOrEqual)
    return a <= b;
  else
    return a >= b;
}

template <CompareOp Op>
std::unique_ptr<Kernel> make_compare(const KernelInfo& info) {
  const LegacyBroadcast legacy = read_legacy_broadcast(info);
  constexpr uint32_t kTypes = Op == CompareOp::kEqual ? kAllTypes : kNumericTypes;
  return make_kernel([legacy](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor b = legacy_operand_b(legacy, a, ctx.input(1));
    check_argument(a.dtype() == b.dtype(), "inputs must have one element type, got A ", tensor_text(a), " and B ",
                   tensor_text(b));
    Tensor& c = ctx.allocate_output(0, DType::kBool, broadcast_shape(a.shape(), b.shape()));
    visit_types<kTypes>(a.dtype(), "input 'A'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      broadcast_binary<T, T, bool>(a, b, c, ctx.parallelism(), kCheapGrain, [](const T& x, const T& y) {
        if constexpr (std::is_same_v<T, std::string>)
          return compare<Op>(x, y);
        else
          return compare<Op>(load(x), load(y));
      });
    });
  });
}

const RegisterOp kEqualLegacy{{.op_type = "Equal",
                               .since_version = 1,
                               .last_version = 6,
                               .factory = make_compare<CompareOp::kEqual>,
                               .infer = infer_legacy_binary_to_bool}};
const RegisterOp kEqual{{.op_type = "Equal",
                         .since_version = 7,
                         .last_version = INT_MAX,
                         .factory = make_compare<CompareOp::kEqual>,
                         .infer = infer_broadcast_to_bool}};
const RegisterOp kLessLegacy{{.op_type = "Less",
                              .since_version = 1,
                              .last_version = 6,
                              .factory = make_compare<CompareOp::kLess>,
                              .infer = infer_legacy_binary_to_bool}};
const RegisterOp kLess{{.op_type = "Less",
                        .since_version = 7,
                        .last_version = INT_MAX,
                        .factory = make_compare<CompareOp::kLess>,
                        .infer = infer_broadcast_to_bool}};
const RegisterOp kGreaterLegacy{{.op_type = "Greater",
                                 .since_version = 1,
                                 .last_version = 6,
                                 .factory = make_compare<CompareOp::kGreater>,
                                 .infer = infer_legacy_binary_to_bool}};
const RegisterOp kGreater{{.op_type = "Greater",
                           .since_version = 7,
                           .last_version = INT_MAX,
                           .factory = make_compare<CompareOp::kGreater>,
                           .infer = infer_broadcast_to_bool}};
const RegisterOp kLessOrEqual{{.op_type = "LessOrEqual",
                               .since_version = 12,
                               .last_version = INT_MAX,
                               .factory = make_compare<CompareOp::kLessOrEqual>,
                               .infer = infer_broadcast_to_bool}};
const RegisterOp kGreaterOrEqual{{.op_type = "GreaterOrEqual",
                                  .since_version = 12,
                                  .last_version = INT_MAX,
                                  .factory = make_compare<CompareOp::kGreaterOrEqual>,
                                  .infer = infer_broadcast_to_bool}};

}  // namespace
}  // namespace tessera

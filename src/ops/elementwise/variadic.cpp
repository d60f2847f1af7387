// Min, Max (numeric types) and Sum, Mean (float types): N inputs (1 or more) folded pairwise with N-way
// multidirectional broadcasting. Versions before 8 required equal shapes; broadcasting them is a superset.
// Min and Max propagate NaN as NumPy's minimum/maximum do.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"

namespace tessera {
namespace {

using namespace elementwise;

enum class FoldOp { kMin, kMax, kSum, kMean };

template <FoldOp Op, typename C>
inline C fold(C a, C b) {
  if constexpr (Op == FoldOp::kMin) {
    if constexpr (std::is_floating_point_v<C>)
      return fast_math::select((a < b) | (a != a), a, b);
    else
      return fast_math::select(a < b, a, b);
  } else if constexpr (Op == FoldOp::kMax) {
    if constexpr (std::is_floating_point_v<C>)
      return fast_math::select((a > b) | (a != a), a, b);
    else
      return fast_math::select(a > b, a, b);
  } else {
    return a + b;
  }
}

template <FoldOp Op>
std::unique_ptr<Kernel> make_fold(const KernelInfo&) {
  constexpr uint32_t kTypes = (Op == FoldOp::kMin || Op == FoldOp::kMax) ? kNumericTypes : kFloatTypes;
  return make_kernel([](KernelContext& ctx) {
    std::vector<const Tensor*> inputs;
    for (size_t i = 0; i < ctx.input_count(); ++i) {
      if (ctx.has_input(i)) inputs.push_back(&ctx.input(i));
    }
    check_argument(!inputs.empty(), "needs at least one input");
    for (const Tensor* t : inputs) {
      check_argument(t->dtype() == inputs[0]->dtype(), "inputs must have one element type, got ",
                     tensor_text(*inputs[0]), " and ", tensor_text(*t));
    }
    const std::vector<int64_t> shape = broadcast_shapes(inputs);
    visit_types<kTypes>(inputs[0]->dtype(), "input 0", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = Compute<T>;
      if (inputs.size() == 1) {
        ctx.set_output(0, *inputs[0]);
        return;
      }
      Tensor& out = ctx.allocate_output(0, inputs[0]->dtype(), shape);
      const auto op = [](T a, T b) { return store<T>(fold<Op, C>(load(a), load(b))); };
      broadcast_binary<T, T, T>(*inputs[0], *inputs[1], out, ctx.parallelism(), kCheapGrain, op);
      for (size_t k = 2; k < inputs.size(); ++k) {
        broadcast_binary<T, T, T>(out, *inputs[k], out, ctx.parallelism(), kCheapGrain, op);
      }
      if constexpr (Op == FoldOp::kMean) {
        const C count = static_cast<C>(inputs.size());
        T* data = out.data<T>();
        map_unary(data, data, out.element_count(), ctx.parallelism(), kCheapGrain,
                  [count](T v) { return store<T>(load(v) / count); });
      }
    });
  });
}

const RegisterOp kMin{{.op_type = "Min",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = make_fold<FoldOp::kMin>,
                       .infer = infer_broadcast_inputs}};
const RegisterOp kMax{{.op_type = "Max",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = make_fold<FoldOp::kMax>,
                       .infer = infer_broadcast_inputs}};
const RegisterOp kSum{{.op_type = "Sum",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = make_fold<FoldOp::kSum>,
                       .infer = infer_broadcast_inputs}};
const RegisterOp kMean{{.op_type = "Mean",
                        .since_version = 1,
                        .last_version = INT_MAX,
                        .factory = make_fold<FoldOp::kMean>,
                        .infer = infer_broadcast_inputs}};

}  // namespace
}  // namespace tessera

// Clip: Y = min(max(X, min), max). Opset 1-10 take the bounds as float attributes (no default before 6; the
// float type's lowest and highest values from 6); opset 11+ take them as optional scalar inputs of X's type
// (integer types from opset 12). When min > max every element becomes max. NaN passes through.
#include <climits>
#include <limits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"

namespace tessera {
namespace {

using namespace elementwise;

template <typename T>
void clip(const Tensor& x, Tensor& y, Compute<T> lo, Compute<T> hi, Parallelism& parallelism) {
  using C = Compute<T>;
  map_unary(x.data<T>(), y.data<T>(), x.element_count(), parallelism, kCheapGrain, [lo, hi](T value) {
    C v = load(value);
    v = fast_math::select(v < lo, lo, v);
    v = fast_math::select(v > hi, hi, v);
    return store<T>(v);
  });
}

// The bound given by optional input `index`, or `fallback` when it is absent.
template <typename T>
Compute<T> bound_input(const KernelContext& ctx, size_t index, const char* name, const Tensor& x, Compute<T> fallback) {
  if (!ctx.has_input(index)) return fallback;
  const Tensor& bound = ctx.input(index);
  check_argument(bound.dtype() == x.dtype(), "input '", name, "' ", tensor_text(bound), " must have the type of X ",
                 tensor_text(x));
  check_argument(bound.element_count() == 1, "input '", name, "' must be a scalar, got ", tensor_text(bound));
  return load(*bound.data<T>());
}

std::unique_ptr<Kernel> make_clip_attributes(const KernelInfo& info) {
  const float lowest = info.opset < 6 ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::lowest();
  const float highest = info.opset < 6 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::max();
  const float lo = info.node.attr_float("min", lowest);
  const float hi = info.node.attr_float("max", highest);
  return make_kernel([lo, hi](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    visit_types<kFloatTypes>(x.dtype(), "input 'input'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = Compute<T>;
      clip<T>(x, y, static_cast<C>(lo), static_cast<C>(hi), ctx.parallelism());
    });
  });
}

std::unique_ptr<Kernel> make_clip_inputs(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    visit_types<kNumericTypes>(x.dtype(), "input 'input'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = Compute<T>;
      // An absent bound clips nothing (infinity, for float types).
      using Limits = std::numeric_limits<C>;
      const C lo = bound_input<T>(ctx, 1, "min", x, Limits::has_infinity ? -Limits::infinity() : Limits::lowest());
      const C hi = bound_input<T>(ctx, 2, "max", x, Limits::has_infinity ? Limits::infinity() : Limits::max());
      clip<T>(x, y, lo, hi, ctx.parallelism());
    });
  });
}

const RegisterOp kClipAttributes{{.op_type = "Clip",
                                  .since_version = 1,
                                  .last_version = 10,
                                  .factory = make_clip_attributes,
                                  .infer = infer_same_as_input}};
const RegisterOp kClipInputs{{.op_type = "Clip",
                              .since_version = 11,
                              .last_version = INT_MAX,
                              .factory = make_clip_inputs,
                              .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

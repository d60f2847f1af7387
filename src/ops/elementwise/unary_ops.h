// The scalar forms of the elementwise ops that more than one kernel computes (the operators themselves and
// com.tessera ElementwiseChain), so a fused chain computes exactly what the separate nodes do. Float32 Sigmoid,
// Tanh, Erf and Exp also name the kernels/f32-vunary loop their float32 tensors run on (kVectorF32); Relu,
// LeakyRelu, Abs, Neg and Reciprocal the kernels/f32-vexact one (kExactF32; the same bits as the scalar form).
#pragma once

#include <cmath>
#include <type_traits>

#include "kernels/f32-vexact/f32-vexact.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "ops/elementwise/fast_math.h"

namespace tessera::elementwise {

struct SigmoidOp {
  static constexpr VUnaryOpF32 kVectorF32 = VUnaryOpF32::kSigmoid;
  float operator()(float x) const { return fast_math::sigmoid_f32(x); }
  double operator()(double x) const { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }
};

struct TanhOp {
  static constexpr VUnaryOpF32 kVectorF32 = VUnaryOpF32::kTanh;
  float operator()(float x) const { return fast_math::tanh_f32(x); }
  double operator()(double x) const { return std::tanh(x); }
};

struct ReluOp {
  static constexpr VExactUnaryOpF32 kExactF32 = VExactUnaryOpF32::kRelu;
  template <typename C>
  C operator()(C x) const {
    return fast_math::select(x < C(0), C(0), x);  // NaN passes through
  }
};

struct LeakyReluOp {
  static constexpr VExactUnaryOpF32 kExactF32 = VExactUnaryOpF32::kLeakyRelu;
  float alpha;
  template <typename C>
  C operator()(C x) const {
    return fast_math::select(x < C(0), static_cast<C>(alpha) * x, x);
  }
};

// Integer negation and absolute value in the unsigned type, so the minimum value wraps instead of overflowing.
template <typename C>
inline C wrapping_negate(C x) {
  using U = std::make_unsigned_t<std::conditional_t<sizeof(C) < sizeof(int), int, C>>;
  return static_cast<C>(U{0} - static_cast<U>(x));
}

struct AbsOp {
  static constexpr VExactUnaryOpF32 kExactF32 = VExactUnaryOpF32::kAbs;
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>)
      return std::fabs(x);
    else if constexpr (std::is_signed_v<C>)
      return x < 0 ? wrapping_negate(x) : x;
    else
      return x;
  }
};

struct NegOp {
  static constexpr VExactUnaryOpF32 kExactF32 = VExactUnaryOpF32::kNeg;
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>)
      return -x;
    else
      return wrapping_negate(x);
  }
};

struct ErfOp {
  static constexpr VUnaryOpF32 kVectorF32 = VUnaryOpF32::kErf;
  float operator()(float x) const { return fast_math::erf_f32(x); }
  double operator()(double x) const { return std::erf(x); }
  template <typename C>
  C operator()(C x) const {
    return static_cast<C>(std::erf(static_cast<double>(x)));  // integers: |erf| < 1 truncates to 0
  }
};

struct ExpOp {
  static constexpr VUnaryOpF32 kVectorF32 = VUnaryOpF32::kExp;
  float operator()(float x) const { return fast_math::exp_f32(x); }
  double operator()(double x) const { return std::exp(x); }
};

struct ReciprocalOp {
  static constexpr VExactUnaryOpF32 kExactF32 = VExactUnaryOpF32::kReciprocal;
  template <typename C>
  C operator()(C x) const {
    return C(1) / x;
  }
};

}  // namespace tessera::elementwise

// Branch-free float32 approximations of exp, tanh, sigmoid, erf, erfc and GELU that the compiler vectorizes
// when they are called in a simple loop (-O3; no libm calls, selects instead of branches). Accuracy: a few ulp
// (relative error below 2e-6 near 0, growing like 2e-7 * x^2 in the erf/erfc tails, where the exp argument
// -x^2 carries rounding; see tests/kernels/f32_vunary_test.cpp and tests/ops/elementwise_test.cpp). NaN propagates.
//
// Everything here has internal linkage (an unnamed namespace), like f32-gemm-ukernel-impl.h: the per-ISA files
// of f32-vunary include it under their own -m flags, the operators' baseline code includes it through
// ops/elementwise/fast_math.h, and no copy compiled for one ISA can be picked by the linker for another.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/exp_cephes.h"

namespace tessera::f32_vunary {
namespace {

// c ? a : b for arithmetic types, by bit masks. GCC neither if-converts float selects while -ftrapping-math is
// on (the default) nor speculates the loads behind a plain `?:`, either of which keeps a loop from vectorizing;
// masks have neither problem.
template <typename T>
inline T select(bool c, T a, T b) {
  if constexpr (std::is_same_v<T, float>) {
    const uint32_t mask = 0u - static_cast<uint32_t>(c);
    return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) | (std::bit_cast<uint32_t>(b) & ~mask));
  } else if constexpr (std::is_same_v<T, double>) {
    const uint64_t mask = uint64_t{0} - static_cast<uint64_t>(c);
    return std::bit_cast<double>((std::bit_cast<uint64_t>(a) & mask) | (std::bit_cast<uint64_t>(b) & ~mask));
  } else if constexpr (std::is_same_v<T, bool>) {
    return (c & a) | (!c & b);
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    const U mask = static_cast<U>(U{0} - static_cast<U>(c));
    return static_cast<T>((static_cast<U>(a) & mask) | (static_cast<U>(b) & static_cast<U>(~mask)));
  } else {
    return c ? a : b;
  }
}

// exp(x). Results below about 2e-38 (x < -86.9, near FLT_MIN) flush to 0; x past ln(FLT_MAX) gives infinity.
inline float exp_f32(float x) {
  constexpr float kHigh = 88.7228394f;  // ln(FLT_MAX)
  constexpr float kLow = -86.9f;        // keeps n >= -125 below, so 2^(n-1) is a normal float
  float c = select(x > kHigh, kHigh, x);
  c = select(c < kLow, kLow, c);
  c = select(x != x, 0.0f, c);  // NaN: keep the float-to-int conversion below defined; the result is patched last
  // n = round(c / ln 2) by the 1.5 * 2^23 trick (round to nearest in the default rounding mode).
  const float n = (c * exp_cephes::kLog2e + 12582912.0f) - 12582912.0f;
  const float y = exp_cephes::exp_reduced(exp_cephes::reduce(c, n));
  // 2^(n-1) * 2 keeps the exponent field valid for n = 128; n >= -125 keeps it positive.
  const float scale = std::bit_cast<float>(static_cast<uint32_t>(static_cast<int32_t>(n) + 126) << 23);
  float result = y * scale * 2.0f;
  result = select(x > kHigh, std::numeric_limits<float>::infinity(), result);
  result = select(x < kLow, 0.0f, result);
  return select(x != x, x, result);
}

// 1 / (1 + exp(-x)).
inline float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }

// The coefficients of tanh_f32's odd polynomial in z = x^2, highest degree first (the AVX-512 and AVX2 tanh
// evaluate the same one).
inline constexpr float kTanhOddFit[5] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                                         -3.33332819422e-1f};

// tanh(x): an odd polynomial near 0, 1 - 2 / (exp(2|x|) + 1) elsewhere.
inline float tanh_f32(float x) {
  const uint32_t sign = std::bit_cast<uint32_t>(x) & 0x80000000u;
  const float ax = std::bit_cast<float>(std::bit_cast<uint32_t>(x) & 0x7FFFFFFFu);
  const float z = x * x;
  float p = kTanhOddFit[0];
#pragma GCC unroll 4
  for (int i = 1; i < 5; ++i) p = p * z + kTanhOddFit[i];
  const float small = p * z * x + x;
  const float large_magnitude = 1.0f - 2.0f / (exp_f32(2.0f * ax) + 1.0f);
  const float large = std::bit_cast<float>(std::bit_cast<uint32_t>(large_magnitude) | sign);
  return select(ax < 0.625f, small, large);
}

// The coefficients of erfc_magnitude_f32's fit, highest degree first (the AVX-512 and AVX2 GELUs evaluate the
// same polynomial).
inline constexpr float kErfcFit[10] = {0.17087277f,  -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                                       -0.18628806f, 0.09678418f,  0.37409196f, 1.00002368f,  -1.26551223f};

// erfc(|x|) for the magnitude of x (Chebyshev fit with fractional error below 1.2e-7 in exact arithmetic).
inline float erfc_magnitude_f32(float ax) {
  const float t = 1.0f / (1.0f + 0.5f * ax);
  float p = kErfcFit[0];
#pragma GCC unroll 10
  for (int i = 1; i < 10; ++i) p = p * t + kErfcFit[i];
  return t * exp_f32(p - ax * ax);
}

// erfc(x), accurate in relative terms also where it is tiny (large positive x).
inline float erfc_f32(float x) {
  const float ax = std::bit_cast<float>(std::bit_cast<uint32_t>(x) & 0x7FFFFFFFu);
  const float e = erfc_magnitude_f32(ax);
  return select(x < 0.0f, 2.0f - e, e);
}

// erf(x): its Maclaurin series for |x| < 0.5 (where 1 - erfc would lose relative precision), 1 - erfc beyond.
inline float erf_f32(float x) {
  const uint32_t sign = std::bit_cast<uint32_t>(x) & 0x80000000u;
  const float ax = std::bit_cast<float>(std::bit_cast<uint32_t>(x) & 0x7FFFFFFFu);
  const float z = x * x;
  float p = 1.0f / 9360.0f;
  p = -p * z + 1.0f / 1320.0f;
  p = -p * z + 1.0f / 216.0f;
  p = -p * z + 1.0f / 42.0f;
  p = -p * z + 1.0f / 10.0f;
  p = -p * z + 1.0f / 3.0f;
  p = -p * z + 1.0f;
  const float small = 1.12837916709551257f * x * p;
  const float large_magnitude = 1.0f - erfc_magnitude_f32(ax);
  const float large = std::bit_cast<float>(std::bit_cast<uint32_t>(large_magnitude) | sign);
  return select(ax < 0.5f, small, large);
}

// GELU as 0.5 * x * erfc(-x / sqrt 2): accurate also where 1 + erf(x / sqrt 2) is tiny.
inline float gelu_erf_f32(float x) { return 0.5f * x * erfc_f32(-0.7071067811865476f * x); }

// GELU's tanh approximation as x * sigmoid(2u), u = sqrt(2 / pi) * (x + 0.044715 x^3): the same value as
// 0.5 x (1 + tanh u) without the cancellation in 1 + tanh(u).
inline float gelu_tanh_f32(float x) {
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return x * sigmoid_f32(2.0f * u);
}

}  // namespace
}  // namespace tessera::f32_vunary

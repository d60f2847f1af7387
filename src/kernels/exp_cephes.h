// The Cephes single-precision exp kernel, shared by the vectorized exps (reduce_util.h's vector_exp, vector_f32's
// exp_lanes, f32-vunary's exp_f32 and the AVX-512 GELUs' exp_avx512): x = n ln 2 + r with n = round(x log2 e), ln 2
// split in two so the first step is exact, and e^r = 1 + r + r^2 p(r) with p of degree 5 (~1 ulp on [-ln 2 / 2,
// ln 2 / 2]). Each caller clamps x, rounds n and forms 2^n its own way.
#pragma once

namespace tessera::exp_cephes {

inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;     // ln 2 to 9 significant bits (n * kLn2Hi is exact)
inline constexpr float kLn2Lo = -2.12194440e-4f;  // ln 2 - kLn2Hi
// p's coefficients, highest degree first.
inline constexpr float kPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                   4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// r = c - n ln 2, in two steps. V: float or a GCC vector of floats.
template <typename V>
[[gnu::always_inline]] inline V reduce(V c, V n) {
  const V r = c - n * kLn2Hi;
  return r - n * kLn2Lo;
}

// e^r for r from reduce: 1 + r + r^2 p(r), by Horner's rule.
template <typename V>
[[gnu::always_inline]] inline V exp_reduced(V r) {
  V p = r * kPoly[0] + kPoly[1];
  p = p * r + kPoly[2];
  p = p * r + kPoly[3];
  p = p * r + kPoly[4];
  p = p * r + kPoly[5];
  return p * r * r + r + 1.0f;
}

}  // namespace tessera::exp_cephes

// f32-vunary loops for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports
// them). exp, erf, tanh and sigmoid are the shared formulas of f32-vunary-impl.h, vectorized by the compiler. The
// two GELUs, which transformer FFNs run over every element of their widest activation, are written with
// intrinsics: the same formulas (0.5 x erfc(-x / sqrt 2) with the same erfc fit; x * sigmoid(2u)) with the
// reciprocals as vrcp14ps plus one Newton step instead of divisions and exp's 2^n by vscalefps instead of
// clamps and exponent-field arithmetic, about 3x fewer cycles than the compiler's version of the shared code
// (VUnary/gelu_erf micro-benchmark). Accuracy stays within f32_vunary_test's bounds (a few ulp more than the
// shared code: the Newton step and vscalefps's rounding).
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics that start from _mm512_undefined_ps (abs, roundscale, rcp14, scalef, min / max)
// trip -Wmaybe-uninitialized; the values are fully defined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/exp_cephes.h"
#include "kernels/f32-vunary/f32-vunary-loops.h"
#include "kernels/f32-vunary/f32-vunary.h"

namespace tessera::f32_vunary {
#if defined(__x86_64__)
namespace {

// exp(x) for the GELUs' arguments: 2^n * p(r) by vscalefps, x clamped to [-104, 88]: exp(-104) is below the
// smallest denormal, and exp(88) = 1.7e38 keeps 1 + exp(x) finite for reciprocal_avx512 (GELU's tanh form needs
// only that it be huge). NaN propagates (vmaxps / vminps return their second operand).
inline __m512 exp_avx512(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(88.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(exp_cephes::kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(exp_cephes::kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(exp_cephes::kLn2Lo), r);
  __m512 p = _mm512_set1_ps(exp_cephes::kPoly[0]);
#pragma GCC unroll 6
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_cephes::kPoly[i]));
  const __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(y, n);
}

// 1 / d for d >= 1 (finite): vrcp14ps and one Newton step.
inline __m512 reciprocal_avx512(__m512 d) {
  const __m512 t = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
}

// 0.5 x erfc(-x / sqrt 2), erfc by the Chebyshev fit of erfc_magnitude_f32 (f32-vunary-impl.h).
inline __m512 gelu_erf_avx512(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(-0.7071067811865476f));
  // |z|, capped at 10 (erfc(10) is 2e-45: below float's denormals): keeps 1 + |z| / 2 finite for the reciprocal.
  // NaN passes (vminps returns its second operand).
  const __m512 az = _mm512_min_ps(_mm512_set1_ps(10.0f), _mm512_abs_ps(z));
  const __m512 t = reciprocal_avx512(_mm512_fmadd_ps(az, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(kErfcFit[0]);
#pragma GCC unroll 10
  for (int i = 1; i < 10; ++i) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kErfcFit[i]));
  const __m512 e = _mm512_mul_ps(t, exp_avx512(_mm512_fnmadd_ps(az, az, p)));
  // erfc(z) = 2 - erfc(|z|) for z < 0.
  const __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 erfc = _mm512_mask_sub_ps(e, negative, _mm512_set1_ps(2.0f), e);
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), erfc);
}

// x * sigmoid(2u) = x / (1 + exp(-2u)), u = sqrt(2 / pi) (x + 0.044715 x^3).
inline __m512 gelu_tanh_avx512(__m512 x) {
  const __m512 x2 = _mm512_mul_ps(x, x);
  const __m512 u = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.7978845608028654f)),
                                 _mm512_fmadd_ps(x2, _mm512_set1_ps(0.044715f), _mm512_set1_ps(1.0f)));
  const __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_avx512(_mm512_mul_ps(u, _mm512_set1_ps(-2.0f))));
  return _mm512_mul_ps(x, reciprocal_avx512(d));
}

// x's sign bit (AVX-512F has no float logic ops; those are AVX-512DQ's).
inline __m512i sign_bits_avx512(__m512 x) {
  return _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int>(0x80000000u)));
}

// 1 / (1 + exp(-x)), as sigmoid_avx2 (f32-vunary-avx2.cpp).
inline __m512 sigmoid_avx512(__m512 x) {
  const __m512 minus_x =
      _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int>(0x80000000u))));
  return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), exp_avx512(minus_x)));
}

// tanh_f32's formulas, as tanh_avx2 (f32-vunary-avx2.cpp).
inline __m512 tanh_avx512(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(kTanhOddFit[0]);
#pragma GCC unroll 4
  for (int i = 1; i < 5; ++i) p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(kTanhOddFit[i]));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 e = exp_avx512(_mm512_add_ps(ax, ax));
  const __m512 magnitude =
      _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
  const __m512 large = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude), sign_bits_avx512(x)));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), large, small);
}

// y[i] = kOp(x[i]), 16 at a time (two independent vectors per step), the tail through masked loads / stores.
template <__m512 (*kOp)(__m512)>
void apply_avx512(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = kOp(_mm512_loadu_ps(x + i));
    const __m512 b = kOp(_mm512_loadu_ps(x + i + 16));
    _mm512_storeu_ps(y + i, a);
    _mm512_storeu_ps(y + i + 16, b);
  }
  for (; i < n; i += 16) {
    const int64_t left = n - i;
    const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    _mm512_mask_storeu_ps(y + i, mask, kOp(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

constexpr VUnarySet make_avx512_set() {
  VUnarySet set = make_set("f32_vunary__avx512");
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kGeluErf)] = apply_avx512<gelu_erf_avx512>;
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kGeluTanh)] = apply_avx512<gelu_tanh_avx512>;
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kSigmoid)] = apply_avx512<sigmoid_avx512>;
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kTanh)] = apply_avx512<tanh_avx512>;
  return set;
}

}  // namespace

const VUnarySet kAvx512Set = make_avx512_set();
#endif
}  // namespace tessera::f32_vunary

// f32-vunary loops for AVX2+FMA (compiled with -mavx2 -mfma; used only when CPUID reports them). exp, erf, tanh and
// sigmoid are the shared formulas of f32-vunary-impl.h, vectorized by the compiler. The two GELUs, which
// transformer FFNs run over every element of their widest activation (BERT-base's and GPT-2's MatMul epilogues),
// are written with intrinsics as in f32-vunary-avx512.cpp: the same formulas (0.5 x erfc(-x / sqrt 2) with the same
// erfc fit; x * sigmoid(2u)), the reciprocals as vrcpps plus one Newton step instead of divisions, and exp's 2^n as
// the product of two powers of two made in the exponent field (so results that fall among the denormals are
// rounded once, as vscalefps does). Measured on an AMD EPYC Zen 3 (VUnary/gelu_erf micro-benchmark, 393,216
// values): 730-827 -> 423-483 us against the compiler's version of the shared code. Accuracy stays within
// f32_vunary_test's bounds.
#include <immintrin.h>

#include <algorithm>

#include "kernels/exp_cephes.h"
#include "kernels/f32-vunary/f32-vunary-loops.h"
#include "kernels/f32-vunary/f32-vunary.h"

namespace tessera::f32_vunary {
#if defined(__x86_64__)
namespace {

// 2^n for integral n in [-150, 128] held as floats: 2^(n - h) * 2^h, h = floor(n / 2), both factors normal
// floats. Multiplied into a value, the first product is exact and the second rounds once.
inline __m256 scale_by_power_of_two(__m256 y, __m256 n) {
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 first = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), bias), 23));
  const __m256 second = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(y, first), second);
}

// exp and the GELUs below take kBatch vectors at once, each step done for all of them before the next: one
// vector's chain of dependent steps (the erfc fit's ten FMAs, exp's) is ~100 cycles long, more than the
// out-of-order window hides when the compiler orders the vectors one after another (measured on Zen 3: 1.15x
// faster than the shared code with one vector per step, 1.7x with four).
constexpr int kBatch = 4;
#define FOR_EACH_VECTOR _Pragma("GCC unroll 4") for (int u = 0; u < kBatch; ++u)

// exp(x) in place for the GELUs' arguments (kBatch vectors), x clamped to [-104, 88] (see exp_avx512 in
// f32-vunary-avx512.cpp). NaN propagates (vmaxps / vminps return their second operand; the integer steps turn
// NaN's n into a finite scale).
inline void exp_avx2(__m256 (&x)[kBatch]) {
  __m256 n[kBatch], r[kBatch], p[kBatch];
  FOR_EACH_VECTOR {
    x[u] = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x[u]));
    n[u] = _mm256_round_ps(_mm256_mul_ps(x[u], _mm256_set1_ps(exp_cephes::kLog2e)),
                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r[u] = _mm256_fnmadd_ps(n[u], _mm256_set1_ps(exp_cephes::kLn2Hi), x[u]);
    r[u] = _mm256_fnmadd_ps(n[u], _mm256_set1_ps(exp_cephes::kLn2Lo), r[u]);
    p[u] = _mm256_set1_ps(exp_cephes::kPoly[0]);
  }
#pragma GCC unroll 6
  for (int i = 1; i < 6; ++i) {
    FOR_EACH_VECTOR p[u] = _mm256_fmadd_ps(p[u], r[u], _mm256_set1_ps(exp_cephes::kPoly[i]));
  }
  FOR_EACH_VECTOR {
    const __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(p[u], r[u]), r[u], _mm256_add_ps(r[u], _mm256_set1_ps(1.0f)));
    x[u] = scale_by_power_of_two(y, n[u]);
  }
}

// 1 / d for d >= 1 (finite): vrcpps (12 bits) and one Newton step.
inline __m256 reciprocal_avx2(__m256 d) {
  const __m256 t = _mm256_rcp_ps(d);
  return _mm256_mul_ps(t, _mm256_fnmadd_ps(d, t, _mm256_set1_ps(2.0f)));
}

inline __m256 abs_avx2(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

// 0.5 x erfc(-x / sqrt 2), erfc by the Chebyshev fit of erfc_magnitude_f32 (f32-vunary-impl.h).
inline void gelu_erf_avx2(__m256 (&x)[kBatch]) {
  __m256 z[kBatch], az[kBatch], t[kBatch], p[kBatch];
  FOR_EACH_VECTOR {
    z[u] = _mm256_mul_ps(x[u], _mm256_set1_ps(-0.7071067811865476f));
    // |z|, capped at 10 (erfc(10) is 2e-45: below float's denormals): keeps 1 + |z| / 2 finite for the
    // reciprocal. NaN passes (vminps returns its second operand).
    az[u] = _mm256_min_ps(_mm256_set1_ps(10.0f), abs_avx2(z[u]));
  }
  FOR_EACH_VECTOR t[u] = reciprocal_avx2(_mm256_fmadd_ps(az[u], _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
  FOR_EACH_VECTOR p[u] = _mm256_set1_ps(kErfcFit[0]);
#pragma GCC unroll 10
  for (int i = 1; i < 10; ++i) {
    FOR_EACH_VECTOR p[u] = _mm256_fmadd_ps(p[u], t[u], _mm256_set1_ps(kErfcFit[i]));
  }
  FOR_EACH_VECTOR p[u] = _mm256_fnmadd_ps(az[u], az[u], p[u]);
  exp_avx2(p);
  FOR_EACH_VECTOR {
    const __m256 e = _mm256_mul_ps(t[u], p[u]);
    // erfc(z) = 2 - erfc(|z|) for z < 0.
    const __m256 negative = _mm256_cmp_ps(z[u], _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 erfc = _mm256_blendv_ps(e, _mm256_sub_ps(_mm256_set1_ps(2.0f), e), negative);
    x[u] = _mm256_mul_ps(_mm256_mul_ps(x[u], _mm256_set1_ps(0.5f)), erfc);
  }
}

// x * sigmoid(2u) = x / (1 + exp(-2u)), u = sqrt(2 / pi) (x + 0.044715 x^3).
inline void gelu_tanh_avx2(__m256 (&x)[kBatch]) {
  __m256 d[kBatch];
  FOR_EACH_VECTOR {
    const __m256 x2 = _mm256_mul_ps(x[u], x[u]);
    const __m256 v = _mm256_mul_ps(_mm256_mul_ps(x[u], _mm256_set1_ps(0.7978845608028654f)),
                                   _mm256_fmadd_ps(x2, _mm256_set1_ps(0.044715f), _mm256_set1_ps(1.0f)));
    d[u] = _mm256_mul_ps(v, _mm256_set1_ps(-2.0f));
  }
  exp_avx2(d);
  FOR_EACH_VECTOR x[u] = _mm256_mul_ps(x[u], reciprocal_avx2(_mm256_add_ps(_mm256_set1_ps(1.0f), d[u])));
}

// 1 / (1 + exp(-x)) (f32-vunary-impl.h's sigmoid_f32), by a true division: the reciprocal estimate plus a Newton
// step is an ulp or two off, which a GRU's (1 - z) turns into relative errors where z is near 1 (ONNX's
// test_gru_seq_length misses its 1e-7 bound that way). exp's clamp keeps 1 + exp(-x) finite.
inline void sigmoid_avx2(__m256 (&x)[kBatch]) {
  FOR_EACH_VECTOR x[u] = _mm256_xor_ps(x[u], _mm256_set1_ps(-0.0f));
  exp_avx2(x);
  FOR_EACH_VECTOR x[u] = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), x[u]));
}

// tanh_f32's formulas (f32-vunary-impl.h): the odd polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1) with x's
// sign above (exp's clamp makes it exactly +-1 from |x| = 44 on, infinities included; NaN propagates), divisions
// exact as in sigmoid_avx2.
inline void tanh_avx2(__m256 (&x)[kBatch]) {
  __m256 small[kBatch], e[kBatch];
  FOR_EACH_VECTOR {
    const __m256 z = _mm256_mul_ps(x[u], x[u]);
    __m256 p = _mm256_set1_ps(kTanhOddFit[0]);
#pragma GCC unroll 4
    for (int i = 1; i < 5; ++i) p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(kTanhOddFit[i]));
    small[u] = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x[u], x[u]);
    e[u] = _mm256_add_ps(abs_avx2(x[u]), abs_avx2(x[u]));
  }
  exp_avx2(e);
  FOR_EACH_VECTOR {
    const __m256 magnitude = _mm256_fnmadd_ps(
        _mm256_set1_ps(2.0f), reciprocal_avx2(_mm256_add_ps(e[u], _mm256_set1_ps(1.0f))), _mm256_set1_ps(1.0f));
    const __m256 large = _mm256_or_ps(magnitude, _mm256_and_ps(x[u], _mm256_set1_ps(-0.0f)));
    const __m256 near_zero = _mm256_cmp_ps(abs_avx2(x[u]), _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    x[u] = _mm256_blendv_ps(large, small[u], near_zero);
  }
}

// y[i] = kOp(x[i]), kBatch vectors of 8 at a time; the tail through masked loads / stores (lanes past n are
// computed on zeros and not stored).
template <void (*kOp)(__m256 (&)[kBatch])>
void apply_avx2(const float* x, float* y, int64_t n) {
  constexpr int64_t kStep = kBatch * 8;
  int64_t i = 0;
  __m256 v[kBatch];
  for (; i + kStep <= n; i += kStep) {
    FOR_EACH_VECTOR v[u] = _mm256_loadu_ps(x + i + 8 * u);
    kOp(v);
    FOR_EACH_VECTOR _mm256_storeu_ps(y + i + 8 * u, v[u]);
  }
  if (i == n) return;
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i mask[kBatch];
  FOR_EACH_VECTOR {
    const int64_t left = std::clamp<int64_t>(n - i - 8 * u, 0, 8);
    mask[u] = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), lanes);
    v[u] = _mm256_maskload_ps(x + i + 8 * u, mask[u]);
  }
  kOp(v);
  FOR_EACH_VECTOR _mm256_maskstore_ps(y + i + 8 * u, mask[u], v[u]);
}
#undef FOR_EACH_VECTOR

constexpr VUnarySet make_avx2_set() {
  VUnarySet set = make_set("f32_vunary__avx2");
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kGeluErf)] = apply_avx2<gelu_erf_avx2>;
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kGeluTanh)] = apply_avx2<gelu_tanh_avx2>;
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kSigmoid)] = apply_avx2<sigmoid_avx2>;
  set.ops[static_cast<int>(tessera::VUnaryOpF32::kTanh)] = apply_avx2<tanh_avx2>;
  return set;
}

}  // namespace

const VUnarySet kAvx2Set = make_avx2_set();
#endif
}  // namespace tessera::f32_vunary

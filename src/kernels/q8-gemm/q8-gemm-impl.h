// The q8-gemm A packing, tile epilogue and portable tile, instantiated by each ISA file
// (q8-gemm-8x32-avx512vnni.cpp, ...), whose compiler flags vectorise them. Internal linkage only; include only
// from those files.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "kernels/q8-gemm/q8-gemm-table.h"

// The float epilogue rounds float(S) * a_scale, then * b_scale, then + bias: never one fused multiply-add, so
// every variant gives the bits of the portable one.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
// Without trapping math GCC vectorises the requantization's selects as blends (exception flags are never read).
#pragma GCC optimize("no-trapping-math")

namespace tessera::q8gemm {
namespace {

// Packs rows of A for the byte kernels (G = 4): A' = A, or A xor 0x80 for int8 (uint8 A + 128), and the row
// sums of A'.
template <int Mr>
void pack_a_bytes(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t, void* strip,
                  int32_t* row_sums) {
  constexpr int kGroup = 4;
  uint8_t* dst = static_cast<uint8_t*>(strip);
  const uint8_t flip = a_signed ? 0x80 : 0x00;
  const uint32_t flip4 = a_signed ? 0x80808080u : 0u;
  const int64_t full = k / kGroup;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    uint32_t sum = 0;
    for (int64_t p = 0; p < k; ++p) sum += static_cast<uint8_t>(row[p] ^ flip);
    row_sums[r] = static_cast<int32_t>(sum);
    for (int64_t g = 0; g < full; ++g) {
      uint32_t v;
      std::memcpy(&v, row + g * kGroup, sizeof v);
      v ^= flip4;
      std::memcpy(dst + (g * Mr + r) * kGroup, &v, sizeof v);
    }
    if (full * kGroup < k) {
      uint8_t* tail = dst + (full * Mr + r) * kGroup;
      for (int64_t e = 0; e < kGroup; ++e) {
        const int64_t p = full * kGroup + e;
        tail[e] = p < k ? static_cast<uint8_t>(row[p] ^ flip) : 0;
      }
    }
  }
}

#if defined(__AVX2__)
// pack_a_wide's whole strip of 4 rows over depth steps [0, k16) (a multiple of 16), 16 steps at a time: each row's
// 16 bytes widened to int16 less the zero point (|A - za| <= 255 fits), then the rows' step pairs (32-bit units)
// interleaved by a 4 x 8 transpose of 32-bit units. The same values as the scalar loop. That loop, a byte at a time,
// was 10.8% of INT8 ResNet-50 (static QDQ, 8-bit weights; AMD EPYC Zen 3, one thread, perf), whose A is every
// 3x3 layer's im2row.
inline void pack_a_wide_4x2_avx2(int64_t k16, const uint8_t* a, int64_t lda, bool a_signed, int32_t a_zero_point,
                                 int16_t* dst) {
  const __m256i zero_point = _mm256_set1_epi16(static_cast<int16_t>(a_zero_point));
  for (int64_t p = 0; p < k16; p += 16) {
    __m256i w[4];
    for (int r = 0; r < 4; ++r) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + r * lda + p));
      w[r] = _mm256_sub_epi16(a_signed ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes), zero_point);
    }
    // t: rows 0-1 / 2-3 interleaved by pairs; s: all four rows of group g (low half) and g + 4 (high half).
    const __m256i t0 = _mm256_unpacklo_epi32(w[0], w[1]), t1 = _mm256_unpackhi_epi32(w[0], w[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(w[2], w[3]), t3 = _mm256_unpackhi_epi32(w[2], w[3]);
    const __m256i s0 = _mm256_unpacklo_epi64(t0, t2), s1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i s2 = _mm256_unpacklo_epi64(t1, t3), s3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i* out = reinterpret_cast<__m256i*>(dst + p * 4);                 // groups p / 2 .. p / 2 + 7, 8 int16 each
    _mm256_storeu_si256(out, _mm256_permute2x128_si256(s0, s1, 0x20));      // groups 0, 1
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(s2, s3, 0x20));  // groups 2, 3
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(s0, s1, 0x31));  // groups 4, 5
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(s2, s3, 0x31));  // groups 6, 7
  }
}
#endif

// Packs rows of A for the int16 kernels (G = 2): A - a_zero_point as int16 (no row sums needed).
template <int Mr, int Group>
void pack_a_wide(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t a_zero_point,
                 void* strip, int32_t*) {
  constexpr int kGroup = Group;
  int16_t* dst = static_cast<int16_t*>(strip);
  const int64_t groups = (k + kGroup - 1) / kGroup;
  int64_t first_group = 0;  // groups before it packed by the vector path
#if defined(__AVX2__)
  if constexpr (Mr == 4 && kGroup == 2) {
    if (rows == Mr) {
      const int64_t k16 = k / 16 * 16;
      pack_a_wide_4x2_avx2(k16, a, lda, a_signed, a_zero_point, dst);
      first_group = k16 / kGroup;
    }
  }
#endif
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    for (int64_t g = first_group; g < groups; ++g) {
      for (int64_t e = 0; e < kGroup; ++e) {
        const int64_t p = g * kGroup + e;
        int32_t v = 0;
        if (p < k) v = (a_signed ? static_cast<int32_t>(static_cast<int8_t>(row[p])) : row[p]) - a_zero_point;
        dst[(g * Mr + r) * kGroup + e] = static_cast<int16_t>(v);
      }
    }
  }
}

// std::nearbyint in the default rounding mode (ties to even) without a library call: adding 1.5 * 2^52 leaves no
// fraction bits. Values are first clamped to +-2^30, which saturates any 8-bit output all the same (a NaN goes to
// -2^30).
inline double round_half_even(double v) {
  constexpr double kShift = 6755399441055744.0;  // 1.5 * 2^52
  constexpr double kLimit = 1073741824.0;        // 2^30
  v = v > -kLimit ? v : -kLimit;
  v = v < kLimit ? v : kLimit;
  return (v + kShift) - kShift;
}

// One register's worth of doubles (8 under AVX-512, 4 under AVX2, 2 otherwise) and the int32 / byte vectors of the
// same lane count, for requantize_to's vector loop.
#if defined(__AVX512F__)
inline constexpr int kRequantizeLanes = 8;
#elif defined(__AVX2__)
inline constexpr int kRequantizeLanes = 4;
#else
inline constexpr int kRequantizeLanes = 2;
#endif
typedef double DoubleVec __attribute__((vector_size(kRequantizeLanes * sizeof(double))));
typedef int32_t Int32Vec __attribute__((vector_size(kRequantizeLanes * sizeof(int32_t))));

// The steps of the scalar loop below on whole registers (same operations in the same order, so the same bytes):
// widen, scale, clamp to +-2^30, round by the 1.5 * 2^52 shift, add the zero point, saturate, narrow. Written
// explicitly because GCC narrowed the scalar loop's doubles to bytes one lane at a time.
template <typename T>
inline void requantize_vector(const int32_t* __restrict values, double scale, double zero_point, T* __restrict out) {
  typedef T ByteVec __attribute__((vector_size(kRequantizeLanes)));
  constexpr double kLow = T(~T(0)) < T(0) ? -128.0 : 0.0, kHigh = T(~T(0)) < T(0) ? 127.0 : 255.0;
  constexpr double kShift = 6755399441055744.0, kLimit = 1073741824.0;
  Int32Vec ints;
  std::memcpy(&ints, values, sizeof ints);
  DoubleVec v = __builtin_convertvector(ints, DoubleVec) * scale;
  v = v > -kLimit ? v : DoubleVec{} - kLimit;
  v = v < kLimit ? v : DoubleVec{} + kLimit;
  v = ((v + kShift) - kShift) + zero_point;
  v = v > kLow ? v : DoubleVec{} + kLow;
  v = v < kHigh ? v : DoubleVec{} + kHigh;
  const ByteVec bytes = __builtin_convertvector(__builtin_convertvector(v, Int32Vec), ByteVec);
  std::memcpy(out, &bytes, sizeof bytes);
}

// The same bytes as requantize_vector from float arithmetic, twice the lanes per register (x86 with FMA), for a
// scale that is a float (as the QLinear operators' rounded scales are) and values of magnitude at most 2^24 (exact
// in float); false, writing nothing, when some value is larger. Exactness: p = fl(v s) and e = fma(v, s, -p) give
// the product v s = p + e exactly (in double it is exact too: at most 48 significant bits). Rounding p to the
// nearest integer rounds v s the same way except where p lies exactly halfway (the halfway points are floats below
// 2^22, and rounding is monotone, so v s and p are never on opposite sides of one): there the sign of e decides,
// and e = 0 leaves the tie to even. Products of 2^22 and more saturate every 8-bit output anyway.
#if defined(__AVX512F__) && defined(__FMA__)
inline constexpr int kExactFloatLanes = 16;

// Whether some lane of v lies beyond +-2^24, where float stops holding every integer (INT32_MIN's absolute value
// stays INT32_MIN, above 2^24 unsigned).
inline bool beyond_2_24(__m512i v) {
  return _mm512_cmpgt_epu32_mask(_mm512_maskz_abs_epi32(0xFFFF, v), _mm512_set1_epi32(1 << 24)) != 0;
}

// r, the rounding of p = fl(v s) to nearest even, corrected on the `tie` lanes (p exactly halfway between integers):
// up or down by the sign of the exact product's error e = fma(v, s, -p); left to even where e = 0.
inline __m512 fix_halfway(__m512 r, __m512 p, __m512 vf, __m512 s, __mmask16 tie) {
  constexpr __mmask16 kAll = 0xFFFF;
  const __m512 e = _mm512_fmsub_ps(vf, s, p);
  const __m512 f = _mm512_maskz_roundscale_ps(kAll, p, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  r = _mm512_mask_add_ps(r, tie & _mm512_cmp_ps_mask(e, _mm512_setzero_ps(), _CMP_GT_OQ), f, _mm512_set1_ps(1.0f));
  return _mm512_mask_mov_ps(r, tie & _mm512_cmp_ps_mask(e, _mm512_setzero_ps(), _CMP_LT_OQ), f);
}

template <typename T>
inline bool requantize_exact_f32(const int32_t* __restrict values, float scale, float zero_point, T* __restrict out,
                                 bool checked) {
  constexpr float kLow = T(~T(0)) < T(0) ? -128.0f : 0.0f, kHigh = T(~T(0)) < T(0) ? 127.0f : 255.0f;
  // The all-lanes maskz forms: the plain intrinsics trip GCC 12's -Wmaybe-uninitialized (their undefined sources).
  constexpr __mmask16 kAll = 0xFFFF;
  const __m512i v = _mm512_loadu_si512(values);
  if (checked && beyond_2_24(v)) return false;  // not `checked` where the caller knows every value is within
  const __m512 vf = _mm512_maskz_cvtepi32_ps(kAll, v), s = _mm512_set1_ps(scale);
  const __m512 p = _mm512_mul_ps(vf, s);
  __m512 r = _mm512_maskz_roundscale_ps(kAll, p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // p exactly halfway between integers (|p - r| = 0.5, rare): the product's exact error e decides. Tested for as
  // a whole register, so the usual register pays three operations for it, not seven (on Zen 4 this loop is bound
  // by its operation count: a third of INT8 MobileNetV2's 112x112 expansion).
  const __mmask16 tie = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, r)), _mm512_set1_ps(0.5f), _CMP_EQ_OQ);
  if (tie != 0) r = fix_halfway(r, p, vf, s, tie);
  r = _mm512_add_ps(r, _mm512_set1_ps(zero_point));
  r = _mm512_maskz_min_ps(kAll, _mm512_maskz_max_ps(kAll, r, _mm512_set1_ps(kLow)), _mm512_set1_ps(kHigh));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   _mm512_maskz_cvtepi32_epi8(kAll, _mm512_maskz_cvtps_epi32(kAll, r)));
  return true;
}

// requantize_exact_f32 for |scale| < 64, rounded and saturated in the integer domain: |v s| < 2^30, so the
// conversion to int32 rounds to nearest even without overflow, the zero point adds without overflow, and the
// saturating narrowings (vpmovsdb; vpmovusdb after a max with 0) clamp to the type. Three operations fewer per
// register than the float clamps. The same bytes. `lanes` masks a register's tail: only its values are read and
// its bytes written.
// The bytes of requantize_exact_f32_moderate for the int32 values v (each within +-2^24) with a scale per lane
// (each a finite float below 64 in magnitude) and an integer zero point, stored on the `lanes` lanes.
template <typename T>
inline void requantize_moderate_lanes(__m512i v, __m512 s, int32_t zero_point, T* __restrict out, __mmask16 lanes) {
  constexpr __mmask16 kAll = 0xFFFF;
  const __m512 vf = _mm512_maskz_cvtepi32_ps(kAll, v);
  const __m512 p = _mm512_mul_ps(vf, s);
  __m512i q = _mm512_maskz_cvtps_epi32(kAll, p);       // round to nearest even
  const __m512 r = _mm512_maskz_cvtepi32_ps(kAll, q);  // exact: q is p rounded, |q| < 2^30
  const __mmask16 tie = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, r)), _mm512_set1_ps(0.5f), _CMP_EQ_OQ);
  if (tie != 0) q = _mm512_maskz_cvtps_epi32(kAll, fix_halfway(r, p, vf, s, tie));
  q = _mm512_add_epi32(q, _mm512_set1_epi32(zero_point));
  if constexpr (T(~T(0)) < T(0)) {
    _mm_mask_storeu_epi8(out, lanes, _mm512_maskz_cvtsepi32_epi8(kAll, q));
  } else {
    _mm_mask_storeu_epi8(out, lanes,
                         _mm512_maskz_cvtusepi32_epi8(kAll, _mm512_maskz_max_epi32(kAll, q, _mm512_setzero_si512())));
  }
}

template <typename T>
inline bool requantize_exact_f32_moderate(const int32_t* __restrict values, float scale, int32_t zero_point,
                                          T* __restrict out, bool checked, __mmask16 lanes = 0xFFFF) {
  const __m512i v = _mm512_maskz_loadu_epi32(lanes, values);
  if (checked && beyond_2_24(v)) return false;
  requantize_moderate_lanes(v, _mm512_set1_ps(scale), zero_point, out, lanes);
  return true;
}
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr int kExactFloatLanes = 8;

// The lanes where p lies exactly halfway between integers: |p - r| = 0.5 for r, p rounded to an integer.
inline __m256 halfway_lanes(__m256 p, __m256 r) {
  return _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(p, r)), _mm256_set1_ps(0.5f), _CMP_EQ_OQ);
}

// r, the rounding of p = fl(vf s) to nearest even, corrected on the `tie` lanes by the sign of the exact product's
// error e = fma(vf, s, -p), as the AVX-512 fix_halfway.
inline __m256 fix_halfway(__m256 r, __m256 p, __m256 vf, __m256 s, __m256 tie) {
  const __m256 e = _mm256_fmsub_ps(vf, s, p);
  const __m256 f = _mm256_round_ps(p, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m256 up = _mm256_and_ps(tie, _mm256_cmp_ps(e, _mm256_setzero_ps(), _CMP_GT_OQ));
  const __m256 down = _mm256_and_ps(tie, _mm256_cmp_ps(e, _mm256_setzero_ps(), _CMP_LT_OQ));
  r = _mm256_blendv_ps(r, _mm256_add_ps(f, _mm256_set1_ps(1.0f)), up);
  return _mm256_blendv_ps(r, f, down);
}
// The bytes of requantize_exact_f32 for the int32 values v (each within +-2^24) with a scale per lane (each a
// finite float): 8 bytes stored at out.
template <typename T>
inline void requantize_exact_f32_lanes(__m256i v, __m256 s, float zero_point, T* __restrict out) {
  constexpr float kLow = T(~T(0)) < T(0) ? -128.0f : 0.0f, kHigh = T(~T(0)) < T(0) ? 127.0f : 255.0f;
  const __m256 vf = _mm256_cvtepi32_ps(v);
  const __m256 p = _mm256_mul_ps(vf, s);
  __m256 r = _mm256_round_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // Halfway products (rare) fixed by the exact error, as in the AVX-512 form.
  const __m256 tie = halfway_lanes(p, r);
  if (_mm256_movemask_ps(tie) != 0) r = fix_halfway(r, p, vf, s, tie);
  r = _mm256_add_ps(r, _mm256_set1_ps(zero_point));
  r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(kLow)), _mm256_set1_ps(kHigh));
  const __m256i q = _mm256_cvtps_epi32(r);
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i bytes = T(~T(0)) < T(0) ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
}

// Whether some lane of v lies beyond +-2^24.
inline bool beyond_2_24(__m256i v) {
  const __m256i limit = _mm256_set1_epi32(1 << 24);
  const __m256i outside = _mm256_or_si256(_mm256_cmpgt_epi32(v, limit),
                                          _mm256_cmpgt_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), limit), v));
  return !_mm256_testz_si256(outside, outside);
}

template <typename T>
inline bool requantize_exact_f32(const int32_t* __restrict values, float scale, float zero_point, T* __restrict out,
                                 bool checked) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values));
  if (checked && beyond_2_24(v)) return false;
  requantize_exact_f32_lanes(v, _mm256_set1_ps(scale), zero_point, out);
  return true;
}

// The bytes of requantize_exact_f32_moderate16 (below) for two registers of int32 values (each within +-2^24) with a
// register of scales each (every scale a finite float below 64 in magnitude) and an integer zero point: 16 bytes at
// out, v0's lanes first.
template <typename T>
inline void requantize_moderate16_lanes(__m256i v0, __m256i v1, __m256 s0, __m256 s1, int32_t zero_point,
                                        T* __restrict out) {
  const __m256 f0 = _mm256_cvtepi32_ps(v0), f1 = _mm256_cvtepi32_ps(v1);
  const __m256 p0 = _mm256_mul_ps(f0, s0), p1 = _mm256_mul_ps(f1, s1);
  __m256i q0 = _mm256_cvtps_epi32(p0), q1 = _mm256_cvtps_epi32(p1);       // nearest even
  const __m256 r0 = _mm256_cvtepi32_ps(q0), r1 = _mm256_cvtepi32_ps(q1);  // exact: |q| < 2^30 after rounding
  const __m256 tie0 = halfway_lanes(p0, r0), tie1 = halfway_lanes(p1, r1);
  if (_mm256_movemask_ps(_mm256_or_ps(tie0, tie1)) != 0) {
    q0 = _mm256_cvtps_epi32(fix_halfway(r0, p0, f0, s0, tie0));
    q1 = _mm256_cvtps_epi32(fix_halfway(r1, p1, f1, s1, tie1));
  }
  // Lanes of the packs: q0[0..3], q1[0..3] | q0[4..7], q1[4..7]; the dword shuffle restores q0, then q1.
  const __m256i words =
      _mm256_adds_epi16(_mm256_packs_epi32(q0, q1), _mm256_set1_epi16(static_cast<int16_t>(zero_point)));
  const __m128i lo = _mm256_castsi256_si128(words), hi = _mm256_extracti128_si256(words, 1);
  const __m128i bytes = T(~T(0)) < T(0) ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0)));
}

// requantize_exact_f32 for |scale| < 64 and an integer zero point, on two registers (16 values, 16 bytes) at a time,
// rounded and saturated in the integer domain as the AVX-512 requantize_moderate_lanes: |v s| < 2^30, so vcvtps2dq
// rounds to nearest even without overflow (the halfway test then compares p with that integer as a float); the
// saturating packs to int16, the saturating int16 addition of the zero point (|zp| <= 255) and the saturating pack
// to bytes give the clamp of q + zp to the type (a q beyond int16 stays beyond the type's range after either
// saturation). One halfway test for both registers. 25 operations per 16 values instead of 32 (INT8 MobileNetV2's
// requantization, AVX2 without VNNI). The same bytes; false, writing nothing, when `checked` finds a value beyond
// +-2^24.
template <typename T>
inline bool requantize_exact_f32_moderate16(const int32_t* __restrict values, float scale, int32_t zero_point,
                                            T* __restrict out, bool checked) {
  const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values));
  const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + 8));
  if (checked && (beyond_2_24(v0) || beyond_2_24(v1))) return false;
  const __m256 s = _mm256_set1_ps(scale);
  requantize_moderate16_lanes(v0, v1, s, s, zero_point, out);
  return true;
}
#else
inline constexpr int kExactFloatLanes = 0;
#endif

// The leading whole registers of values[0, count) requantized in float where that gives the same bytes (see
// requantize_exact_f32: a finite float scale), falling back to requantize_vector for a register whose values are too
// large, and under AVX-512 with a moderate scale the last partial register too (masked); returns how many values it
// did (0 without AVX2+FMA or for other scales). With `small`, the caller knows
// every value lies within +-2^24, and the registers skip that test. Inlined: the fused tile epilogue runs it on
// every row of every tile.
template <typename T, typename Count>
[[gnu::always_inline]] inline Count requantize_exact_prefix([[maybe_unused]] const int32_t* __restrict values,
                                                            [[maybe_unused]] Count count, [[maybe_unused]] double scale,
                                                            [[maybe_unused]] double zero_point,
                                                            [[maybe_unused]] T* __restrict out,
                                                            [[maybe_unused]] bool small) {
  Count i = 0;
#if defined(__AVX2__) && defined(__FMA__)
  if (__builtin_isfinite(scale) && static_cast<double>(static_cast<float>(scale)) == scale) {
    const float scale_f = static_cast<float>(scale), zero_point_f = static_cast<float>(zero_point);
#if defined(__AVX512F__)
    if (std::fabs(scale) < 64.0 && std::nearbyint(zero_point) == zero_point && std::fabs(zero_point) <= 255.0) {
      const int32_t zero_point_i = static_cast<int32_t>(zero_point);
      for (; i + kExactFloatLanes <= count; i += kExactFloatLanes) {
        if (requantize_exact_f32_moderate(values + i, scale_f, zero_point_i, out + i, !small)) continue;
        for (Count j = i; j < i + kExactFloatLanes; j += kRequantizeLanes)
          requantize_vector(values + j, scale, zero_point, out + j);
      }
      // The tail under a mask, not the scalar loop: INT8 MobileNetV2 (Xeon, one thread, per-node minima) spends
      // its 14x14 and 7x7 depthwise layers 995-1065 -> 911-932 us, all its convolutions 4% less.
      if (i < count) {
        const __mmask16 lanes = static_cast<__mmask16>((1u << static_cast<unsigned>(count - i)) - 1u);
        if (requantize_exact_f32_moderate(values + i, scale_f, zero_point_i, out + i, !small, lanes)) i = count;
      }
      return i;
    }
#endif
#if !defined(__AVX512F__)
    if (std::fabs(scale) < 64.0 && std::nearbyint(zero_point) == zero_point && std::fabs(zero_point) <= 255.0) {
      const int32_t zero_point_i = static_cast<int32_t>(zero_point);
      for (; i + 2 * kExactFloatLanes <= count; i += 2 * kExactFloatLanes) {
        if (!requantize_exact_f32_moderate16(values + i, scale_f, zero_point_i, out + i, !small)) break;
      }
    }
#endif
    for (; i + kExactFloatLanes <= count; i += kExactFloatLanes) {
      if (requantize_exact_f32(values + i, scale_f, zero_point_f, out + i, !small)) continue;
      for (Count j = i; j < i + kExactFloatLanes; j += kRequantizeLanes)
        requantize_vector(values + j, scale, zero_point, out + j);
    }
  }
#endif
  return i;
}

// One value requantized in double, the definition every vector path reproduces: v times scale, rounded half to
// even, plus the zero point, saturated to T.
template <typename T>
inline T requantize_one(int32_t v, double scale, double zero_point) {
  constexpr double kLow = T(~T(0)) < T(0) ? -128.0 : 0.0, kHigh = T(~T(0)) < T(0) ? 127.0 : 255.0;
  double q = round_half_even(static_cast<double>(v) * scale) + zero_point;
  q = q > kLow ? q : kLow;
  q = q < kHigh ? q : kHigh;
  return static_cast<T>(static_cast<int32_t>(q));
}

template <typename T, bool PerValueScale>
void requantize_to(const int32_t* __restrict values, int64_t count, const double* __restrict scales, double zero_point,
                   T* __restrict out, bool small = false) {
  const double scale = scales[0];
  int64_t i = 0;
  if constexpr (!PerValueScale) {
    i = requantize_exact_prefix(values, count, scale, zero_point, out, small);
    for (; i + kRequantizeLanes <= count; i += kRequantizeLanes)
      requantize_vector(values + i, scale, zero_point, out + i);
  }
  for (; i < count; ++i) out[i] = requantize_one<T>(values[i], PerValueScale ? scales[i] : scale, zero_point);
}

// requantize_to for one row of a full tile (Count values, a multiple of the vector loops' lanes), inlined into
// the tile: a call per row cost as much as the requantization itself.
template <typename T, int Count>
[[gnu::always_inline]] inline void requantize_tile_row(const int32_t* values, double scale, double zero_point, T* out,
                                                       bool small) {
  static_assert(Count % kRequantizeLanes == 0);
  static_assert(Count % (kExactFloatLanes > 0 ? kExactFloatLanes : 1) == 0);
  for (int i = requantize_exact_prefix(values, Count, scale, zero_point, out, small); i < Count; i += kRequantizeLanes)
    requantize_vector(values + i, scale, zero_point, out + i);
}

// Stores one row of exact sums s[0..cols) as TileOutput orders. Full tiles pass cols == Nr as a constant, so the
// loops have fixed trip counts (no tails, no library calls).
template <int Nr, bool Full>
inline void store_row(const TileOutput& t, int64_t i, const int32_t* s) {
  const int64_t cols = Full ? Nr : t.cols;
  if (t.c_q8 != nullptr) {
    if (t.q8_signed)
      requantize_to<int8_t, false>(s, cols, t.row_scales + i, t.q8_zero_point,
                                   reinterpret_cast<int8_t*>(t.c_q8 + i * t.ldc), t.q8_small_sums);
    else
      requantize_to<uint8_t, false>(s, cols, t.row_scales + i, t.q8_zero_point, t.c_q8 + i * t.ldc, t.q8_small_sums);
    return;
  }
  if (t.c_s32 != nullptr) {
    int32_t* c = t.c_s32 + i * t.ldc;
    for (int64_t j = 0; j < cols; ++j) c[j] = s[j];
    return;
  }
  float* c = t.c_f32 + i * t.ldc;
  const float a_scale = t.a_scale;
  if (t.per_column_scale) {
    for (int64_t j = 0; j < cols; ++j) c[j] = static_cast<float>(s[j]) * a_scale * t.b_scales[j];
  } else {
    const float b_scale = t.b_scales[0];
    for (int64_t j = 0; j < cols; ++j) c[j] = static_cast<float>(s[j]) * a_scale * b_scale;
  }
  if (t.bias != nullptr) {
    for (int64_t j = 0; j < cols; ++j) c[j] = c[j] + t.bias[j];
  }
}

// Corrects and stores the sums (row stride Nr) of rows [row0, row0 + rows) of a tile (sums holds row row0 first).
template <int Nr, bool Wide, bool Full>
void epilogue_rows(const TileOutput& t, const int32_t* sums, int64_t row0, int64_t rows) {
  const int64_t cols = Full ? Nr : t.cols;
  int32_t s[Nr];
  for (int64_t i = row0; i < row0 + rows; ++i) {
    const int32_t* acc = sums + (i - row0) * Nr;
    // S = acc (wide kernels), else acc - zb'[j] * rowsum'[i] + col_terms[j]; then + row_bias[i]: in wrap-around
    // (unsigned) arithmetic like int32 hardware.
    const uint32_t row_sum = Wide ? 0u : static_cast<uint32_t>(t.row_sums[i]);
    const uint32_t bias = t.row_bias != nullptr ? static_cast<uint32_t>(t.row_bias[i]) : 0u;
    for (int64_t j = 0; j < cols; ++j) {
      uint32_t v = static_cast<uint32_t>(acc[j]) + bias;
      if constexpr (!Wide) {
        if (t.col_zero_points != nullptr) v -= static_cast<uint32_t>(t.col_zero_points[j]) * row_sum;
        v += static_cast<uint32_t>(t.col_terms[j]);
      }
      s[j] = static_cast<int32_t>(v);
    }
    store_row<Nr, Full>(t, i, s);
  }
}

template <int Nr, bool Wide>
void epilogue(const TileOutput& t, const int32_t* sums) {
  if (t.cols == Nr) {
    epilogue_rows<Nr, Wide, true>(t, sums, 0, t.rows);
  } else {
    epilogue_rows<Nr, Wide, false>(t, sums, 0, t.rows);
  }
}

// p + n, or nullptr for a missing array (no offset applied to a null pointer).
template <typename T>
inline T* offset_rows(T* p, int64_t n) {
  return p != nullptr ? p + n : nullptr;
}

// Corrects and stores rows [row0, row0 + Rows) of a tile, their (Nv * Isa::kLanes)-wide sums held in acc, as
// TileOutput orders: full rows from the registers, partial ones through `scratch` (room for Rows rows of sums).
// Inlined into each tile so the accumulators never leave registers. It reads TileOutput's fields into locals first:
// the intrinsic stores may alias anything, so GCC reloaded them after every store. The AMX tile passes its 32 rows
// 8 at a time by row0 (a per-pass copy of TileOutput stalled behind its tile stores).
template <typename Isa, int Nv, int Rows>
[[gnu::always_inline]] inline void store_tile(typename Isa::Vec (&acc)[Rows][Nv], const TileOutput& t, int64_t row0,
                                              int32_t* scratch) {
  using Vec = typename Isa::Vec;
  using FVec = typename Isa::FVec;
  constexpr int kL = Isa::kLanes;
  constexpr int kNr = Nv * kL;
  if (t.cols != kNr) {
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < Nv; ++v) Isa::store_s32(scratch + r * kNr + v * kL, acc[r][v]);
    }
    epilogue_rows<kNr, Isa::kWide, false>(t, scratch, row0, Rows);
    return;
  }
  const int64_t ldc = t.ldc;
  if constexpr (!Isa::kWide) {
    // S = acc - zb'[j] * rowsum'[i] + col_terms[j], wrapping as int32 (the zero point term in row_bias when every
    // column has the same zb').
    const int32_t* const col_zero_points = t.col_zero_points;
    const int32_t* const row_sums = offset_rows(t.row_sums, row0);
    Vec terms[Nv];
#pragma GCC unroll 4
    for (int v = 0; v < Nv; ++v) terms[v] = Isa::load_s32(t.col_terms + v * kL);
    if (col_zero_points != nullptr) {
      Vec zero_points[Nv];
#pragma GCC unroll 4
      for (int v = 0; v < Nv; ++v) zero_points[v] = Isa::load_s32(col_zero_points + v * kL);
#pragma GCC unroll 16
      for (int r = 0; r < Rows; ++r) {
        const Vec row_sum = Isa::broadcast(row_sums[r]);
#pragma GCC unroll 4
        for (int v = 0; v < Nv; ++v) {
          acc[r][v] = Isa::sub(Isa::add(acc[r][v], terms[v]), Isa::mullo(zero_points[v], row_sum));
        }
      }
    } else {
#pragma GCC unroll 16
      for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
        for (int v = 0; v < Nv; ++v) acc[r][v] = Isa::add(acc[r][v], terms[v]);
      }
    }
  }
  if (const int32_t* const row_bias = offset_rows(t.row_bias, row0); row_bias != nullptr) {
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      const Vec bias = Isa::broadcast(row_bias[r]);
#pragma GCC unroll 4
      for (int v = 0; v < Nv; ++v) acc[r][v] = Isa::add(acc[r][v], bias);
    }
  }
  if (int32_t* const c = offset_rows(t.c_s32, row0 * ldc); c != nullptr) {
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < Nv; ++v) Isa::store_s32(c + r * ldc + v * kL, acc[r][v]);
    }
    return;
  }
  if (uint8_t* const c = offset_rows(t.c_q8, row0 * ldc); c != nullptr) {
    // Each row requantized with its scale while the tile is in L1 (the scratch holds the whole tile).
    const double* const row_scales = offset_rows(t.row_scales, row0);
    const double zero_point = t.q8_zero_point;
    const bool q8_signed = t.q8_signed, small = t.q8_small_sums;
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
    if constexpr (sizeof(Vec) == 32 && Nv == 2) {  // __m256i registers (AVX2, AVX-VNNI tiles)
      if (t.q8_moderate) {
        // Straight from the registers, 16 values a row (see TileOutput::q8_moderate).
        const int32_t zero_point_i = static_cast<int32_t>(zero_point);
#pragma GCC unroll 16
        for (int r = 0; r < Rows; ++r) {
          const __m256 scale = _mm256_set1_ps(static_cast<float>(row_scales[r]));
          if (q8_signed)
            requantize_moderate16_lanes(acc[r][0], acc[r][1], scale, scale, zero_point_i,
                                        reinterpret_cast<int8_t*>(c + r * ldc));
          else
            requantize_moderate16_lanes(acc[r][0], acc[r][1], scale, scale, zero_point_i, c + r * ldc);
        }
        return;
      }
    }
#endif
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < Nv; ++v) Isa::store_s32(scratch + r * kNr + v * kL, acc[r][v]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      if (q8_signed)
        requantize_tile_row<int8_t, kNr>(scratch + r * kNr, row_scales[r], zero_point,
                                         reinterpret_cast<int8_t*>(c + r * ldc), small);
      else
        requantize_tile_row<uint8_t, kNr>(scratch + r * kNr, row_scales[r], zero_point, c + r * ldc, small);
    }
    return;
  }
  // float(S) * a_scale, then * b_scale, then + bias: separate roundings, as the portable epilogue.
  float* const c = offset_rows(t.c_f32, row0 * ldc);
  const float* const bias = t.bias;
  const FVec a_scale = Isa::fset1(t.a_scale);
  FVec b_scale[Nv];
#pragma GCC unroll 4
  for (int v = 0; v < Nv; ++v) {
    b_scale[v] = t.per_column_scale ? Isa::fload(t.b_scales + v * kL) : Isa::fset1(t.b_scales[0]);
  }
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < Nv; ++v) {
      FVec f = Isa::fmul(Isa::fmul(Isa::to_float(acc[r][v]), a_scale), b_scale[v]);
      if (bias != nullptr) f = Isa::fadd(f, Isa::fload(bias + v * kL));
      Isa::fstore(c + r * ldc + v * kL, f);
    }
  }
}

// The SIMD tile of Rows x (Nv * Isa::kLanes): per depth group, Nv B registers and one broadcast of each row's
// group (4 bytes: 4 uint8 steps, or 2 int16 steps) folded in by Isa::dot; a full tile is corrected and stored
// from the registers, a partial one through the scratch. Isa provides Vec (int32 lanes), FVec (float lanes),
// kLanes, kWide, zero(), load(bytes), broadcast(int32), dot(acc, a, b), load_s32, store_s32, add, sub, mullo,
// to_float, fload, fset1, fmul, fadd and fstore. DirectA: A read in place (rows t.a_stride bytes apart), else a
// packed strip, one function per form (tile_simd picks one), each with a single depth loop, then store_tile.
// Bytes of one B lane per depth group in the packed strip: 4 (4 uint8 steps, or 2 int16 steps), or
// Isa::kBLaneBytes for an Isa whose load widens narrower B elements (q8-gemm-4x16-avx2.cpp's byte-B tile: 2 int8
// steps).
template <typename Isa>
constexpr int b_lane_bytes() {
  if constexpr (requires { Isa::kBLaneBytes; })
    return Isa::kBLaneBytes;
  else
    return 4;
}

template <typename Isa, int Mr, int Nv, int Rows, bool DirectA>
[[gnu::noinline]] void tile_simd_body(int64_t groups, const void* a_strip, const void* b_strip, const TileOutput& t) {
  using Vec = typename Isa::Vec;
  constexpr int kL = Isa::kLanes;
  constexpr int kNr = Nv * kL;
  constexpr int kBLane = b_lane_bytes<Isa>();
  const uint8_t* a = static_cast<const uint8_t*>(a_strip);
  const uint8_t* b = static_cast<const uint8_t*>(b_strip);
  Vec acc[Rows][Nv];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < Nv; ++v) acc[r][v] = Isa::zero();
  }
  // Row r's group g at a + r * row_stride + g * group_stride: constants for a packed strip, lda for A in place.
  const int64_t row_stride = DirectA ? t.a_stride : 4;
  constexpr int64_t kGroupStride = DirectA ? 4 : Mr * 4;
  // Two groups per loop iteration: the same dot order. AMD EPYC Zen 3, one thread, minima of three alternating
  // runs: the AVX2 4x16 kernel's s32 products on BERT's FFN-up 4485 -> 4256 us, QKV 1129 -> 1039, ResNet-50's 3x3
  // at 28x28 2100 -> 1951; the b7 kernel level (its vpmaddubsw / vpmaddwd pairs are the bound). Not measured with
  // VNNI.
#pragma GCC unroll 2
  for (int64_t g = 0; g < groups; ++g) {
    Vec bv[Nv];
#pragma GCC unroll 4
    for (int v = 0; v < Nv; ++v) bv[v] = Isa::load(b + v * kL * kBLane);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      int32_t group;
      std::memcpy(&group, a + r * row_stride, sizeof group);
      const Vec av = Isa::broadcast(group);
#pragma GCC unroll 4
      for (int v = 0; v < Nv; ++v) acc[r][v] = Isa::dot(acc[r][v], av, bv[v]);
    }
    a += kGroupStride;
    b += kNr * kBLane;
  }
  store_tile<Isa, Nv, Rows>(acc, t, 0, t.scratch);
}

template <typename Isa, int Mr, int Nv, int Rows>
void tile_simd(int64_t groups, const void* a_strip, const void* b_strip, const TileOutput& t) {
  if (t.a_stride == 0)
    tile_simd_body<Isa, Mr, Nv, Rows, false>(groups, a_strip, b_strip, t);
  else
    tile_simd_body<Isa, Mr, Nv, Rows, true>(groups, a_strip, b_strip, t);
}

void requantize(const int32_t* values, int64_t count, const double* scales, int64_t scale_stride, double zero_point,
                bool out_signed, uint8_t* out, bool small_sums) {
  if (out_signed) {
    int8_t* y = reinterpret_cast<int8_t*>(out);
    if (scale_stride == 0)
      requantize_to<int8_t, false>(values, count, scales, zero_point, y, small_sums);
    else
      requantize_to<int8_t, true>(values, count, scales, zero_point, y);
  } else {
    if (scale_stride == 0)
      requantize_to<uint8_t, false>(values, count, scales, zero_point, out, small_sums);
    else
      requantize_to<uint8_t, true>(values, count, scales, zero_point, out);
  }
}

// q8_requantize_float_sums's loop: chunks of the sums turned into int32 plus the bias in a buffer in L1 (the
// conversion vectorised under the file's ISA), each requantized by requantize_to.
template <typename T>
void requantize_float_sums_to(const float* __restrict sums, int64_t count, int32_t bias, double scale,
                              double zero_point, T* __restrict out, bool small_sums) {
  constexpr int64_t kChunk = 256;
  alignas(64) int32_t chunk[kChunk];
  const uint32_t add = static_cast<uint32_t>(bias);
  for (int64_t i = 0; i < count; i += kChunk) {
    const int64_t n = count - i < kChunk ? count - i : kChunk;
    for (int64_t j = 0; j < n; ++j)
      chunk[j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int32_t>(sums[i + j])) + add);
    requantize_to<T, false>(chunk, n, &scale, zero_point, out + i, small_sums);
  }
}

void requantize_float_sums(const float* sums, int64_t count, int32_t bias, double scale, double zero_point,
                           bool out_signed, uint8_t* out, bool small_sums) {
  if (out_signed)
    requantize_float_sums_to(sums, count, bias, scale, zero_point, reinterpret_cast<int8_t*>(out), small_sums);
  else
    requantize_float_sums_to(sums, count, bias, scale, zero_point, out, small_sums);
}

// A sum of requantize_channels_to as int32: float sums are exact integers below 2^31, int32 ones are themselves.
template <typename S>
inline int32_t sum_as_int32(S sum) {
  return static_cast<int32_t>(sum);
}

// Channels [first, first + count) of one position of requantize_channels_to one by one in double (requantize_one
// of int32(sum) + bias, wrapping): row holds the position's sums, dst its bytes, both from channel 0.
template <typename S, typename T>
[[gnu::noinline, gnu::cold]] void requantize_channels_one_by_one(const S* row, int64_t count, int64_t first,
                                                                 const int32_t* bias, const double* scales,
                                                                 double zero_point, T* dst) {
  for (int64_t c = first; c < first + count; ++c) {
    const uint32_t add = bias != nullptr ? static_cast<uint32_t>(bias[c]) : 0u;
    dst[c] = requantize_one<T>(static_cast<int32_t>(static_cast<uint32_t>(sum_as_int32(row[c])) + add), scales[c],
                               zero_point);
  }
}

// The loop of q8_requantize_float_sums_channels (S = float) and q8_requantize_channels (S = int32_t): position after
// position (sums ld_sums apart, bytes ld_out apart), its `channels` sums plus their channels' biases, each
// requantized with its channel's scale as requantize_to does (the same bytes). Under AVX-512, where every scale is a
// float below 64 in magnitude and the zero point an integer (QLinearConv's always are), whole and masked registers
// of channels go through requantize_moderate_lanes with a register of scales (under AVX2, pairs of whole registers
// through requantize_moderate16_lanes there, and whole registers through requantize_exact_f32_lanes where every
// scale is a float); a register with a value beyond +-2^24 (only when not
// `small`) and every other case go value by value in double (out of line: a call inside the vector loop made GCC
// reload its state and clear the upper registers on every iteration).
template <typename S, typename T>
void requantize_channels_to(const S* __restrict sums, int64_t positions, int64_t channels, int64_t ld_sums,
                            const int32_t* __restrict bias, const double* __restrict scales, double zero_point,
                            T* __restrict out, int64_t ld_out, [[maybe_unused]] bool small) {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, int32_t>);
#if defined(__AVX2__) && defined(__FMA__)
  // The vector loops' per-channel terms: the scales as floats, the biases (zeros without).
  thread_local std::vector<float> float_scales;
  thread_local std::vector<int32_t> biases;
  const auto float_terms = [&](double largest_scale) {
    for (int64_t c = 0; c < channels; ++c) {
      if (!(__builtin_isfinite(scales[c]) && static_cast<double>(static_cast<float>(scales[c])) == scales[c] &&
            std::fabs(scales[c]) < largest_scale))
        return false;
    }
    float_scales.assign(scales, scales + channels);
    biases.assign(static_cast<size_t>(channels), 0);
    if (bias != nullptr) biases.assign(bias, bias + channels);
    return true;
  };
#endif
#if defined(__AVX512F__)
  if (std::nearbyint(zero_point) == zero_point && std::fabs(zero_point) <= 255.0 && float_terms(64.0)) {
    const int32_t zero_point_i = static_cast<int32_t>(zero_point);
    const float* const fs = float_scales.data();
    const int32_t* const bs = biases.data();
    const int64_t whole = channels / 16 * 16;
    const __mmask16 tail = static_cast<__mmask16>((1u << (channels - whole)) - 1u);
    // Channels [c, c + 16) of one position (the `lanes` of them), its sums at row and its bytes at dst: the sums
    // as int32 (float ones converted exactly), then the bias added wrapping.
    const auto one_register = [&](const S* row, int64_t c, T* dst, __mmask16 lanes) {
      __m512i sum;
      if constexpr (std::is_same_v<S, float>)
        sum = _mm512_maskz_cvtps_epi32(lanes, _mm512_maskz_loadu_ps(lanes, row + c));
      else
        sum = _mm512_maskz_loadu_epi32(lanes, row + c);
      const __m512i v = _mm512_add_epi32(sum, _mm512_maskz_loadu_epi32(lanes, bs + c));
      if (!small && beyond_2_24(v)) [[unlikely]] {
        requantize_channels_one_by_one(row, std::min<int64_t>(16, channels - c), c, bias, scales, zero_point, dst);
        return;
      }
      requantize_moderate_lanes(v, _mm512_maskz_loadu_ps(lanes, fs + c), zero_point_i, dst + c, lanes);
    };
    for (int64_t p = 0; p < positions; ++p) {
      const S* row = sums + p * ld_sums;
      T* dst = out + p * ld_out;
      for (int64_t c = 0; c < whole; c += 16) one_register(row, c, dst, __mmask16(0xFFFF));
      if (whole < channels) one_register(row, whole, dst, tail);
    }
    return;
  }
#elif defined(__AVX2__) && defined(__FMA__)
  // Every scale below 64 and an integer zero point (QLinearConv's always are): 16 channels at a time through
  // requantize_moderate16_lanes, 25 operations per 16 values instead of 32 (INT8 ResNet-50's channels-last
  // requantization, MobileNetV2's 14x14 depthwise layers); else 8 through requantize_exact_f32_lanes.
  const bool moderate = std::nearbyint(zero_point) == zero_point && std::fabs(zero_point) <= 255.0 && float_terms(64.0);
  if (moderate || float_terms(HUGE_VAL)) {
    const float zero_point_f = static_cast<float>(zero_point);
    const int32_t zero_point_i = static_cast<int32_t>(zero_point);
    const float* const fs = float_scales.data();
    const int32_t* const bs = biases.data();
    const int64_t whole = channels / 8 * 8, pairs = moderate ? channels / 16 * 16 : 0;
    // Channels [c, c + 8) of one position plus their biases, as int32 (float sums converted exactly).
    const auto load_sums = [&](const S* row, int64_t c) {
      __m256i sum;
      if constexpr (std::is_same_v<S, float>)
        sum = _mm256_cvtps_epi32(_mm256_loadu_ps(row + c));
      else
        sum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c));
      return _mm256_add_epi32(sum, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bs + c)));
    };
    for (int64_t p = 0; p < positions; ++p) {
      const S* row = sums + p * ld_sums;
      T* dst = out + p * ld_out;
      for (int64_t c = 0; c < pairs; c += 16) {
        const __m256i v0 = load_sums(row, c), v1 = load_sums(row, c + 8);
        if (!small && (beyond_2_24(v0) || beyond_2_24(v1))) [[unlikely]] {
          requantize_channels_one_by_one(row, 16, c, bias, scales, zero_point, dst);
          continue;
        }
        requantize_moderate16_lanes(v0, v1, _mm256_loadu_ps(fs + c), _mm256_loadu_ps(fs + c + 8), zero_point_i,
                                    dst + c);
      }
      for (int64_t c = pairs; c < whole; c += 8) {
        const __m256i v = load_sums(row, c);
        if (!small && beyond_2_24(v)) [[unlikely]] {
          requantize_channels_one_by_one(row, 8, c, bias, scales, zero_point, dst);
          continue;
        }
        requantize_exact_f32_lanes(v, _mm256_loadu_ps(fs + c), zero_point_f, dst + c);
      }
      if (whole < channels) requantize_channels_one_by_one(row, channels - whole, whole, bias, scales, zero_point, dst);
    }
    return;
  }
#endif
  for (int64_t p = 0; p < positions; ++p)
    requantize_channels_one_by_one(sums + p * ld_sums, channels, 0, bias, scales, zero_point, out + p * ld_out);
}

void requantize_float_sums_channels(const float* sums, int64_t positions, int64_t channels, const int32_t* bias,
                                    const double* scales, double zero_point, bool out_signed, uint8_t* out,
                                    bool small_sums) {
  if (out_signed)
    requantize_channels_to(sums, positions, channels, channels, bias, scales, zero_point,
                           reinterpret_cast<int8_t*>(out), channels, small_sums);
  else
    requantize_channels_to(sums, positions, channels, channels, bias, scales, zero_point, out, channels, small_sums);
}

void requantize_channels(const int32_t* sums, int64_t positions, int64_t channels, int64_t ld_sums, const int32_t* bias,
                         const double* scales, double zero_point, bool out_signed, uint8_t* out, int64_t ld_out,
                         bool small_sums) {
  if (out_signed)
    requantize_channels_to(sums, positions, channels, ld_sums, bias, scales, zero_point, reinterpret_cast<int8_t*>(out),
                           ld_out, small_sums);
  else
    requantize_channels_to(sums, positions, channels, ld_sums, bias, scales, zero_point, out, ld_out, small_sums);
}

// The portable tile over int16 strips of one depth step per group (G = 1), in wrap-around arithmetic: plain
// loops over contiguous columns that the compiler vectorises (widening int16 multiplies).
template <int Mr, int Nr, int Rows>
void tile_wide_scalar(int64_t groups, const void* a_strip, const void* b_strip, const TileOutput& t) {
  const int16_t* a = static_cast<const int16_t*>(a_strip);
  const int16_t* b = static_cast<const int16_t*>(b_strip);
  uint32_t acc[Rows][Nr] = {};
  for (int64_t g = 0; g < groups; ++g) {
    for (int r = 0; r < Rows; ++r) {
      const int32_t av = a[r];
      for (int c = 0; c < Nr; ++c) acc[r][c] += static_cast<uint32_t>(av * b[c]);
    }
    a += Mr;
    b += Nr;
  }
  for (int r = 0; r < Rows; ++r) {
    for (int c = 0; c < Nr; ++c) t.scratch[r * Nr + c] = static_cast<int32_t>(acc[r][c]);
  }
  epilogue<Nr, true>(t, t.scratch);
}

}  // namespace
}  // namespace tessera::q8gemm

#pragma GCC pop_options

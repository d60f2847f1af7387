// One register of floats for the ISA the including file is compiled for (16 lanes under AVX-512, 8 under AVX2, 4
// otherwise), as a GCC vector type that the compiler lowers to that ISA's instructions, with the loads, stores and
// shuffles the vectorized kernel families share. Include only from per-ISA kernel sources (their -impl.h files):
// the lane count depends on the translation unit's target flags.
#pragma once

#include <cstdint>
#include <type_traits>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tessera::simd {
namespace {

#if defined(__AVX512F__)
inline constexpr int kLanes = 16;
#elif defined(__AVX2__)
inline constexpr int kLanes = 8;
#else
inline constexpr int kLanes = 4;
#endif

typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

inline Vec load(const float* p) {
  Vec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }

// The even lanes of the 2 * kLanes floats at p: p[0], p[2], ..., one shuffle of two loads.
inline Vec even_lanes(const float* p) {
  const Vec a = load(p), b = load(p + kLanes);
#if defined(__AVX512F__)
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
#elif defined(__AVX2__)
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
#else
  return __builtin_shufflevector(a, b, 0, 2, 4, 6);
#endif
}

// kLanes bytes at p (int8 or uint8) widened to floats, by the sign- or zero-extending loads (GCC does not pick them
// for a converted byte vector: it widened lane by lane through shifts, 3x slower than a dequantization needs).
template <typename T>
inline Vec bytes_to_floats(const T* p) {
  static_assert(std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>);
#if defined(__AVX512F__)
  // The all-lanes maskz forms: the plain intrinsics trip GCC 12's -Wmaybe-uninitialized (their undefined sources).
  constexpr __mmask16 kAll = 0xFFFF;
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m512i ints =
      std::is_signed_v<T> ? _mm512_maskz_cvtepi8_epi32(kAll, bytes) : _mm512_maskz_cvtepu8_epi32(kAll, bytes);
  return reinterpret_cast<Vec>(_mm512_maskz_cvtepi32_ps(kAll, ints));
#elif defined(__AVX2__)
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  const __m256i ints = std::is_signed_v<T> ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
  return reinterpret_cast<Vec>(_mm256_cvtepi32_ps(ints));
#else
  Vec v;
  for (int k = 0; k < kLanes; ++k) v[k] = static_cast<float>(p[k]);
  return v;
#endif
}

// Stores the kLanes floats of v, each an integer within T's range (int8 or uint8), as bytes at p: through
// vcvttps2dq and saturating packs (exact on such values) under AVX2, vpmovdb under AVX-512; GCC lowered a converted
// vector of AVX2 lanes to a byte extract and shift per lane (~5x the quantization's other work).
template <typename T>
inline void store_integral_floats_as_bytes(T* p, Vec v) {
  static_assert(std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>);
#if defined(__AVX512F__)
  constexpr __mmask16 kAll = 0xFFFF;
  const __m512i ints = _mm512_maskz_cvttps_epi32(kAll, reinterpret_cast<__m512>(v));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_maskz_cvtepi32_epi8(kAll, ints));
#elif defined(__AVX2__)
  const __m256i ints = _mm256_cvttps_epi32(reinterpret_cast<__m256>(v));
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(ints), _mm256_extracti128_si256(ints, 1));
  const __m128i bytes = std::is_signed_v<T> ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), bytes);
#else
  for (int k = 0; k < kLanes; ++k) p[k] = static_cast<T>(static_cast<int32_t>(v[k]));
#endif
}

// Whether divide_by may take the reciprocal of `divisor` (once per array): a finite float with |divisor| in
// [2^-60, 2^60], so that wherever a quotient is large enough for its rounding to an integer to matter, the
// correction's remainder is a normal number (flush-to-zero cannot touch it), and the reciprocal itself is normal.
inline bool reciprocal_divides_exactly(float divisor) {
  const float magnitude = divisor < 0 ? -divisor : divisor;
  return magnitude >= 0x1p-60f && magnitude <= 0x1p60f;
}

// x / divisor with the division's bits, from reciprocal = RN(1 / divisor) (divisor passing
// reciprocal_divides_exactly): q = RN(x * reciprocal) is within an ulp of the quotient, the remainder x - q * divisor
// is exact in one fused multiply-add, and RN(q + remainder * reciprocal) is the correctly rounded quotient
// (Markstein's theorem). Lanes where an intermediate overflows or x is infinite or NaN come out NaN and are divided
// instead (a branch taken only then). A vdivps costs ~10 cycles a register on these cores: the quantizing loops
// divided nothing else. Without FMA (the portable variant) it divides.
inline Vec divide_by(Vec x, Vec divisor, [[maybe_unused]] Vec reciprocal) {
#if defined(__AVX512F__) && defined(__FMA__)
  const __m512 q0 = _mm512_mul_ps(x, reciprocal);
  __m512 q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q0, divisor, x), reciprocal, q0);
  const __mmask16 nan = _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q);
  if (nan != 0) [[unlikely]]
    q = _mm512_mask_div_ps(q, nan, x, divisor);
  return q;
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 q0 = _mm256_mul_ps(x, reciprocal);
  __m256 q = _mm256_fmadd_ps(_mm256_fnmadd_ps(q0, divisor, x), reciprocal, q0);
  const __m256 nan = _mm256_cmp_ps(q, q, _CMP_UNORD_Q);
  if (_mm256_movemask_ps(nan) != 0) [[unlikely]]
    q = _mm256_blendv_ps(q, _mm256_div_ps(x, divisor), nan);
  return q;
#else
  return x / divisor;
#endif
}

// Whether `zero_point` takes RoundedBytes: an integer within +-255 (an 8-bit zero point always is).
inline bool is_byte_zero_point(float zero_point) {
  return zero_point == static_cast<float>(static_cast<int>(zero_point)) && zero_point >= -255.0f &&
         zero_point <= 255.0f;
}

#if defined(__AVX2__)
// The bytes (int8 or uint8 T) of saturate(round_half_even(q) + zero_point) for a register of quotients q, zero_point
// passing is_byte_zero_point: q clamped to [lo - zero_point, hi - zero_point] (NaN to the lower bound: vmaxps returns
// its second operand then), rounded by vcvtps2dq (the default rounding mode, as std::nearbyint assumes), the zero
// point added in int32. The same bytes as rounding, adding and clamping in float, in four fewer instructions a
// register: the 8-bit quantizing loops (q8-binary, qu8-quantize) are bound by instruction count.
template <typename T>
class RoundedBytes {
 public:
  static_assert(std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>);
  explicit RoundedBytes(float zero_point) {
    const float lo = std::is_signed_v<T> ? -128.0f : 0.0f, hi = std::is_signed_v<T> ? 127.0f : 255.0f;
#if defined(__AVX512F__)
    q_lo_ = _mm512_set1_ps(lo - zero_point);
    q_hi_ = _mm512_set1_ps(hi - zero_point);
    zero_point_ = _mm512_set1_epi32(static_cast<int32_t>(zero_point));
#else
    q_lo_ = _mm256_set1_ps(lo - zero_point);
    q_hi_ = _mm256_set1_ps(hi - zero_point);
    zero_point_ = _mm256_set1_epi32(static_cast<int32_t>(zero_point));
#endif
  }

  // Writes kLanes bytes at out.
  void store(Vec q, T* out) const {
#if defined(__AVX512F__)
    const __m512 clamped = _mm512_min_ps(_mm512_max_ps(reinterpret_cast<__m512>(q), q_lo_), q_hi_);
    const __m512i k = _mm512_add_epi32(_mm512_cvtps_epi32(clamped), zero_point_);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(k));
#else
    const __m256 clamped = _mm256_min_ps(_mm256_max_ps(reinterpret_cast<__m256>(q), q_lo_), q_hi_);
    const __m256i k = _mm256_add_epi32(_mm256_cvtps_epi32(clamped), zero_point_);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1));
    const __m128i bytes = std::is_signed_v<T> ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
#endif
  }

 private:
#if defined(__AVX512F__)
  __m512 q_lo_, q_hi_;
  __m512i zero_point_;
#else
  __m256 q_lo_, q_hi_;
  __m256i zero_point_;
#endif
};
#endif

}  // namespace
}  // namespace tessera::simd

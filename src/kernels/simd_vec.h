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

}  // namespace
}  // namespace tessera::simd

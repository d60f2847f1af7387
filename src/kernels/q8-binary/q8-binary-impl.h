// The q8-binary loops, written once over simd::Vec; each q8-binary-<isa>.cpp includes this under its ISA's flags.
// Contraction into fused multiply-adds is off here: the dequantized operands must be rounded before they are added,
// as the unfused ops round them. Rounding adds and subtracts 1.5 * 2^23 (half to even for |v| < 2^22; larger
// values saturate either way). The division by the output scale is simd::divide_by (its reciprocal and one
// correction): the bits of the division at a fraction of its cost (QLinearAdd on 802,816 int8 values was bound by
// vdivps).
#pragma once

#pragma GCC optimize("fp-contract=off")
// GCC 12 reports the AVX-512 widening intrinsics' internal mask operand as maybe uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>
#include <cstring>
#include <type_traits>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/q8-binary/q8-binary-table.h"
#include "kernels/simd_vec.h"

namespace tessera::q8_binary {
namespace {

using simd::kLanes;
using simd::Vec;

typedef int32_t IntVec __attribute__((vector_size(kLanes * sizeof(int32_t))));

constexpr float kRoundMagic = 12582912.0f;

using simd::bytes_to_floats;

template <typename T>
inline float quantize_one(float v, const Q8BinaryParams& p, float lo, float hi) {
  float r = (v / p.c_scale + kRoundMagic) - kRoundMagic;
  r += p.c_zero_point;
  r = r > lo ? r : lo;  // NaN -> lo
  return r < hi ? r : hi;
}

// The whole registers of binary: the first n / kLanes * kLanes values; returns that count. kReciprocal: the quotients
// by simd::divide_by (the output scale passed simd::reciprocal_divides_exactly), else by division.
template <typename T, bool kMul, bool kReciprocal>
int64_t binary_registers(const T* a, const T* b, int64_t n, const Q8BinaryParams& p, T* c) {
  typedef T ByteVec __attribute__((vector_size(kLanes)));
  const float lo = std::is_signed_v<T> ? -128.0f : 0.0f, hi = std::is_signed_v<T> ? 127.0f : 255.0f;
  const Vec sa = Vec{} + p.a_scale, za = Vec{} + p.a_zero_point, sb = Vec{} + p.b_scale, zb = Vec{} + p.b_zero_point;
  const Vec sc = Vec{} + p.c_scale, zc = Vec{} + p.c_zero_point, magic = Vec{} + kRoundMagic;
  const Vec vlo = Vec{} + lo, vhi = Vec{} + hi, reciprocal = Vec{} + 1.0f / p.c_scale;
  int64_t i = 0;
#if defined(__AVX2__)
  // An integer output zero point (QLinearAdd/QLinearMul's always is): the quotient clamped to [lo - zc, hi - zc]
  // (NaN to the lower bound: vmaxps returns its second operand then), rounded half to even by vcvtps2dq (the
  // default rounding mode, as std::nearbyint assumes), plus zc in int32: the same bytes as rounding, adding and
  // clamping in float, in four fewer instructions a register (the loop is bound by instruction count).
  if (p.c_zero_point == static_cast<float>(static_cast<int>(p.c_zero_point)) && std::abs(p.c_zero_point) <= 255.0f) {
    const int32_t zero_point = static_cast<int32_t>(p.c_zero_point);
#if defined(__AVX512F__)
    const __m512 q_lo = _mm512_set1_ps(lo - p.c_zero_point), q_hi = _mm512_set1_ps(hi - p.c_zero_point);
    const __m512i zci = _mm512_set1_epi32(zero_point);
#else
    const __m256 q_lo = _mm256_set1_ps(lo - p.c_zero_point), q_hi = _mm256_set1_ps(hi - p.c_zero_point);
    const __m256i zci = _mm256_set1_epi32(zero_point);
#endif
    for (; i + kLanes <= n; i += kLanes) {
      const Vec fx = (bytes_to_floats(a + i) - za) * sa;
      const Vec fy = (bytes_to_floats(b + i) - zb) * sb;
      const Vec v = kMul ? fx * fy : fx + fy;
      const Vec q = kReciprocal ? simd::divide_by(v, sc, reciprocal) : v / sc;
#if defined(__AVX512F__)
      const __m512 clamped = _mm512_min_ps(_mm512_max_ps(reinterpret_cast<__m512>(q), q_lo), q_hi);
      const __m512i k = _mm512_add_epi32(_mm512_cvtps_epi32(clamped), zci);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(c + i), _mm512_cvtepi32_epi8(k));
#else
      const __m256 clamped = _mm256_min_ps(_mm256_max_ps(reinterpret_cast<__m256>(q), q_lo), q_hi);
      const __m256i k = _mm256_add_epi32(_mm256_cvtps_epi32(clamped), zci);
      const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1));
      const __m128i bytes = std::is_signed_v<T> ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(c + i), bytes);
#endif
    }
    return i;
  }
#endif
  for (; i + kLanes <= n; i += kLanes) {
    const Vec fx = (bytes_to_floats(a + i) - za) * sa;
    const Vec fy = (bytes_to_floats(b + i) - zb) * sb;
    const Vec v = kMul ? fx * fy : fx + fy;
    Vec r = ((kReciprocal ? simd::divide_by(v, sc, reciprocal) : v / sc) + magic) - magic;
    r += zc;
    r = r > vlo ? r : vlo;
    r = r < vhi ? r : vhi;
    const ByteVec out = __builtin_convertvector(__builtin_convertvector(r, IntVec), ByteVec);
    std::memcpy(c + i, &out, kLanes);
  }
  return i;
}

template <typename T, bool kMul>
void binary(const void* a_raw, const void* b_raw, int64_t n, const Q8BinaryParams& p, void* c_raw) {
  const T* a = static_cast<const T*>(a_raw);
  const T* b = static_cast<const T*>(b_raw);
  T* c = static_cast<T*>(c_raw);
  const float lo = std::is_signed_v<T> ? -128.0f : 0.0f, hi = std::is_signed_v<T> ? 127.0f : 255.0f;
  int64_t i = simd::reciprocal_divides_exactly(p.c_scale) ? binary_registers<T, kMul, true>(a, b, n, p, c)
                                                          : binary_registers<T, kMul, false>(a, b, n, p, c);
  for (; i < n; ++i) {
    const float fx = (static_cast<float>(a[i]) - p.a_zero_point) * p.a_scale;
    const float fy = (static_cast<float>(b[i]) - p.b_zero_point) * p.b_scale;
    c[i] = static_cast<T>(quantize_one<T>(kMul ? fx * fy : fx + fy, p, lo, hi));
  }
}

}  // namespace
}  // namespace tessera::q8_binary

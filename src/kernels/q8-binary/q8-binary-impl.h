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
  if (simd::is_byte_zero_point(p.c_zero_point)) {  // QLinearAdd/QLinearMul's always is
    const simd::RoundedBytes<T> rounded(p.c_zero_point);
    for (; i + kLanes <= n; i += kLanes) {
      const Vec fx = (bytes_to_floats(a + i) - za) * sa;
      const Vec fy = (bytes_to_floats(b + i) - zb) * sb;
      const Vec v = kMul ? fx * fy : fx + fy;
      rounded.store(kReciprocal ? simd::divide_by(v, sc, reciprocal) : v / sc, c + i);
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

// The qu8-quantize loops, written once over simd::Vec; each qu8-quantize-<isa>.cpp includes this under its ISA's
// flags. Rounding adds and subtracts 1.5 * 2^23, which rounds half to even for |v| < 2^22 (every in-range
// quotient: |x / scale| <= 255 when x lies in the range the scale came from; larger ones saturate either way).
#pragma once

// GCC 12 reports the AVX-512 conversion intrinsics' internal operand as maybe uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstring>

#include "kernels/qu8-quantize/qu8-quantize-table.h"
#include "kernels/simd_vec.h"

namespace tessera::qu8_quantize {
namespace {

using simd::kLanes;
using simd::Vec;

typedef int32_t IntVec __attribute__((vector_size(kLanes * sizeof(int32_t))));
typedef uint8_t ByteVec __attribute__((vector_size(kLanes)));

constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23

// The same steps as the vector lanes, for the tail: NaN-free min/max (a NaN never compares less or greater).
inline void min_max_scalar(const float* x, int64_t n, float& lo, float& hi) {
  for (int64_t i = 0; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
}

void min_max(const float* x, int64_t n, float* lo_out, float* hi_out) {
  Vec lo = {}, hi = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const Vec v = simd::load(x + i);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  float l = 0, h = 0;
  for (int k = 0; k < kLanes; ++k) {
    l = lo[k] < l ? lo[k] : l;
    h = hi[k] > h ? hi[k] : h;
  }
  min_max_scalar(x + i, n - i, l, h);
  *lo_out = l;
  *hi_out = h;
}

inline float quantize_one(float x, float scale, float zero_point) {
  float r = (x / scale + kRoundMagic) - kRoundMagic;
  r += zero_point;
  r = r > 0.0f ? r : 0.0f;  // NaN -> 0
  return r < 255.0f ? r : 255.0f;
}

// The whole registers of quantize: the first n / kLanes * kLanes values; returns that count. kReciprocal (the scale
// passed simd::reciprocal_divides_exactly): the quotients by simd::divide_by (the division's bits; the division
// bound DynamicQuantizeMatMul's quantization of its input), else by division.
template <bool kReciprocal>
int64_t quantize_registers(const float* x, int64_t n, float scale, float zero_point, uint8_t* y) {
  const Vec s = Vec{} + scale, zp = Vec{} + zero_point, magic = Vec{} + kRoundMagic;
  const Vec zero = {}, top = Vec{} + 255.0f, reciprocal = Vec{} + 1.0f / scale;
  int64_t i = 0;
#if defined(__AVX2__)
  if (simd::is_byte_zero_point(zero_point)) {  // DynamicQuantizeLinear's always is
    const simd::RoundedBytes<uint8_t> rounded(zero_point);
    for (; i + kLanes <= n; i += kLanes) {
      const Vec v = simd::load(x + i);
      rounded.store(kReciprocal ? simd::divide_by(v, s, reciprocal) : v / s, y + i);
    }
    return i;
  }
#endif
  for (; i + kLanes <= n; i += kLanes) {
    const Vec v = simd::load(x + i);
    Vec r = ((kReciprocal ? simd::divide_by(v, s, reciprocal) : v / s) + magic) - magic;
    r += zp;
    r = r > zero ? r : zero;
    r = r < top ? r : top;
    const ByteVec bytes = __builtin_convertvector(__builtin_convertvector(r, IntVec), ByteVec);
    std::memcpy(y + i, &bytes, kLanes);
  }
  return i;
}

void quantize(const float* x, int64_t n, float scale, float zero_point, uint8_t* y) {
  int64_t i = simd::reciprocal_divides_exactly(scale) ? quantize_registers<true>(x, n, scale, zero_point, y)
                                                      : quantize_registers<false>(x, n, scale, zero_point, y);
  for (; i < n; ++i) y[i] = static_cast<uint8_t>(quantize_one(x[i], scale, zero_point));
}

}  // namespace
}  // namespace tessera::qu8_quantize

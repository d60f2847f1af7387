// The q8-convert loops, written once over simd::Vec; each q8-convert-<isa>.cpp includes this under its ISA's flags.
// Rounding adds and subtracts 1.5 * 2^23, which rounds half to even for |v| < 2^22; larger quotients saturate
// either way (the result stays beyond every 8-bit range), so the bytes equal nearbyint's. Only the division, an
// add/subtract pair and compares: nothing the compiler may contract into an FMA.
#pragma once

#include <cstring>
#include <limits>

#include "kernels/q8-convert/q8-convert-table.h"
#include "kernels/simd_vec.h"

namespace tessera::q8_convert {
namespace {

using simd::kLanes;
using simd::Vec;

constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23

template <typename T>
inline T quantize_one(float x, float scale, float zero_point) {
  constexpr float lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  float q = x / scale;
  q = q == q ? q : 0.0f;  // NaN -> the zero point
  float r = (q + kRoundMagic) - kRoundMagic;
  r += zero_point;
  r = r > lo ? r : lo;
  r = r < hi ? r : hi;
  return static_cast<T>(static_cast<int32_t>(r));
}

// The whole registers of quantize: the first n / kLanes * kLanes values; returns that count. kRow: scale and
// zero_point hold one value per element (a row of per-axis parameters); else one value for all. kReciprocal (one
// scale passing simd::reciprocal_divides_exactly): the quotients by simd::divide_by, else by division.
template <typename T, bool kRow, bool kReciprocal>
int64_t quantize_registers(const float* x, int64_t n, const float* scale, const float* zero_point, T* y) {
  static_assert(!(kRow && kReciprocal));
  const Vec magic = Vec{} + kRoundMagic, zero = {};
  const Vec lo = Vec{} + static_cast<float>(std::numeric_limits<T>::min());
  const Vec hi = Vec{} + static_cast<float>(std::numeric_limits<T>::max());
  Vec s = Vec{} + scale[0], zp = Vec{} + zero_point[0];
  const Vec reciprocal = Vec{} + 1.0f / scale[0];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    if constexpr (kRow) {
      s = simd::load(scale + i);
      zp = simd::load(zero_point + i);
    }
    Vec q = kReciprocal ? simd::divide_by(simd::load(x + i), s, reciprocal) : simd::load(x + i) / s;
    q = q == q ? q : zero;
    Vec r = (q + magic) - magic;
    r += zp;
    r = r > lo ? r : lo;
    r = r < hi ? r : hi;
    simd::store_integral_floats_as_bytes(y + i, r);
  }
  return i;
}

// kRow: scale and zero_point hold one value per element (a row of per-axis parameters); else one value for all.
template <typename T, bool kRow>
void quantize(const float* x, int64_t n, const float* scale, const float* zero_point, T* y) {
  if (n <= 0) return;  // an empty row may come with no parameters at all (null pointers)
  int64_t i = 0;
  if constexpr (!kRow) {
    i = simd::reciprocal_divides_exactly(scale[0]) ? quantize_registers<T, false, true>(x, n, scale, zero_point, y)
                                                   : quantize_registers<T, false, false>(x, n, scale, zero_point, y);
  } else {
    i = quantize_registers<T, true, false>(x, n, scale, zero_point, y);
  }
  for (; i < n; ++i) y[i] = quantize_one<T>(x[i], scale[kRow ? i : 0], zero_point[kRow ? i : 0]);
}

template <typename T, bool kRow>
void dequantize(const T* x, int64_t n, const float* scale, const float* zero_point, float* y) {
  if (n <= 0) return;  // an empty row may come with no parameters at all (null pointers)
  Vec s = Vec{} + scale[0], zp = Vec{} + zero_point[0];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    if constexpr (kRow) {
      s = simd::load(scale + i);
      zp = simd::load(zero_point + i);
    }
    simd::store(y + i, (simd::bytes_to_floats(x + i) - zp) * s);
  }
  for (; i < n; ++i) y[i] = (static_cast<float>(x[i]) - zero_point[kRow ? i : 0]) * scale[kRow ? i : 0];
}

void quantize_s8(const float* x, int64_t n, float scale, float zero_point, int8_t* y) {
  quantize<int8_t, false>(x, n, &scale, &zero_point, y);
}
void quantize_u8(const float* x, int64_t n, float scale, float zero_point, uint8_t* y) {
  quantize<uint8_t, false>(x, n, &scale, &zero_point, y);
}
void dequantize_s8(const int8_t* x, int64_t n, float scale, float zero_point, float* y) {
  dequantize<int8_t, false>(x, n, &scale, &zero_point, y);
}
void dequantize_u8(const uint8_t* x, int64_t n, float scale, float zero_point, float* y) {
  dequantize<uint8_t, false>(x, n, &scale, &zero_point, y);
}
constexpr auto quantize_s8_row = quantize<int8_t, true>;
constexpr auto quantize_u8_row = quantize<uint8_t, true>;
constexpr auto dequantize_s8_row = dequantize<int8_t, true>;
constexpr auto dequantize_u8_row = dequantize<uint8_t, true>;

}  // namespace
}  // namespace tessera::q8_convert

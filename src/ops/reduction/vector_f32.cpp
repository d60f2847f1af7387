// The float loops of reduce_util.h, written with GCC vector extensions: the compiler lowers them to the
// baseline ISA (SSE2 on x86-64) without any per-ISA code, where plain loops would not vectorize (float
// reductions need reassociation, and selects inside unrolled lanes defeat the vectorizer).
#include <cstring>
#include <limits>

#include "ops/reduction/reduce_util.h"

namespace tessera {
namespace {

using F32x4 = float __attribute__((vector_size(16)));
using I32x4 = int32_t __attribute__((vector_size(16)));

inline F32x4 load(const float* p) {
  F32x4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, F32x4 v) { std::memcpy(p, &v, sizeof v); }
inline F32x4 splat(float v) { return F32x4{v, v, v, v}; }
inline float horizontal_sum(F32x4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// The same polynomial as vector_exp, on four lanes.
inline F32x4 exp4(F32x4 x) {
  const F32x4 high = splat(88.3762626647949f);
  const F32x4 low = splat(-86.0f);
  F32x4 c = x < low ? low : x;
  c = c > high ? high : c;
  const F32x4 n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  F32x4 r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  F32x4 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  I32x4 bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += __builtin_convertvector(n, I32x4) * (1 << 23);
  F32x4 result;
  std::memcpy(&result, &bits, sizeof result);
  result = x > high ? splat(std::numeric_limits<float>::infinity()) : result;
  result = x < low ? splat(0.0f) : result;
  return x != x ? x : result;
}

inline F32x4 max_nan(F32x4 acc, F32x4 v) { return (v > acc) | (v != v) ? v : acc; }
inline float max_nan(float acc, float v) { return (v > acc || v != v) ? v : acc; }

}  // namespace

float max_f32(const float* x, int64_t n) {
  const float lowest = -std::numeric_limits<float>::infinity();
  F32x4 a = splat(lowest), b = a, c = a, d = a;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a = max_nan(a, load(x + i));
    b = max_nan(b, load(x + i + 4));
    c = max_nan(c, load(x + i + 8));
    d = max_nan(d, load(x + i + 12));
  }
  for (; i + 4 <= n; i += 4) a = max_nan(a, load(x + i));
  a = max_nan(max_nan(a, b), max_nan(c, d));
  float result = lowest;
  for (int k = 0; k < 4; ++k) result = max_nan(result, a[k]);
  for (; i < n; ++i) result = max_nan(result, x[i]);
  return result;
}

float sum_f32(const float* x, int64_t n) {
  F32x4 a = {}, b = {}, c = {}, d = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a += load(x + i);
    b += load(x + i + 4);
    c += load(x + i + 8);
    d += load(x + i + 12);
  }
  for (; i + 4 <= n; i += 4) a += load(x + i);
  float sum = horizontal_sum((a + b) + (c + d));
  for (; i < n; ++i) sum += x[i];
  return sum;
}

float exp_shifted_sum_f32(const float* x, float* y, int64_t n, float shift) {
  F32x4 a = {}, b = {};
  const F32x4 s = splat(shift);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const F32x4 u = exp4(load(x + i) - s);
    const F32x4 v = exp4(load(x + i + 4) - s);
    store(y + i, u);
    store(y + i + 4, v);
    a += u;
    b += v;
  }
  float sum = horizontal_sum(a + b);
  for (; i < n; ++i) {
    y[i] = vector_exp(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

float sum_exp_shifted_f32(const float* x, int64_t n, float shift) {
  F32x4 a = {}, b = {};
  const F32x4 s = splat(shift);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a += exp4(load(x + i) - s);
    b += exp4(load(x + i + 4) - s);
  }
  float sum = horizontal_sum(a + b);
  for (; i < n; ++i) sum += vector_exp(x[i] - shift);
  return sum;
}

void scale_f32(const float* x, float* y, int64_t n, float scale) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
}

void subtract_f32(const float* x, float* y, int64_t n, float shift) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
}

}  // namespace tessera

// The float loops of reduce_util.h, written once with GCC vector extensions over a lane count N and
// instantiated twice: N = 4 for the x86-64 baseline (SSE2) and N = 8 inside functions compiled for AVX2+FMA
// (target attribute), picked once from CPUID. Plain loops would not vectorize: float reductions need
// reassociation, and selects inside unrolled lanes defeat GCC's vectorizer.
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/reduction/reduce_util.h"

// The 32-byte vector helpers are only ever inlined into AVX2 functions; GCC still notes that their (never
// used) out-of-line ABI would differ without AVX.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace tessera {
namespace {

using F32x4 = float __attribute__((vector_size(16)));
using I32x4 = int32_t __attribute__((vector_size(16)));
using F32x8 = float __attribute__((vector_size(32)));
using I32x8 = int32_t __attribute__((vector_size(32)));

template <int N>
struct Lanes;
template <>
struct Lanes<4> {
  using F = F32x4;
  using I = I32x4;
};
template <>
struct Lanes<8> {
  using F = F32x8;
  using I = I32x8;
};

template <typename V>
[[gnu::always_inline]] inline V splat(float v) {
  V r = {};
  return r + v;
}
template <typename V>
[[gnu::always_inline]] inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
[[gnu::always_inline]] inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename V>
[[gnu::always_inline]] inline float horizontal_sum(V v) {
  float s = 0.0f;
  for (size_t k = 0; k < sizeof(V) / sizeof(float); ++k) s += v[k];
  return s;
}
template <typename V>
[[gnu::always_inline]] inline V max_nan(V acc, V v) {
  return (v > acc) | (v != v) ? v : acc;
}
inline float max_nan(float acc, float v) { return (v > acc || v != v) ? v : acc; }

// The polynomial of vector_exp (reduce_util.h), on N lanes.
template <typename V, typename I>
[[gnu::always_inline]] inline V exp_lanes(V x) {
  const V high = splat<V>(88.3762626647949f);
  const V low = splat<V>(-86.0f);
  V c = x < low ? low : x;
  c = c > high ? high : c;
  const V n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  V r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  I bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += __builtin_convertvector(n, I) * (1 << 23);
  V result;
  std::memcpy(&result, &bits, sizeof result);
  result = x > high ? splat<V>(std::numeric_limits<float>::infinity()) : result;
  result = x < low ? splat<V>(0.0f) : result;
  return x != x ? x : result;
}

template <int N>
[[gnu::always_inline]] inline float max_impl(const float* x, int64_t n) {
  using V = typename Lanes<N>::F;
  const float lowest = -std::numeric_limits<float>::infinity();
  V a = splat<V>(lowest), b = a;
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    a = max_nan(a, load<V>(x + i));
    b = max_nan(b, load<V>(x + i + N));
  }
  a = max_nan(a, b);
  float result = lowest;
  for (int k = 0; k < N; ++k) result = max_nan(result, a[k]);
  for (; i < n; ++i) result = max_nan(result, x[i]);
  return result;
}

template <int N>
[[gnu::always_inline]] inline float sum_impl(const float* x, int64_t n) {
  using V = typename Lanes<N>::F;
  V a = {}, b = {}, c = {}, d = {};
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a += load<V>(x + i);
    b += load<V>(x + i + N);
    c += load<V>(x + i + 2 * N);
    d += load<V>(x + i + 3 * N);
  }
  for (; i + N <= n; i += N) a += load<V>(x + i);
  float sum = horizontal_sum((a + b) + (c + d));
  for (; i < n; ++i) sum += x[i];
  return sum;
}

// y[i] = exp(x[i] - shift) (stored when `store_terms`), returning their sum.
template <int N, bool kStore>
[[gnu::always_inline]] inline float exp_sum_impl(const float* x, float* y, int64_t n, float shift) {
  using V = typename Lanes<N>::F;
  using I = typename Lanes<N>::I;
  V a = {}, b = {};
  const V s = splat<V>(shift);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const V u = exp_lanes<V, I>(load<V>(x + i) - s);
    const V v = exp_lanes<V, I>(load<V>(x + i + N) - s);
    if constexpr (kStore) {
      store(y + i, u);
      store(y + i + N, v);
    }
    a += u;
    b += v;
  }
  float sum = horizontal_sum(a + b);
  for (; i < n; ++i) {
    const float e = vector_exp(x[i] - shift);
    if constexpr (kStore) y[i] = e;
    sum += e;
  }
  return sum;
}

template <int N>
[[gnu::always_inline]] inline void softmax_row_impl(const float* x, float* y, int64_t n, bool log) {
  const float m = max_impl<N>(x, n);
  if (!log) {
    const float scale = 1.0f / exp_sum_impl<N, true>(x, y, n, m);
    for (int64_t i = 0; i < n; ++i) y[i] *= scale;
  } else {
    const float shift = m + std::log(exp_sum_impl<N, false>(x, nullptr, n, m));
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
  }
}

// Softmax along the n rows of an [n, inner] block, one column (x[j], x[j + inner], ...) at a time.
inline void softmax_column(const float* x, float* y, int64_t n, int64_t inner, bool log) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = max_nan(m, x[i * inner]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += vector_exp(x[i * inner] - m);
  const float shift = m + std::log(sum);
  const float scale = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) {
    y[i * inner] = log ? x[i * inner] - shift : vector_exp(x[i * inner] - m) * scale;
  }
}

// Softmax along the n rows of an [n, inner] block, N columns at a time.
template <int N>
[[gnu::always_inline]] inline void softmax_block_impl(const float* x, float* y, int64_t n, int64_t inner, bool log) {
  using V = typename Lanes<N>::F;
  using I = typename Lanes<N>::I;
  int64_t j = 0;
  for (; j + N <= inner; j += N) {
    const float* xc = x + j;
    float* yc = y + j;
    V m = splat<V>(-std::numeric_limits<float>::infinity());
    for (int64_t i = 0; i < n; ++i) m = max_nan(m, load<V>(xc + i * inner));
    V sum = {};
    for (int64_t i = 0; i < n; ++i) {
      const V e = exp_lanes<V, I>(load<V>(xc + i * inner) - m);
      if (!log) store(yc + i * inner, e);
      sum += e;
    }
    if (!log) {
      const V scale = 1.0f / sum;
      for (int64_t i = 0; i < n; ++i) store(yc + i * inner, load<V>(yc + i * inner) * scale);
    } else {
      V shift;
      for (int k = 0; k < N; ++k) shift[k] = m[k] + std::log(sum[k]);
      for (int64_t i = 0; i < n; ++i) store(yc + i * inner, load<V>(xc + i * inner) - shift);
    }
  }
  for (; j < inner; ++j) softmax_column(x + j, y + j, n, inner, log);
}

// One implementation per ISA level, chosen once.
struct F32Kernels {
  float (*max)(const float*, int64_t);
  float (*sum)(const float*, int64_t);
  float (*exp_sum_store)(const float*, float*, int64_t, float);
  float (*exp_sum)(const float*, float*, int64_t, float);
  void (*softmax_row)(const float*, float*, int64_t, bool);
  void (*softmax_block)(const float*, float*, int64_t, int64_t, bool);
};

const F32Kernels kBaseline = {
    [](const float* x, int64_t n) { return max_impl<4>(x, n); },
    [](const float* x, int64_t n) { return sum_impl<4>(x, n); },
    [](const float* x, float* y, int64_t n, float s) { return exp_sum_impl<4, true>(x, y, n, s); },
    [](const float* x, float* y, int64_t n, float s) { return exp_sum_impl<4, false>(x, y, n, s); },
    [](const float* x, float* y, int64_t n, bool log) { softmax_row_impl<4>(x, y, n, log); },
    [](const float* x, float* y, int64_t n, int64_t inner, bool log) { softmax_block_impl<4>(x, y, n, inner, log); },
};

#if defined(__x86_64__)
[[gnu::target("avx2,fma")]] float max_avx2(const float* x, int64_t n) { return max_impl<8>(x, n); }
[[gnu::target("avx2,fma")]] float sum_avx2(const float* x, int64_t n) { return sum_impl<8>(x, n); }
[[gnu::target("avx2,fma")]] float exp_sum_store_avx2(const float* x, float* y, int64_t n, float s) {
  return exp_sum_impl<8, true>(x, y, n, s);
}
[[gnu::target("avx2,fma")]] float exp_sum_avx2(const float* x, float* y, int64_t n, float s) {
  return exp_sum_impl<8, false>(x, y, n, s);
}
[[gnu::target("avx2,fma")]] void softmax_row_avx2(const float* x, float* y, int64_t n, bool log) {
  softmax_row_impl<8>(x, y, n, log);
}
[[gnu::target("avx2,fma")]] void softmax_block_avx2(const float* x, float* y, int64_t n, int64_t inner, bool log) {
  softmax_block_impl<8>(x, y, n, inner, log);
}
const F32Kernels kAvx2 = {max_avx2, sum_avx2, exp_sum_store_avx2, exp_sum_avx2, softmax_row_avx2, softmax_block_avx2};
#endif

const F32Kernels& kernels() {
#if defined(__x86_64__)
  static const F32Kernels& chosen = []() -> const F32Kernels& {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? kAvx2 : kBaseline;
  }();
  return chosen;
#else
  return kBaseline;
#endif
}

}  // namespace

float max_f32(const float* x, int64_t n) { return kernels().max(x, n); }
float sum_f32(const float* x, int64_t n) { return kernels().sum(x, n); }
float exp_shifted_sum_f32(const float* x, float* y, int64_t n, float shift) {
  return kernels().exp_sum_store(x, y, n, shift);
}
float sum_exp_shifted_f32(const float* x, int64_t n, float shift) { return kernels().exp_sum(x, nullptr, n, shift); }
void softmax_row_f32(const float* x, float* y, int64_t n, bool log) { kernels().softmax_row(x, y, n, log); }
void softmax_block_f32(const float* x, float* y, int64_t n, int64_t inner, bool log) {
  kernels().softmax_block(x, y, n, inner, log);
}

}  // namespace tessera

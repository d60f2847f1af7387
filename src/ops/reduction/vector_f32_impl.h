// The float loops of reduce_util.h (max, sum, exp-and-sum, Softmax rows and column blocks), written once with
// GCC vector extensions over a lane count N. vector_f32.cpp instantiates them for the x86-64 baseline (N = 4) and,
// in functions with the avx2 target attribute, for AVX2+FMA (N = 8); vector_f32-avx512.cpp, compiled with the
// AVX-512 flags, for N = 16. Plain loops would not vectorize: float reductions need reassociation, and selects
// inside unrolled lanes defeat GCC's vectorizer. (A 16-lane select on two comparisons inside a function compiled
// without AVX-512 is lowered lane by lane even once inlined into AVX-512 code, hence the separate file.)
//
// Everything here has internal linkage (an unnamed namespace), as in kernels/f32-gemm/f32-gemm-ukernel-impl.h: no
// copy compiled with one file's flags can be picked by the linker for another. Include only from those two files.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/exp_cephes.h"
#include "ops/reduction/vector_f32_set.h"

// The 32- and 64-byte vector helpers are only ever inlined into AVX2 / AVX-512 functions; GCC still notes that
// their (never used) out-of-line ABI would differ without AVX.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace tessera {
namespace {

using F32x4 = float __attribute__((vector_size(16)));
using I32x4 = int32_t __attribute__((vector_size(16)));
using F32x8 = float __attribute__((vector_size(32)));
using I32x8 = int32_t __attribute__((vector_size(32)));
using F32x16 = float __attribute__((vector_size(64)));
using I32x16 = int32_t __attribute__((vector_size(64)));

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
template <>
struct Lanes<16> {
  using F = F32x16;
  using I = I32x16;
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

// The largest lane of v (NaN if any lane is NaN), folding halves: a few vector steps instead of a chain of
// scalar compares over 16 lanes, which GCC turns into branches. The maximum does not depend on the order.
[[gnu::always_inline]] inline float horizontal_max(F32x4 v) {
  return max_nan(max_nan(v[0], v[1]), max_nan(v[2], v[3]));
}
template <typename Half, typename V>
[[gnu::always_inline]] inline Half max_of_halves(V v) {
  Half lo, hi;
  std::memcpy(&lo, &v, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
  return max_nan(lo, hi);
}
[[gnu::always_inline]] inline float horizontal_max(F32x8 v) { return horizontal_max(max_of_halves<F32x4>(v)); }
[[gnu::always_inline]] inline float horizontal_max(F32x16 v) { return horizontal_max(max_of_halves<F32x8>(v)); }

// The polynomial of vector_exp (reduce_util.h), on N lanes. kNonPositive: the caller's x is never above 0 (x minus
// its row's maximum, as Softmax and attention pass it; or NaN), so the clamp to `high` and the overflow to +inf,
// which only such x would take, are left out: the same values in two selects fewer per register.
template <typename V, typename I, bool kNonPositive = false>
[[gnu::always_inline]] inline V exp_lanes(V x) {
  const V high = splat<V>(88.3762626647949f);
  const V low = splat<V>(-86.0f);
  V c = x < low ? low : x;
  if constexpr (!kNonPositive) c = c > high ? high : c;
  const V n = (c * exp_cephes::kLog2e + 12582912.0f) - 12582912.0f;
  // exp_cephes' steps spelled out: its templates, not compiled for this function's target, would return the
  // vector by value across an ABI boundary (GCC's -Wpsabi) if not inlined.
  V r = c - n * exp_cephes::kLn2Hi;
  r = r - n * exp_cephes::kLn2Lo;
  V p = r * exp_cephes::kPoly[0] + exp_cephes::kPoly[1];
#pragma GCC unroll 6
  for (int i = 2; i < 6; ++i) p = p * r + exp_cephes::kPoly[i];
  p = p * r * r + r + 1.0f;
  I bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += __builtin_convertvector(n, I) * (1 << 23);
  V result;
  std::memcpy(&result, &bits, sizeof result);
  if constexpr (!kNonPositive) result = x > high ? splat<V>(std::numeric_limits<float>::infinity()) : result;
  result = x < low ? splat<V>(0.0f) : result;
  return x != x ? x : result;
}

// exp_lanes on one value: the tails of the loops below compute exactly what their vector lanes would.
[[gnu::always_inline]] inline float exp_scalar(float x) { return exp_lanes<F32x4, I32x4>(splat<F32x4>(x))[0]; }

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
  float result = horizontal_max(max_nan(a, b));
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
    // With the terms stored (Softmax rows, attention), the shift is the row's maximum: x - s <= 0. The sum alone
    // (ReduceLogSumExp) may take a shift of 0 below an infinite maximum, so it keeps the whole range.
    const V u = exp_lanes<V, I, kStore>(load<V>(x + i) - s);
    const V v = exp_lanes<V, I, kStore>(load<V>(x + i + N) - s);
    if constexpr (kStore) {
      store(y + i, u);
      store(y + i + N, v);
    }
    a += u;
    b += v;
  }
  float sum = horizontal_sum(a + b);
  for (; i < n; ++i) {
    const float e = exp_scalar(x[i] - shift);
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
  for (int64_t i = 0; i < n; ++i) sum += exp_scalar(x[i * inner] - m);
  const float shift = m + std::log(sum);
  const float scale = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) {
    y[i * inner] = log ? x[i * inner] - shift : exp_scalar(x[i * inner] - m) * scale;
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
      const V e = exp_lanes<V, I, true>(load<V>(xc + i * inner) - m);  // m is the column's maximum
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

// The table of the loops on N lanes.
template <int N>
constexpr VectorF32Set make_vector_f32_set(const char* name) {
  return VectorF32Set{
      name,
      [](const float* x, int64_t n) { return max_impl<N>(x, n); },
      [](const float* x, int64_t n) { return sum_impl<N>(x, n); },
      [](const float* x, float* y, int64_t n, float s) { return exp_sum_impl<N, true>(x, y, n, s); },
      [](const float* x, float* y, int64_t n, float s) { return exp_sum_impl<N, false>(x, y, n, s); },
      [](const float* x, float* y, int64_t n, bool log) { softmax_row_impl<N>(x, y, n, log); },
      [](const float* x, float* y, int64_t n, int64_t inner, bool log) { softmax_block_impl<N>(x, y, n, inner, log); },
  };
}

}  // namespace
}  // namespace tessera

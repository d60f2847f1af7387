// Helpers shared by the reduction family (Reduce*, ArgMax/ArgMin, CumSum, TopK, Softmax and friends,
// MeanVarianceNormalization): axis handling, the layout plan of a multi-axis reduction, shape inference,
// element conversions to the compute type, and small vectorizable float loops.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/parallel.h"
#include "base/tensor.h"
#include "ir/shape_inference.h"
#include "kernels/exp_cephes.h"

namespace tessera {

// Normalizes `axes` (each in [-rank, rank-1]) into [0, rank); throws kInvalidArgument on an axis out of
// range or given twice, naming `what` (e.g. "input 'data' float[2,3]").
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const std::string& what);

// A tensor split around one axis: outer (dims before), axis (its size), inner (dims after).
struct AxisSplit {
  int64_t outer = 1;
  int64_t axis = 1;
  int64_t inner = 1;
};
// Splits `shape` around `axis` (already normalized). A rank-0 shape gives {1, 1, 1}.
AxisSplit split_at_axis(const std::vector<int64_t>& shape, int64_t axis);

// The shape of a reduction's output: reduced axes become 1 (keepdims) or are dropped.
std::vector<int64_t> reduced_shape(const std::vector<int64_t>& shape, const std::vector<bool>& reduced, bool keepdims);

// A group of adjacent input axes merged into one: its size and its stride (in elements) in the input.
struct ReduceGroup {
  int64_t dim = 1;
  int64_t stride = 1;
};

// How to walk a multi-axis reduction: adjacent axes of the same kind are merged and size-1 axes dropped,
// leaving an innermost contiguous group that is either reduced (each output reduces rows of `inner`
// contiguous elements) or kept (`inner` adjacent outputs are accumulated together, element by element).
struct ReducePlan {
  std::vector<ReduceGroup> kept_outer;  // kept groups other than the innermost, outermost first
  std::vector<ReduceGroup> reduced;     // reduced groups other than the innermost, outermost first
  int64_t inner = 1;
  bool inner_reduced = false;
  int64_t output_count = 1;
  int64_t reduce_count = 1;  // input elements combined into each output
};
ReducePlan make_reduce_plan(const std::vector<int64_t>& shape, const std::vector<bool>& reduced);

// Calls fn(offset) for every combination of indices over `groups` (row-major), offset = sum(index * stride).
// An empty list yields one call with offset 0; a zero-sized group yields none.
template <typename F>
void for_each_group_offset(const std::vector<ReduceGroup>& groups, F&& fn) {
  const size_t n = groups.size();
  for (const ReduceGroup& g : groups) {
    if (g.dim == 0) return;
  }
  int64_t index[16] = {};
  std::vector<int64_t> big_index;
  int64_t* idx = index;
  if (n > 16) {
    big_index.assign(n, 0);
    idx = big_index.data();
  }
  int64_t offset = 0;
  while (true) {
    fn(offset);
    size_t k = n;
    while (k-- > 0) {
      ++idx[k];
      offset += groups[k].stride;
      if (idx[k] < groups[k].dim) break;
      offset -= groups[k].stride * groups[k].dim;
      idx[k] = 0;
    }
    if (k == static_cast<size_t>(-1)) return;
  }
}

// The input offset of the row-major index `linear` over `groups`.
int64_t group_offset(const std::vector<ReduceGroup>& groups, int64_t linear);

// Runs fn over [0, count) on the pool when `work` (a rough element count) is large enough to pay for it.
void maybe_parallel_for(Parallelism& parallelism, int64_t count, int64_t work,
                        const std::function<void(int64_t, int64_t)>& fn);

// Compute types: narrow floats are computed in float, other types as themselves.
template <typename T>
using FloatCompute = std::conditional_t<kIsNarrowFloat<T>, float, T>;

// Converts an element to a floating compute type C (float or double).
template <typename C, typename T>
inline C to_compute(const T& v) {
  if constexpr (std::is_same_v<T, Float16>)
    return static_cast<C>(half_to_float(v.bits));
  else if constexpr (std::is_same_v<T, BFloat16>)
    return static_cast<C>(bfloat16_to_float(v.bits));
  else if constexpr (kIsNarrowFloat<T> || kIsSubByteInt<T>)
    return static_cast<C>(element_to_double(v));
  else
    return static_cast<C>(v);
}

// Converts a compute value back to element type T.
template <typename T, typename C>
inline T from_compute(C v) {
  if constexpr (std::is_same_v<T, Float16>)
    return Float16{float_to_half(static_cast<float>(v))};
  else if constexpr (std::is_same_v<T, BFloat16>)
    return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  else if constexpr (kIsNarrowFloat<T> || kIsSubByteInt<T>)
    return element_from_double<T>(static_cast<double>(v));
  else if constexpr (std::is_same_v<T, bool>)
    return v != C{};
  else
    return static_cast<T>(v);
}

// True for the float element types of the Softmax family (float16, bfloat16, float, double).
template <typename T>
inline constexpr bool kIsSoftmaxType =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

// True for the plain numeric types plus float16 and bfloat16 (what most reductions accept).
template <typename T>
inline constexpr bool kIsReduceNumeric = kIsPlainNumber<T> || std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

// exp(x) for float, written so that loops over it vectorize (Cephes polynomial, ~1 ulp on [-86, 88.37]);
// larger arguments give +inf, smaller ones 0 (exp(-86) is 4e-38), NaN stays NaN.
inline float vector_exp(float x) {
  constexpr float kHigh = 88.3762626647949f;
  constexpr float kLow = -86.0f;  // keeps 2^n a normal float below
  // NaN takes the kLow path (its comparisons are false), so the float -> int conversion below always sees a
  // finite n (converting NaN is undefined behaviour); the last line returns the NaN.
  const float clamped = x >= kLow ? (x > kHigh ? kHigh : x) : kLow;
  // Round to nearest with the 1.5*2^23 trick: it vectorizes on SSE2 where nearbyint does not.
  const float shifted = clamped * exp_cephes::kLog2e + 12582912.0f;
  const float n = shifted - 12582912.0f;
  float p = exp_cephes::exp_reduced(exp_cephes::reduce(clamped, n));
  int32_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += static_cast<int32_t>(n) * (1 << 23);
  float result;
  std::memcpy(&result, &bits, sizeof result);
  // Selects rather than branches, so the loop stays vectorizable.
  result = x > kHigh ? std::numeric_limits<float>::infinity() : result;
  result = x < kLow ? 0.0f : result;
  return x != x ? x : result;
}

// Vectorized float loops (vector_f32.cpp: SSE2, AVX2+FMA or AVX-512, the best the CPU has). x and y may alias.
// Largest element of x[0..n) (NaN if any is NaN); -inf for n == 0.
float max_f32(const float* x, int64_t n);
// Sum of x[0..n).
float sum_f32(const float* x, int64_t n);
// y[i] = exp(x[i] - shift); returns the sum of the y[i]. shift must be at least every x[i] (the row's maximum; or
// make x[i] - shift NaN): larger differences are not clamped to +inf as vector_exp's are.
float exp_shifted_sum_f32(const float* x, float* y, int64_t n, float shift);
// Sum of exp(x[i] - shift), without storing the terms.
float sum_exp_shifted_f32(const float* x, int64_t n, float shift);
// Softmax (or, with `log`, LogSoftmax) of the contiguous row x[0..n), n > 0, into y.
void softmax_row_f32(const float* x, float* y, int64_t n, bool log);
// Softmax (or LogSoftmax) along the rows of the row-major [n, inner] block x, for each of its inner columns.
void softmax_block_f32(const float* x, float* y, int64_t n, int64_t inner, bool log);
// The variants of the loops above this CPU runs ("f32_vector__avx512", ...), the CPUID choice first; and the
// test hook that selects one ("" for the CPUID choice; false for names not runnable here). Not thread-safe.
std::vector<std::string> vector_f32_variant_names();
bool vector_f32_select_variant(const std::string& name);

// Shape inference for ops whose output 0 keeps input 0's type and rank but whose dims along a reduction are
// not known statically: rank and dtype only.
void infer_rank_only(InferenceContext& context, DType dtype, size_t rank);

}  // namespace tessera

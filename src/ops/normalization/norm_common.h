// Helpers shared by the normalization family (BatchNormalization, InstanceNormalization, LayerNormalization,
// GroupNormalization, LRN, Dropout): dtype checks, parameter vectors, and mean/variance of contiguous runs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "base/tensor.h"

namespace tessera {

// True for float, double, float16 and bfloat16: the dtypes the normalization kernels accept.
bool is_norm_float(DType dtype);

// Throws kInvalidArgument unless `tensor` has one of the is_norm_float dtypes, naming op and input.
void check_norm_float(const Tensor& tensor, const char* op, const char* input_name);

// The elements of a float-typed tensor (any is_norm_float dtype) converted to T (float or double).
template <typename T>
std::vector<T> float_tensor_values(const Tensor& tensor);

// Mean and population variance of n contiguous values, accumulated in double (two passes: the second sums
// squared deviations, which keeps the variance exact-ish when the mean is large).
struct MeanVariance {
  double mean = 0;
  double variance = 0;
};
template <typename T>
MeanVariance mean_variance(const T* x, int64_t n) {
  MeanVariance mv;
  if (n <= 0) return mv;
  double sum[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    sum[0] += x[i];
    sum[1] += x[i + 1];
    sum[2] += x[i + 2];
    sum[3] += x[i + 3];
  }
  for (; i < n; ++i) sum[0] += x[i];
  mv.mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / static_cast<double>(n);
  double sq[4] = {0, 0, 0, 0};
  const T m = static_cast<T>(mv.mean);
  for (i = 0; i + 4 <= n; i += 4) {
    const double d0 = x[i] - m, d1 = x[i + 1] - m, d2 = x[i + 2] - m, d3 = x[i + 3] - m;
    sq[0] += d0 * d0;
    sq[1] += d1 * d1;
    sq[2] += d2 * d2;
    sq[3] += d3 * d3;
  }
  for (; i < n; ++i) {
    const double d = x[i] - m;
    sq[0] += d * d;
  }
  // The mean was rounded to T for the second pass; correct the variance for that shift.
  const double shift = mv.mean - static_cast<double>(m);
  mv.variance = std::max(((sq[0] + sq[1]) + (sq[2] + sq[3])) / static_cast<double>(n) - shift * shift, 0.0);
  return mv;
}

// y[i] = x[i] * a + b over n contiguous values (the affine tail of every normalization).
template <typename T>
void affine_run(const T* x, T* y, int64_t n, T a, T b) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

}  // namespace tessera

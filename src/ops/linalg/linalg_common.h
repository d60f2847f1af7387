// Helpers shared by the linear-algebra and convolution operators: float16/bfloat16 staging through float32 and
// rounding back, NumPy matmul shape rules, and plain loops for the element types the f32 GEMM does not cover.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/tensor.h"
#include "ir/shape_inference.h"

namespace tessera::linalg {

// True for the dtypes computed by widening to float32 (float16, bfloat16).
bool is_staged_float(DType dtype);
// A float32 copy of a float16/bfloat16 tensor; a float32 tensor is returned as is (shared storage).
Tensor to_float32(const Tensor& tensor);
// A tensor of `dtype` (float16, bfloat16 or float) holding `values` rounded to that type.
Tensor from_float32(const Tensor& values, DType dtype);
// Writes the float32 `values` rounded to out's dtype (float16 or bfloat16; nearest even) into `out`, which has
// values' element count (bfloat16 through the bf16-gemm family's vectorised rounding loop).
void round_into(const Tensor& values, Tensor& out);

// The shapes of a NumPy matmul of a [..., M, K] by b [..., K, N] (1-D operands promoted and the promoted axis
// dropped from the output, as numpy.matmul does).
struct MatMulDims {
  int64_t m = 1, k = 1, n = 1;
  std::vector<int64_t> batch;        // broadcast batch dims of the output
  std::vector<int64_t> a_offsets;    // per output batch index: element offset of A's matrix
  std::vector<int64_t> b_offsets;    // likewise for B
  std::vector<int64_t> output_shape;
  bool b_is_shared = false;          // every batch uses the same B matrix (B has no batch or all-1 batch dims)
  int64_t batch_count() const { return static_cast<int64_t>(a_offsets.size()); }
};

// Computes MatMulDims; throws kInvalidArgument naming both shapes when K differs, batch dims do not
// broadcast, or an operand is a scalar.
MatMulDims matmul_dims(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape);

// Shape inference for MatMul-like ops: output 0 gets `out_dtype` (kUndefined: input 0's dtype) and the NumPy
// matmul shape of inputs `a_index` and `b_index` where their ranks are known.
void infer_matmul_output(InferenceContext& context, size_t a_index, size_t b_index, DType out_dtype);

// The unsigned counterpart of an integer type (wrap-around arithmetic), T itself for floating types.
template <typename T>
using WrapType = typename std::conditional_t<std::is_integral_v<T>, std::make_unsigned<T>, std::type_identity<T>>::type;

// c[m x n] = a[m x k] * b[k x n] for row-major contiguous matrices, in T (integers wrap around).
// Plain loops in i-p-j order so the inner loop runs over contiguous rows of b and c.
template <typename T>
void matmul_plain(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  using W = WrapType<T>;
  for (int64_t i = 0; i < m; ++i) {
    W* row = reinterpret_cast<W*>(c + i * n);
    for (int64_t j = 0; j < n; ++j) row[j] = W{};
    for (int64_t p = 0; p < k; ++p) {
      const W av = static_cast<W>(a[i * k + p]);
      const T* brow = b + p * n;
      for (int64_t j = 0; j < n; ++j) row[j] = static_cast<W>(row[j] + av * static_cast<W>(brow[j]));
    }
  }
}

}  // namespace tessera::linalg

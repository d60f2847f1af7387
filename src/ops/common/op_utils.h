// Helpers shared by operator implementations: axes, broadcasting over concrete shapes, shape inference helpers.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "ir/shape_inference.h"
#include "ops/kernel.h"

namespace tessera {

// Maps a possibly negative axis into [0, rank); throws kInvalidArgument naming the value otherwise.
int64_t normalize_axis(int64_t axis, int64_t rank);

// The NumPy-broadcast shape of a and b; throws kInvalidArgument showing both shapes when incompatible.
std::vector<int64_t> broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// Strides (in elements) to read a tensor of shape `in` while walking `out` in row-major order:
// aligned to out's rank, 0 along broadcast dimensions.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out);

// Row-major contiguous strides of `shape`.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);

// Largest value a window attribute (kernel_shape, strides, dilations, pads, output_padding, output_shape) may
// take: below 2^31, so kernel extents ((k - 1) * d + 1) and padded lengths (in + pad_begin + pad_end) computed from
// them cannot overflow int64.
inline constexpr int64_t kMaxWindowAttribute = (int64_t{1} << 31) - 1;
// Longest spatial axis a windowed op (Conv, pooling, Col2Im) accepts: a tensor with elements cannot come near it,
// one with a zero dim could; with window attributes below 2^31 the geometry formulas then stay inside int64.
inline constexpr int64_t kMaxSpatialLength = int64_t{1} << 32;

// Checks every value of the window attribute `name` of `node` lies in [minimum, kMaxWindowAttribute]; throws
// kInvalidModel naming the node, its op, the attribute and the value otherwise. Called at kernel creation.
void check_window_attribute(const Node& node, const char* name, const std::vector<int64_t>& values, int64_t minimum);

// Reads an integer tensor (int32 or int64, any shape) into a vector; throws for other dtypes.
std::vector<int64_t> tensor_to_int64s(const Tensor& tensor);

// Walks every index of `out_shape` in row-major order and calls fn(out_offset, offset_0, offset_1, ...) with
// the matching element offset into each input (given by its broadcast strides).
template <size_t N, typename F>
void for_each_broadcast(const std::vector<int64_t>& out_shape, const std::vector<int64_t> (&strides)[N], F&& fn) {
  const size_t rank = out_shape.size();
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  if (total == 0) return;
  std::vector<int64_t> index(rank, 0);
  int64_t offsets[N] = {};
  for (int64_t out = 0; out < total; ++out) {
    fn(out, offsets);
    for (size_t axis = rank; axis-- > 0;) {
      ++index[axis];
      for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][axis];
      if (index[axis] < out_shape[axis]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][axis] * index[axis];
      index[axis] = 0;
    }
  }
}

// Inference helpers usable as OpRegistration::infer.
void infer_same_as_input(InferenceContext& context);       // output 0 = type of input 0
void infer_broadcast_inputs(InferenceContext& context);    // output 0 = broadcast of all inputs, dtype of input 0
void infer_broadcast_to_bool(InferenceContext& context);   // as above with bool output (comparisons)

}  // namespace tessera

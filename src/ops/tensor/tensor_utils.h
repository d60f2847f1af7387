// Helpers shared by the tensor-manipulation operators (src/ops/tensor/): dtype-generic element movement by
// element size, strided copies (the engine behind Transpose, Slice, Expand, Tile, DepthToSpace), index
// validation, and shape-inference helpers over symbolic dims.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/parallel.h"
#include "base/tensor.h"
#include "ir/shape_inference.h"

namespace tessera::tensor_ops {

// A 16-byte trivially copyable element (complex128).
struct Bytes16 {
  uint64_t lo = 0;
  uint64_t hi = 0;
};

// Calls f(TypeTag<U>{}) where U is a trivially copyable type of the same size as one element of `dtype`
// (uint8_t, uint16_t, uint32_t, uint64_t or Bytes16), or std::string for string tensors. Ops that only move
// elements use this instead of visit_dtype: five instantiations cover every dtype.
template <typename F>
decltype(auto) visit_element_bytes(DType dtype, F&& f) {
  if (dtype == DType::kString) return f(TypeTag<std::string>{});
  switch (dtype_size(dtype)) {
    case 1:
      return f(TypeTag<uint8_t>{});
    case 2:
      return f(TypeTag<uint16_t>{});
    case 4:
      return f(TypeTag<uint32_t>{});
    case 8:
      return f(TypeTag<uint64_t>{});
    case 16:
      return f(TypeTag<Bytes16>{});
    default:
      break;
  }
  fail(ErrorCode::kUnsupported, "cannot move elements of dtype ", dtype_name(dtype));
}

// Copies `count` elements of `dtype` from `src` to `dst` (memcpy, or std::string assignment for strings).
void copy_elements(DType dtype, void* dst, const void* src, int64_t count);

// Copies the strided view of `src` described by `shape` and `src_strides` (in elements; negative for
// reversed axes, 0 for broadcast ones) into `dst` with `dst_strides`. `src` and `dst` point at the element
// of index (0, ..., 0). Contiguous inner runs are copied as blocks and transposed planes in cache tiles;
// large copies are split over `parallelism`. dst must not overlap src, and dst_strides must not alias
// two indices onto one element.
void copy_strided(DType dtype, void* dst, const std::vector<int64_t>& dst_strides, const void* src,
                  const std::vector<int64_t>& src_strides, const std::vector<int64_t>& shape, Parallelism& parallelism);

// copy_strided into a freshly allocated, row-major contiguous `dst` of `shape`.
void copy_strided_to_contiguous(DType dtype, void* dst, const void* src, const std::vector<int64_t>& src_strides,
                                const std::vector<int64_t>& shape, Parallelism& parallelism);

// Runs fn(begin, end) over [0, count): in parallel when the work (count * bytes_per_item) is large enough to
// pay for the dispatch, else on the caller.
void parallel_over(Parallelism& parallelism, int64_t count, int64_t bytes_per_item,
                   const std::function<void(int64_t, int64_t)>& fn);

// Maps `index` (negative counts from the end) into [0, dim); throws kInvalidArgument naming `what`, the index
// and the dimension when it is out of range.
inline int64_t wrap_index(int64_t index, int64_t dim, const char* what) {
  const int64_t wrapped = index < 0 ? index + dim : index;
  if (wrapped < 0 || wrapped >= dim) {
    fail(ErrorCode::kInvalidArgument, what, " index ", index, " is out of range for a dimension of size ", dim,
         " (valid: [", -dim, ", ", dim - 1, "])");
  }
  return wrapped;
}

// Reads an int32/int64 tensor as int64 values, naming `what` in the error for other dtypes.
std::vector<int64_t> read_ints(const Tensor& tensor, const char* what);

// Reads every element of an index tensor (any integer dtype) as int64.
std::vector<int64_t> read_indices(const Tensor& tensor, const char* what);

// For every element of an indices tensor of `index_shape` holding `idx`, the element offset into a tensor of
// `data_shape` it selects along `axis` (its other coordinates are its own), as GatherElements and
// ScatterElements use it. Validates ranks, extents and indices, naming `op`.
std::vector<int64_t> element_offsets(const std::vector<int64_t>& data_shape, const std::vector<int64_t>& index_shape,
                                     const std::vector<int64_t>& idx, size_t axis, const char* op);

// Normalizes and validates a list of axes for `rank`; throws on out-of-range or repeated axes.
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what);

// The shape of `tensor` as symbolic dims (all known).
std::vector<Dim> dims_of(const std::vector<int64_t>& shape);

// Input i's type when it is a tensor whose rank is known, else nullptr.
const TypeInfo* ranked_input(const InferenceContext& context, size_t i);

// Input i's constant value read as int64s, when it is a constant integer tensor.
std::optional<std::vector<int64_t>> constant_ints(const InferenceContext& context, size_t i);

// Product of shape[begin, end).
int64_t product(const std::vector<int64_t>& shape, size_t begin, size_t end);

}  // namespace tessera::tensor_ops

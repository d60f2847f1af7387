// Slicing a tensor along one axis and stacking slices back, for Scan, Loop and the sequence ops.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"

namespace tessera {

// The `index`-th slice of `tensor` along `axis` (that axis removed from the shape), copied.
Tensor take_slice(const Tensor& tensor, int64_t axis, int64_t index);

// Stacks equally shaped tensors along a new axis `axis` of the result. `element_shape` and `dtype` give the
// result's shape when `slices` is empty.
Tensor stack_slices(const std::vector<Tensor>& slices, int64_t axis, DType dtype, const std::vector<int64_t>& element_shape);

// Copies `count` elements (any dtype, strings included) from src[src_offset] to dst[dst_offset].
void copy_elements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count);

}  // namespace tessera

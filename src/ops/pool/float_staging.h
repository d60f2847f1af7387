// Float staging for the nn operator families (pool, normalization, resize): their kernels compute float16 and
// bfloat16 in float32, so a narrow input is widened once, computed on, and the result narrowed once.
#pragma once

#include <vector>

#include "base/tensor.h"
#include "ops/kernel.h"

namespace tessera {

// True for float16 and bfloat16, the dtypes these families compute through float32.
bool is_staged_float(DType dtype);

// `tensor` as float32: a widened copy for float16/bfloat16, the tensor itself otherwise (shared storage).
Tensor widen_to_float(const Tensor& tensor);

// A float32 `tensor` converted to `dtype` (float16/bfloat16 round to nearest even); float32 passes through.
Tensor narrow_from_float(const Tensor& tensor, DType dtype);

// The tensor a kernel that computes in float or double writes output i into: the allocated output itself for
// a dtype that is not staged, else a float32 scratch of the same shape; zero-filled unless `writes_every_element`
// (kernels that write each output element, where clearing a large recycled buffer first cost 5% of a MaxPool).
Tensor staged_output(KernelContext& ctx, size_t i, DType dtype, const std::vector<int64_t>& shape,
                     bool writes_every_element = false);

// Completes staged_output: narrows the float32 scratch `computed` into output i (nothing to do when `dtype` is
// not staged).
void finish_staged_output(KernelContext& ctx, size_t i, const Tensor& computed, DType dtype);

}  // namespace tessera

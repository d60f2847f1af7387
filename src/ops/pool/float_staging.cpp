#include "ops/pool/float_staging.h"

#include "base/float_types.h"

namespace tessera {

bool is_staged_float(DType dtype) { return dtype == DType::kFloat16 || dtype == DType::kBFloat16; }

Tensor widen_to_float(const Tensor& tensor) {
  if (!is_staged_float(tensor.dtype())) return tensor;
  Tensor out(DType::kFloat, tensor.shape());
  const uint16_t* in = static_cast<const uint16_t*>(tensor.raw_data());
  float* dst = out.data<float>();
  const int64_t n = tensor.element_count();
  if (tensor.dtype() == DType::kFloat16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(in[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16_to_float(in[i]);
  }
  return out;
}

Tensor narrow_from_float(const Tensor& tensor, DType dtype) {
  if (!is_staged_float(dtype)) return tensor;
  Tensor out(dtype, tensor.shape());
  const float* in = tensor.data<float>();
  uint16_t* dst = static_cast<uint16_t*>(out.raw_data());
  const int64_t n = tensor.element_count();
  if (dtype == DType::kFloat16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = float_to_half(in[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = float_to_bfloat16(in[i]);
  }
  return out;
}

Tensor staged_output(KernelContext& ctx, size_t i, DType dtype, const std::vector<int64_t>& shape,
                     bool writes_every_element) {
  if (!is_staged_float(dtype)) {
    return writes_every_element ? ctx.allocate_output_uninitialized(i, dtype, shape)
                                : ctx.allocate_output(i, dtype, shape);
  }
  return writes_every_element ? Tensor::uninitialized(DType::kFloat, shape) : Tensor(DType::kFloat, shape);
}

void finish_staged_output(KernelContext& ctx, size_t i, const Tensor& computed, DType dtype) {
  if (is_staged_float(dtype)) ctx.set_output(i, narrow_from_float(computed, dtype));
}

}  // namespace tessera

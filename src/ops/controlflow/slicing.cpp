#include "ops/controlflow/slicing.h"

#include <cstring>
#include <string>

#include "base/error.h"
#include "base/lazy_text.h"

namespace tessera {

void copy_elements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count) {
  if (count <= 0) return;
  if (src.dtype() == DType::kString) {
    for (int64_t i = 0; i < count; ++i) dst.data<std::string>()[dst_offset + i] = src.data<std::string>()[src_offset + i];
    return;
  }
  const size_t size = dtype_size(src.dtype());
  std::memcpy(static_cast<char*>(dst.raw_data()) + dst_offset * size,
              static_cast<const char*>(src.raw_data()) + src_offset * size, count * size);
}

Tensor take_slice(const Tensor& tensor, int64_t axis, int64_t index) {
  const auto& shape = tensor.shape();
  check_argument(axis >= 0 && axis < static_cast<int64_t>(shape.size()), "axis ", axis, " out of range for ",
                 tensor_text(tensor));
  check_argument(index >= 0 && index < shape[axis], "slice ", index, " out of range for axis ", axis, " of ",
                 tensor_text(tensor));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  std::vector<int64_t> out_shape = shape;
  out_shape.erase(out_shape.begin() + axis);
  Tensor out(tensor.dtype(), out_shape);
  for (int64_t o = 0; o < outer; ++o) {
    copy_elements(tensor, (o * shape[axis] + index) * inner, out, o * inner, inner);
  }
  return out;
}

Tensor stack_slices(const std::vector<Tensor>& slices, int64_t axis, DType dtype, const std::vector<int64_t>& element_shape) {
  const std::vector<int64_t>& shape = slices.empty() ? element_shape : slices[0].shape();
  check_argument(axis >= 0 && axis <= static_cast<int64_t>(shape.size()), "stack axis ", axis, " out of range");
  for (const Tensor& s : slices) {
    check_argument(s.shape() == shape && s.dtype() == slices[0].dtype(), "cannot stack ", tensor_text(s), " with ",
                   tensor_text(slices[0]));
  }
  std::vector<int64_t> out_shape = shape;
  out_shape.insert(out_shape.begin() + axis, static_cast<int64_t>(slices.size()));
  Tensor out(slices.empty() ? dtype : slices[0].dtype(), out_shape);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis; i < shape.size(); ++i) inner *= shape[i];
  const int64_t n = static_cast<int64_t>(slices.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < n; ++k) copy_elements(slices[k], o * inner, out, (o * n + k) * inner, inner);
  }
  return out;
}

}  // namespace tessera

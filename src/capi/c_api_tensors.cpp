// tessera_tensor: owned or caller-memory tensors crossing the C API.
#include <cstdint>

#include "c_api_guard.h"

using tessera::c_api::guarded;
using tessera::c_api::require;

namespace tessera::c_api {

// The element type a C caller may use: any valid ONNX number except string.
DType checked_element_type(int32_t element_type) {
  if (!dtype_is_valid(element_type))
    fail(ErrorCode::kInvalidArgument, "element type ", element_type, " is not an ONNX element type");
  if (static_cast<DType>(element_type) == DType::kString) {
    fail(ErrorCode::kInvalidArgument, "string tensors are not supported by the C API");
  }
  return static_cast<DType>(element_type);
}

}  // namespace tessera::c_api

namespace {

std::vector<int64_t> shape_of(const int64_t* dims, size_t rank) {
  if (rank > 0) require(dims, "dims");
  return std::vector<int64_t>(dims, dims + rank);
}

}  // namespace

extern "C" {

tessera_status tessera_tensor_create(int32_t element_type, const int64_t* dims, size_t rank, tessera_tensor** out) {
  return guarded([&] {
    require(out, "out");
    const tessera::DType dtype = tessera::c_api::checked_element_type(element_type);
    *out = new tessera_tensor{tessera::Tensor(dtype, shape_of(dims, rank))};
  });
}

tessera_status tessera_tensor_wrap(int32_t element_type, const int64_t* dims, size_t rank, void* data, size_t byte_size,
                                   tessera_tensor** out) {
  return guarded([&] {
    require(out, "out");
    const tessera::DType dtype = tessera::c_api::checked_element_type(element_type);
    std::vector<int64_t> shape = shape_of(dims, rank);
    const size_t element_size = tessera::dtype_size(dtype);
    const auto needed = static_cast<size_t>(tessera::shape_element_count(shape)) * element_size;
    if (needed > 0) require(data, "data");
    if (byte_size < needed) {
      tessera::fail(tessera::ErrorCode::kInvalidArgument, "tessera_tensor_wrap: ", tessera::dtype_name(dtype),
                    tessera::shape_to_string(shape), " needs ", needed, " bytes, the buffer holds ", byte_size);
    }
    if (reinterpret_cast<uintptr_t>(data) % element_size != 0) {
      tessera::fail(tessera::ErrorCode::kInvalidArgument, "tessera_tensor_wrap: data is not aligned to the ",
                    element_size, "-byte elements of ", tessera::dtype_name(dtype));
    }
    auto storage = tessera::Storage::borrow(data, byte_size, nullptr);
    *out = new tessera_tensor{tessera::Tensor(dtype, std::move(shape), std::move(storage))};
  });
}

void tessera_tensor_destroy(tessera_tensor* tensor) { delete tensor; }

tessera_status tessera_tensor_element_type(const tessera_tensor* tensor, int32_t* element_type) {
  return guarded([&] {
    require(tensor, "tensor");
    require(element_type, "element_type");
    *element_type = static_cast<int32_t>(tensor->tensor.dtype());
  });
}

tessera_status tessera_tensor_shape(const tessera_tensor* tensor, size_t* rank, const int64_t** dims) {
  return guarded([&] {
    require(tensor, "tensor");
    require(rank, "rank");
    require(dims, "dims");
    *rank = tensor->tensor.rank();
    *dims = tensor->tensor.shape().data();
  });
}

tessera_status tessera_tensor_data(tessera_tensor* tensor, void** data, size_t* byte_size) {
  return guarded([&] {
    require(tensor, "tensor");
    require(data, "data");
    require(byte_size, "byte_size");
    *data = tensor->tensor.raw_data();
    *byte_size = tensor->tensor.byte_size();
  });
}

}  // extern "C"

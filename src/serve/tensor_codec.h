// Tensor data on the wire: the binary form (little-endian row-major; BOOL one byte; BYTES a 4-byte length
// before each element) shared by the HTTP binary extension and gRPC raw contents, and the JSON form.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/tensor.h"

namespace tessera::serve {

// Element count of a request shape; ServeError(kBadRequest) naming `what` for a negative dim or overflow.
int64_t request_element_count(const std::vector<int64_t>& shape, const std::string& what);

// A tensor of `dtype` and `shape` from its binary form. ServeError(kBadRequest) naming `what` (e.g.
// "model 'm' input 'x'") when the byte count does not match the shape or a BYTES element runs past the end.
Tensor tensor_from_binary(DType dtype, const std::vector<int64_t>& shape, std::string_view bytes,
                          const std::string& what);
// Appends the binary form of `tensor` to `out`.
void append_tensor_binary(const Tensor& tensor, std::string& out);
// The size in bytes of the binary form of `tensor`.
size_t tensor_binary_size(const Tensor& tensor);

// A tensor from JSON `data`: a flat or nested array (row-major) of numbers, booleans (BOOL) or strings (BYTES).
// ServeError(kBadRequest) naming `what` when the element count, an element's JSON type, or an integer's
// range does not fit.
Tensor tensor_from_json(DType dtype, const std::vector<int64_t>& shape, const nlohmann::json& data,
                        const std::string& what);
// The flat JSON array of `tensor`'s elements (FP16/BF16 as numbers, BYTES as strings).
nlohmann::json tensor_to_json(const Tensor& tensor);

}  // namespace tessera::serve

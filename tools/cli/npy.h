// Reading and writing NumPy .npy files (version 1.0/2.0, little-endian, C order) as Tensors.
#pragma once

#include <string>

#include "base/tensor.h"

namespace tessera::cli {

// Parses .npy bytes; throws Error(kInvalidArgument) for unsupported dtypes, Fortran order or truncation.
Tensor tensor_from_npy(const std::string& bytes, const std::string& source_name);

// Encodes a tensor as .npy bytes (strings are not supported by this format here).
std::string tensor_to_npy(const Tensor& tensor);

}  // namespace tessera::cli

// DType: every ONNX tensor element type, with the same numbers as TensorProto.DataType.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUint32 = 12,
  kUint64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUint4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kFloat8E8M0 = 24,
  kUint2 = 25,
  kInt2 = 26,
};

// True for the numbers 1..26 above.
bool dtype_is_valid(int32_t value);

// Bytes one element occupies in a Tensor's memory. Sub-byte types (int4, uint4, int2, uint2, float4e2m1)
// are held unpacked, one byte per element; they are packed only on the wire. Strings report
// sizeof(std::string).
size_t dtype_size(DType dtype);

// The ONNX name, e.g. "float", "int64", "float8e4m3fn".
std::string dtype_name(DType dtype);

// Classification helpers.
bool dtype_is_float(DType dtype);     // float, double, float16, bfloat16, float8 and float4 types
bool dtype_is_integer(DType dtype);   // signed and unsigned integers of every width (not bool)
bool dtype_is_signed(DType dtype);    // signed integers and floats
bool dtype_is_sub_byte(DType dtype);  // int4, uint4, int2, uint2, float4e2m1

}  // namespace tessera

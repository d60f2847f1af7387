#include "base/dtype.h"

#include <complex>
#include <string>

namespace tessera {

bool dtype_is_valid(int32_t value) { return value >= 1 && value <= 26; }

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat: case DType::kInt32: case DType::kUint32: return 4;
    case DType::kDouble: case DType::kInt64: case DType::kUint64: case DType::kComplex64: return 8;
    case DType::kComplex128: return 16;
    case DType::kUint16: case DType::kInt16: case DType::kFloat16: case DType::kBFloat16: return 2;
    case DType::kString: return sizeof(std::string);
    case DType::kUndefined: return 0;
    default: return 1;
  }
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kUndefined: return "undefined";
    case DType::kFloat: return "float";
    case DType::kUint8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kUint16: return "uint16";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kString: return "string";
    case DType::kBool: return "bool";
    case DType::kFloat16: return "float16";
    case DType::kDouble: return "double";
    case DType::kUint32: return "uint32";
    case DType::kUint64: return "uint64";
    case DType::kComplex64: return "complex64";
    case DType::kComplex128: return "complex128";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat8E4M3FN: return "float8e4m3fn";
    case DType::kFloat8E4M3FNUZ: return "float8e4m3fnuz";
    case DType::kFloat8E5M2: return "float8e5m2";
    case DType::kFloat8E5M2FNUZ: return "float8e5m2fnuz";
    case DType::kUint4: return "uint4";
    case DType::kInt4: return "int4";
    case DType::kFloat4E2M1: return "float4e2m1";
    case DType::kFloat8E8M0: return "float8e8m0";
    case DType::kUint2: return "uint2";
    case DType::kInt2: return "int2";
  }
  return "dtype(" + std::to_string(static_cast<int>(dtype)) + ")";
}

bool dtype_is_float(DType d) {
  switch (d) {
    case DType::kFloat: case DType::kDouble: case DType::kFloat16: case DType::kBFloat16:
    case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ: case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ: case DType::kFloat4E2M1: case DType::kFloat8E8M0: return true;
    default: return false;
  }
}

bool dtype_is_integer(DType d) {
  switch (d) {
    case DType::kUint8: case DType::kInt8: case DType::kUint16: case DType::kInt16: case DType::kInt32:
    case DType::kInt64: case DType::kUint32: case DType::kUint64: case DType::kUint4: case DType::kInt4:
    case DType::kUint2: case DType::kInt2: return true;
    default: return false;
  }
}

bool dtype_is_signed(DType d) {
  switch (d) {
    case DType::kInt8: case DType::kInt16: case DType::kInt32: case DType::kInt64: case DType::kInt4:
    case DType::kInt2: return true;
    default: return dtype_is_float(d) && d != DType::kFloat8E8M0;
  }
}

bool dtype_is_sub_byte(DType d) {
  return d == DType::kUint4 || d == DType::kInt4 || d == DType::kUint2 || d == DType::kInt2 ||
         d == DType::kFloat4E2M1;
}

}  // namespace tessera

// Maps a DType to the C++ type a Tensor stores it as, and calls generic code with that type.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <type_traits>

#include "base/dtype.h"
#include "base/error.h"
#include "base/float_types.h"

namespace tessera {

// Carries a type to a generic lambda: `visit_dtype(d, [&](auto tag) { using T = typename decltype(tag)::type; })`.
template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with the storage type T of `dtype`; throws kUnsupported for kUndefined.
template <typename F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat: return f(TypeTag<float>{});
    case DType::kUint8: return f(TypeTag<uint8_t>{});
    case DType::kInt8: return f(TypeTag<int8_t>{});
    case DType::kUint16: return f(TypeTag<uint16_t>{});
    case DType::kInt16: return f(TypeTag<int16_t>{});
    case DType::kInt32: return f(TypeTag<int32_t>{});
    case DType::kInt64: return f(TypeTag<int64_t>{});
    case DType::kString: return f(TypeTag<std::string>{});
    case DType::kBool: return f(TypeTag<bool>{});
    case DType::kFloat16: return f(TypeTag<Float16>{});
    case DType::kDouble: return f(TypeTag<double>{});
    case DType::kUint32: return f(TypeTag<uint32_t>{});
    case DType::kUint64: return f(TypeTag<uint64_t>{});
    case DType::kComplex64: return f(TypeTag<std::complex<float>>{});
    case DType::kComplex128: return f(TypeTag<std::complex<double>>{});
    case DType::kBFloat16: return f(TypeTag<BFloat16>{});
    case DType::kFloat8E4M3FN: return f(TypeTag<Float8E4M3FN>{});
    case DType::kFloat8E4M3FNUZ: return f(TypeTag<Float8E4M3FNUZ>{});
    case DType::kFloat8E5M2: return f(TypeTag<Float8E5M2>{});
    case DType::kFloat8E5M2FNUZ: return f(TypeTag<Float8E5M2FNUZ>{});
    case DType::kUint4: return f(TypeTag<UInt4>{});
    case DType::kInt4: return f(TypeTag<Int4>{});
    case DType::kFloat4E2M1: return f(TypeTag<Float4E2M1>{});
    case DType::kFloat8E8M0: return f(TypeTag<Float8E8M0>{});
    case DType::kUint2: return f(TypeTag<UInt2>{});
    case DType::kInt2: return f(TypeTag<Int2>{});
    case DType::kUndefined: break;
  }
  fail(ErrorCode::kUnsupported, "no element type for dtype ", dtype_name(dtype));
}

// The DType whose storage type is T (for the primary numeric types).
template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::kFloat;
  else if constexpr (std::is_same_v<T, double>) return DType::kDouble;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::kInt64;
  else if constexpr (std::is_same_v<T, int32_t>) return DType::kInt32;
  else if constexpr (std::is_same_v<T, int16_t>) return DType::kInt16;
  else if constexpr (std::is_same_v<T, int8_t>) return DType::kInt8;
  else if constexpr (std::is_same_v<T, uint64_t>) return DType::kUint64;
  else if constexpr (std::is_same_v<T, uint32_t>) return DType::kUint32;
  else if constexpr (std::is_same_v<T, uint16_t>) return DType::kUint16;
  else if constexpr (std::is_same_v<T, uint8_t>) return DType::kUint8;
  else if constexpr (std::is_same_v<T, bool>) return DType::kBool;
  else if constexpr (std::is_same_v<T, Float16>) return DType::kFloat16;
  else if constexpr (std::is_same_v<T, BFloat16>) return DType::kBFloat16;
  else if constexpr (std::is_same_v<T, std::string>) return DType::kString;
  else return DType::kUndefined;
}

// True for the storage types of the narrow float formats (float16, bfloat16, float8, float4).
template <typename T>
inline constexpr bool kIsNarrowFloat =
    std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16> || std::is_same_v<T, Float8E4M3FN> ||
    std::is_same_v<T, Float8E4M3FNUZ> || std::is_same_v<T, Float8E5M2> || std::is_same_v<T, Float8E5M2FNUZ> ||
    std::is_same_v<T, Float8E8M0> || std::is_same_v<T, Float4E2M1>;

// True for the unpacked sub-byte integer types.
template <typename T>
inline constexpr bool kIsSubByteInt =
    std::is_same_v<T, Int4> || std::is_same_v<T, UInt4> || std::is_same_v<T, Int2> || std::is_same_v<T, UInt2>;

// True for the types arithmetic kernels compute on directly (C++ arithmetic types, without bool).
template <typename T>
inline constexpr bool kIsPlainNumber = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

// Converts any non-string, non-complex element to double.
template <typename T>
double element_to_double(const T& v) {
  if constexpr (std::is_same_v<T, Float16>) return half_to_float(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>) return bfloat16_to_float(v.bits);
  else if constexpr (std::is_same_v<T, Float8E4M3FN>) return narrow_float_to_float(DType::kFloat8E4M3FN, v.bits);
  else if constexpr (std::is_same_v<T, Float8E4M3FNUZ>) return narrow_float_to_float(DType::kFloat8E4M3FNUZ, v.bits);
  else if constexpr (std::is_same_v<T, Float8E5M2>) return narrow_float_to_float(DType::kFloat8E5M2, v.bits);
  else if constexpr (std::is_same_v<T, Float8E5M2FNUZ>) return narrow_float_to_float(DType::kFloat8E5M2FNUZ, v.bits);
  else if constexpr (std::is_same_v<T, Float8E8M0>) return narrow_float_to_float(DType::kFloat8E8M0, v.bits);
  else if constexpr (std::is_same_v<T, Float4E2M1>) return narrow_float_to_float(DType::kFloat4E2M1, v.bits);
  else if constexpr (kIsSubByteInt<T>) return static_cast<double>(v.value);
  else return static_cast<double>(v);
}

// Converts a double to element type T (narrow floats round to nearest even and saturate where
// the format has no infinity; integers truncate as C++ does).
template <typename T>
T element_from_double(double v) {
  if constexpr (std::is_same_v<T, Float16>) return Float16{float_to_half(static_cast<float>(v))};
  else if constexpr (std::is_same_v<T, BFloat16>) return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  else if constexpr (std::is_same_v<T, Float8E4M3FN>) return Float8E4M3FN{float_to_narrow_float(DType::kFloat8E4M3FN, static_cast<float>(v), true)};
  else if constexpr (std::is_same_v<T, Float8E4M3FNUZ>) return Float8E4M3FNUZ{float_to_narrow_float(DType::kFloat8E4M3FNUZ, static_cast<float>(v), true)};
  else if constexpr (std::is_same_v<T, Float8E5M2>) return Float8E5M2{float_to_narrow_float(DType::kFloat8E5M2, static_cast<float>(v), true)};
  else if constexpr (std::is_same_v<T, Float8E5M2FNUZ>) return Float8E5M2FNUZ{float_to_narrow_float(DType::kFloat8E5M2FNUZ, static_cast<float>(v), true)};
  else if constexpr (std::is_same_v<T, Float8E8M0>) return Float8E8M0{float_to_narrow_float(DType::kFloat8E8M0, static_cast<float>(v), true)};
  else if constexpr (std::is_same_v<T, Float4E2M1>) return Float4E2M1{float_to_narrow_float(DType::kFloat4E2M1, static_cast<float>(v), true)};
  else if constexpr (std::is_same_v<T, Int4>) return Int4{static_cast<int8_t>(v)};
  else if constexpr (std::is_same_v<T, UInt4>) return UInt4{static_cast<uint8_t>(v)};
  else if constexpr (std::is_same_v<T, Int2>) return Int2{static_cast<int8_t>(v)};
  else if constexpr (std::is_same_v<T, UInt2>) return UInt2{static_cast<uint8_t>(v)};
  else return static_cast<T>(v);
}

}  // namespace tessera

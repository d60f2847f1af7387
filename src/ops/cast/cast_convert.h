// Element conversions of Cast and CastLike between every pair of non-complex, non-string ONNX element types
// (strings: cast_string.h). Rules, after the spec and NumPy / ml_dtypes (the ONNX reference):
//  - integer -> integer (sub-byte ones included) keeps the low bits (two's complement), bool -> 0/1;
//  - float -> integer truncates toward zero; out of range or NaN is undefined by the spec. Tessera's rule:
//    to int4/uint4/int2/uint2 it saturates to the type's range and NaN gives 0 (as ONNX Runtime does for
//    int4); to the wider integers it gives what x86 gives (the minimum of int32, or of int64 for
//    uint32/int64/uint64 targets) before keeping the low bits;
//  - anything -> bool is `value != 0` (NaN is true);
//  - -> float types round to nearest even, from double through a round-to-odd float so there is one rounding;
//  - -> float8 follows the `saturate` tables of the spec; -> float4e2m1 always saturates;
//    -> float8e8m0 follows `round_mode` (up / down / nearest) and `saturate` like onnx.numpy_helper.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "base/dtype_dispatch.h"
#include "base/float_types.h"

namespace tessera::cast {

enum class E8M0Rounding { kUp, kDown, kNearest };

struct CastOptions {
  bool saturate = true;
  E8M0Rounding round_mode = E8M0Rounding::kUp;
};

// Source categories.
template <typename T>
inline constexpr bool kIsSignedInteger =
    std::is_same_v<T, int8_t> || std::is_same_v<T, int16_t> || std::is_same_v<T, int32_t> ||
    std::is_same_v<T, int64_t> || std::is_same_v<T, Int4> || std::is_same_v<T, Int2>;
template <typename T>
inline constexpr bool kIsUnsignedInteger =
    std::is_same_v<T, uint8_t> || std::is_same_v<T, uint16_t> || std::is_same_v<T, uint32_t> ||
    std::is_same_v<T, uint64_t> || std::is_same_v<T, UInt4> || std::is_same_v<T, UInt2>;
template <typename T>
inline constexpr bool kIsFloating = std::is_floating_point_v<T> || kIsNarrowFloat<T>;
// Types Cast converts between numerically (everything but strings and complex numbers).
template <typename T>
inline constexpr bool kIsCastable =
    kIsSignedInteger<T> || kIsUnsignedInteger<T> || kIsFloating<T> || std::is_same_v<T, bool>;

// The value of an integer element as int64 / uint64.
template <typename S>
inline int64_t integer_value(const S& s) {
  if constexpr (kIsSubByteInt<S>)
    return static_cast<int64_t>(s.value);
  else
    return static_cast<int64_t>(s);
}

// Keeps the low bits of `bits` that fit D (sign-extending sub-byte signed types).
template <typename D>
inline D wrap_to(uint64_t bits) {
  if constexpr (std::is_same_v<D, Int4>)
    return Int4{static_cast<int8_t>(static_cast<int8_t>((bits & 0xF) << 4) >> 4)};
  else if constexpr (std::is_same_v<D, UInt4>)
    return UInt4{static_cast<uint8_t>(bits & 0xF)};
  else if constexpr (std::is_same_v<D, Int2>)
    return Int2{static_cast<int8_t>(static_cast<int8_t>((bits & 0x3) << 6) >> 6)};
  else if constexpr (std::is_same_v<D, UInt2>)
    return UInt2{static_cast<uint8_t>(bits & 0x3)};
  else
    return static_cast<D>(bits);
}

// [lowest, highest] of a sub-byte integer type.
template <typename D>
constexpr std::pair<int, int> sub_byte_range() {
  if constexpr (std::is_same_v<D, Int4>) return {-8, 7};
  else if constexpr (std::is_same_v<D, UInt4>) return {0, 15};
  else if constexpr (std::is_same_v<D, Int2>) return {-2, 1};
  else return {0, 3};
}

// Float -> integer D: truncation toward zero; where the spec leaves the result undefined, saturation for the
// sub-byte types and x86's results for the others (see the header comment).
template <typename D>
inline D float_to_integer(double v) {
  if constexpr (kIsSubByteInt<D>) {
    constexpr auto kRange = sub_byte_range<D>();
    if (std::isnan(v)) return wrap_to<D>(0);
    const double clamped = std::clamp(std::trunc(v), static_cast<double>(kRange.first), static_cast<double>(kRange.second));
    return wrap_to<D>(static_cast<uint64_t>(static_cast<int64_t>(clamped)));
  } else if constexpr (!(std::is_same_v<D, uint32_t> || std::is_same_v<D, int64_t> || std::is_same_v<D, uint64_t>)) {
    const int32_t i = (v > -2147483649.0 && v < 2147483648.0) ? static_cast<int32_t>(v) : INT32_MIN;
    return wrap_to<D>(static_cast<uint64_t>(static_cast<int64_t>(i)));
  } else {
    if constexpr (std::is_same_v<D, uint64_t>) {
      if (v >= 9223372036854775808.0 && v < 18446744073709551616.0) return static_cast<uint64_t>(v);
    }
    const int64_t i = (v >= -9223372036854775808.0 && v < 9223372036854775808.0) ? static_cast<int64_t>(v) : INT64_MIN;
    return wrap_to<D>(static_cast<uint64_t>(i));
  }
}

// Rounds a double to float with round-to-odd, so that a later rounding to a narrower format is exact.
inline float round_to_odd_float(double v) {
  const float f = static_cast<float>(v);
  if (!std::isfinite(v) || static_cast<double>(f) == v) return f;
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 1u) != 0) return f;
  // The nearest float has an even last bit: step to the other neighbour of v, which is odd.
  return std::nextafter(
      f, v > static_cast<double>(f) ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity());
}

// float -> float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ) per the spec's saturate tables, NaN codes as ml_dtypes.
uint8_t encode_float8(DType dtype, float value, bool saturate);
// float -> float4e2m1: round to nearest even, saturating; NaN gives 0x8 as ml_dtypes does.
uint8_t encode_float4(float value);
// float -> float8e8m0 with `round_mode`; NaN gives 0xFF, infinity 0xFE when saturating (0xFF otherwise).
uint8_t encode_e8m0(float value, const CastOptions& options);

// The DType of a float8 storage type.
template <typename T>
constexpr DType float8_dtype() {
  if constexpr (std::is_same_v<T, Float8E4M3FN>)
    return DType::kFloat8E4M3FN;
  else if constexpr (std::is_same_v<T, Float8E4M3FNUZ>)
    return DType::kFloat8E4M3FNUZ;
  else if constexpr (std::is_same_v<T, Float8E5M2>)
    return DType::kFloat8E5M2;
  else
    return DType::kFloat8E5M2FNUZ;
}

// A floating value (as double, or exactly as float) -> float type D.
template <typename D, typename F>
inline D float_to_float(F v, const CastOptions& options) {
  if constexpr (std::is_same_v<D, float>)
    return static_cast<float>(v);
  else if constexpr (std::is_same_v<D, double>)
    return static_cast<double>(v);
  else {
    const float f = std::is_same_v<F, float> ? static_cast<float>(v) : round_to_odd_float(static_cast<double>(v));
    if constexpr (std::is_same_v<D, Float16>)
      return Float16{float_to_half(f)};
    else if constexpr (std::is_same_v<D, BFloat16>)
      return BFloat16{float_to_bfloat16(f)};
    else if constexpr (std::is_same_v<D, Float4E2M1>)
      return Float4E2M1{encode_float4(f)};
    else if constexpr (std::is_same_v<D, Float8E8M0>) {
      // The reference rounds a double to float32 first (nearest), then applies the e8m0 rounding.
      return Float8E8M0{encode_e8m0(static_cast<float>(v), options)};
    } else {
      return D{encode_float8(float8_dtype<D>(), f, options.saturate)};
    }
  }
}

// Converts one element of type S to type D (both castable; see kIsCastable).
template <typename S, typename D>
inline D convert(const S& s, const CastOptions& options) {
  if constexpr (std::is_same_v<S, bool>) {
    if constexpr (std::is_same_v<D, bool>)
      return s;
    else if constexpr (kIsFloating<D>)
      return float_to_float<D>(s ? 1.0f : 0.0f, options);
    else
      return wrap_to<D>(s ? 1u : 0u);
  } else if constexpr (kIsSignedInteger<S> || kIsUnsignedInteger<S>) {
    if constexpr (std::is_same_v<D, bool>)
      return integer_value(s) != 0;
    else if constexpr (kIsFloating<D>) {
      if constexpr (std::is_same_v<S, uint64_t>) {
        if constexpr (std::is_same_v<D, float>)
          return static_cast<float>(s);
        else
          return float_to_float<D>(static_cast<double>(s), options);
      } else {
        if constexpr (std::is_same_v<D, float>)
          return static_cast<float>(integer_value(s));
        else
          return float_to_float<D>(static_cast<double>(integer_value(s)), options);
      }
    } else {
      return wrap_to<D>(static_cast<uint64_t>(integer_value(s)));
    }
  } else {
    // Floating source: float stays float (exact), the others widen to double exactly.
    using F = std::conditional_t<std::is_same_v<S, float>, float, double>;
    F v;
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double>)
      v = s;
    else
      v = static_cast<double>(element_to_double(s));
    if constexpr (std::is_same_v<D, bool>)
      return v != 0;
    else if constexpr (kIsFloating<D>)
      return float_to_float<D>(v, options);
    else
      return float_to_integer<D>(static_cast<double>(v));
  }
}

}  // namespace tessera::cast

// String <-> number conversions of Cast, formatted and parsed as NumPy does for the ONNX reference:
// numbers print as str() of the NumPy scalar ("0.5", "1.0", "1e-05", "1.2345679e+08", "nan", "inf", "True"),
// strings parse as decimal or scientific numbers and the case-insensitive literals "NaN", "INF", "+INF", "-INF".
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "ops/cast/cast_convert.h"

namespace tessera::cast {

// Decimal digits of a finite nonzero |value|: value = d.ddd x 10^exponent.
struct DecimalDigits {
  std::string digits;  // without a point, no leading or trailing zeros
  int exponent = 0;
};

// The shortest digits that read back as the same float / double; `precision` (>= 0) forces that many digits
// after the first instead.
DecimalDigits decimal_digits(float value);
DecimalDigits decimal_digits(double value, int precision = -1);

// The number the digits spell, negated when `negative`.
double decimal_value(const DecimalDigits& digits, bool negative);

// NumPy's str() layout of a float: positional when 1e-4 <= |value| < positional_limit, else scientific.
std::string layout_float(double value, const DecimalDigits& digits, double positional_limit);

// Parses the whole of `text` (surrounding spaces allowed); false when it is not a number.
bool parse_double(const std::string& text, double& value);
bool parse_float(const std::string& text, float& value);
bool parse_int64(const std::string& text, int64_t& value);
bool parse_uint64(const std::string& text, uint64_t& value);

// Formats one element (castable type) as a string.
template <typename S>
std::string format_element(const S& s) {
  if constexpr (std::is_same_v<S, bool>) {
    return s ? "True" : "False";
  } else if constexpr (kIsSignedInteger<S>) {
    return std::to_string(integer_value(s));
  } else if constexpr (kIsUnsignedInteger<S>) {
    return std::to_string(static_cast<uint64_t>(integer_value(s)));
  } else {
    const double v = element_to_double(s);
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
    if constexpr (std::is_same_v<S, float>)
      return layout_float(v, decimal_digits(s), 1e6);
    else if constexpr (std::is_same_v<S, double>)
      return layout_float(v, decimal_digits(s), 1e16);
    else {
      // Narrow floats: the fewest digits that convert back to the same code.
      DecimalDigits digits;
      for (int precision = 0; precision < 17; ++precision) {
        digits = decimal_digits(v, precision);
        if (element_from_double<S>(decimal_value(digits, v < 0)).bits == s.bits) break;
      }
      return layout_float(v, digits, std::is_same_v<S, Float16> ? 1e3 : 1e16);
    }
  }
}

// Parses one string as element type D; throws kInvalidArgument naming the text when it is not a number.
template <typename D>
D parse_element(const std::string& text, const CastOptions& options) {
  if constexpr (std::is_same_v<D, bool>) {
    if (text == "True" || text == "true" || text == "TRUE") return true;
    if (text == "False" || text == "false" || text == "FALSE") return false;
    double v = 0;
    check_argument(parse_double(text, v), "cannot cast string \"", text, "\" to bool");
    return v != 0;
  } else if constexpr (kIsSignedInteger<D> || kIsUnsignedInteger<D>) {
    if constexpr (std::is_same_v<D, uint64_t>) {
      uint64_t u = 0;
      if (parse_uint64(text, u)) return u;
    }
    int64_t i = 0;
    if (parse_int64(text, i)) return wrap_to<D>(static_cast<uint64_t>(i));
    double v = 0;
    check_argument(parse_double(text, v), "cannot cast string \"", text, "\" to an integer");
    return float_to_integer<D>(v);
  } else if constexpr (std::is_same_v<D, float>) {
    float v = 0;
    check_argument(parse_float(text, v), "cannot cast string \"", text, "\" to float");
    return v;
  } else {
    double v = 0;
    check_argument(parse_double(text, v), "cannot cast string \"", text, "\" to a floating-point number");
    return float_to_float<D>(v, options);
  }
}

}  // namespace tessera::cast

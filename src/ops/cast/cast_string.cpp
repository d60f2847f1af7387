#include "ops/cast/cast_string.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace tessera::cast {
namespace {

// Splits to_chars' scientific output "d.ddde+XX" (no sign: callers pass magnitudes) into digits and exponent.
DecimalDigits split_scientific(const char* begin, const char* end) {
  DecimalDigits out;
  const char* e = std::find(begin, end, 'e');
  for (const char* p = begin; p < e; ++p) {
    if (*p != '.') out.digits.push_back(*p);
  }
  while (out.digits.size() > 1 && out.digits.back() == '0') out.digits.pop_back();
  // to_chars does not terminate its output: atoi on the buffer read stack bytes past the exponent.
  out.exponent = e < end ? std::stoi(std::string(e + 1, end)) : 0;
  return out;
}

// `text` without leading and trailing white space.
std::string trimmed(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string::npos) return {};
  const size_t last = text.find_last_not_of(" \t\n\r\f\v");
  return text.substr(first, last - first + 1);
}

}  // namespace

DecimalDigits decimal_digits(float value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), std::fabs(value), std::chars_format::scientific);
  return split_scientific(buffer, result.ptr);
}

DecimalDigits decimal_digits(double value, int precision) {
  char buffer[64];
  const double magnitude = std::fabs(value);
  const auto result =
      precision < 0
          ? std::to_chars(buffer, buffer + sizeof(buffer), magnitude, std::chars_format::scientific)
          : std::to_chars(buffer, buffer + sizeof(buffer), magnitude, std::chars_format::scientific, precision);
  return split_scientific(buffer, result.ptr);
}

double decimal_value(const DecimalDigits& digits, bool negative) {
  std::string text = negative ? "-" : "";
  text += digits.digits.substr(0, 1) + "." + (digits.digits.size() > 1 ? digits.digits.substr(1) : "0") + "e" +
          std::to_string(digits.exponent);
  return std::strtod(text.c_str(), nullptr);
}

std::string layout_float(double value, const DecimalDigits& digits, double positional_limit) {
  const double magnitude = std::fabs(value);
  std::string out = value < 0 ? "-" : "";
  const std::string& d = digits.digits;
  if (magnitude >= 1e-4 && magnitude < positional_limit) {
    if (digits.exponent >= 0) {
      const size_t integer_digits = static_cast<size_t>(digits.exponent) + 1;
      if (d.size() <= integer_digits) {
        out += d + std::string(integer_digits - d.size(), '0') + ".0";
      } else {
        out += d.substr(0, integer_digits) + "." + d.substr(integer_digits);
      }
    } else {
      out += "0." + std::string(static_cast<size_t>(-digits.exponent - 1), '0') + d;
    }
    return out;
  }
  out += d.substr(0, 1);
  if (d.size() > 1) out += "." + d.substr(1);
  const int e = digits.exponent;
  out += e < 0 ? "e-" : "e+";
  const std::string e_digits = std::to_string(e < 0 ? -e : e);
  if (e_digits.size() < 2) out += "0";
  out += e_digits;
  return out;
}

bool parse_double(const std::string& text, double& value) {
  const std::string t = trimmed(text);
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(t.c_str(), &end);
  // strtod reads hexadecimal floats too; NumPy does not.
  return end == t.c_str() + t.size() && t.find_first_of("xX") == std::string::npos;
}

bool parse_float(const std::string& text, float& value) {
  const std::string t = trimmed(text);
  if (t.empty()) return false;
  char* end = nullptr;
  value = std::strtof(t.c_str(), &end);
  return end == t.c_str() + t.size() && t.find_first_of("xX") == std::string::npos;
}

bool parse_int64(const std::string& text, int64_t& value) {
  const std::string t = trimmed(text);
  const char* begin = t.c_str() + (!t.empty() && t[0] == '+' ? 1 : 0);
  const char* end = t.c_str() + t.size();
  const auto result = std::from_chars(begin, end, value);
  return result.ec == std::errc() && result.ptr == end && begin != end;
}

bool parse_uint64(const std::string& text, uint64_t& value) {
  const std::string t = trimmed(text);
  const char* begin = t.c_str() + (!t.empty() && t[0] == '+' ? 1 : 0);
  const char* end = t.c_str() + t.size();
  const auto result = std::from_chars(begin, end, value);
  return result.ec == std::errc() && result.ptr == end && begin != end;
}

}  // namespace tessera::cast

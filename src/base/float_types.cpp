#include "base/float_types.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace tessera {

namespace {

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

// The layout of one narrow float format.
struct NarrowFormat {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  bool has_infinity;      // all-ones exponent with zero mantissa is infinity (IEEE-like)
  bool ieee_nan;          // all-ones exponent with nonzero mantissa is NaN
  bool fn_nan;            // only the all-ones code (per sign) is NaN (the "FN" formats)
  bool uz;                // no negative zero: 0x80 is the one NaN
  int total_bits;
};

NarrowFormat format_of(DType dtype) {
  switch (dtype) {
    case DType::kFloat8E4M3FN: return {4, 3, 7, false, false, true, false, 8};
    case DType::kFloat8E4M3FNUZ: return {4, 3, 8, false, false, false, true, 8};
    case DType::kFloat8E5M2: return {5, 2, 15, true, true, false, false, 8};
    case DType::kFloat8E5M2FNUZ: return {5, 2, 16, false, false, false, true, 8};
    case DType::kFloat4E2M1: return {2, 1, 1, false, false, false, false, 4};
    default: return {0, 0, 0, false, false, false, false, 0};
  }
}

// Value of a positive code (sign bit clear), or NaN / infinity per the format.
float decode_positive(const NarrowFormat& f, uint32_t code) {
  const uint32_t mantissa = code & ((1u << f.mantissa_bits) - 1);
  const uint32_t exponent = code >> f.mantissa_bits;
  const uint32_t max_exponent = (1u << f.exponent_bits) - 1;
  if (f.ieee_nan && exponent == max_exponent) {
    return mantissa == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  }
  if (f.fn_nan && exponent == max_exponent && mantissa == (1u << f.mantissa_bits) - 1) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  if (exponent == 0) return std::ldexp(static_cast<float>(mantissa), 1 - f.bias - f.mantissa_bits);
  return std::ldexp(static_cast<float>(mantissa + (1u << f.mantissa_bits)),
                    static_cast<int>(exponent) - f.bias - f.mantissa_bits);
}

// The finite, non-negative values of a format in code order (which is value order).
struct PositiveTable {
  std::vector<float> values;
  uint32_t infinity_code = 0;
  uint32_t nan_code = 0;
};

const PositiveTable& positive_table(DType dtype) {
  static const auto build = [](DType d) {
    PositiveTable table;
    const NarrowFormat f = format_of(d);
    const uint32_t positive_codes = 1u << (f.total_bits - 1);
    for (uint32_t code = 0; code < positive_codes; ++code) {
      const float v = decode_positive(f, code);
      if (!std::isfinite(v)) break;
      table.values.push_back(v);
    }
    table.infinity_code = f.has_infinity ? static_cast<uint32_t>(table.values.size()) : 0;
    if (f.uz) table.nan_code = 1u << (f.total_bits - 1);
    else if (f.ieee_nan) table.nan_code = positive_codes - 1;
    else if (f.fn_nan) table.nan_code = positive_codes - 1;
    else table.nan_code = 0;  // float4e2m1 has no NaN
    return table;
  };
  static const std::array<PositiveTable, 5> tables = {
      build(DType::kFloat8E4M3FN), build(DType::kFloat8E4M3FNUZ), build(DType::kFloat8E5M2),
      build(DType::kFloat8E5M2FNUZ), build(DType::kFloat4E2M1)};
  switch (dtype) {
    case DType::kFloat8E4M3FN: return tables[0];
    case DType::kFloat8E4M3FNUZ: return tables[1];
    case DType::kFloat8E5M2: return tables[2];
    case DType::kFloat8E5M2FNUZ: return tables[3];
    default: return tables[4];
  }
}

}  // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) return bits_float(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t float_to_half(float value) {
  const uint32_t bits = float_bits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((abs_bits >> 13) & 0x3FFu));
  if (abs_bits >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds past 65504
  if (abs_bits < 0x38800000u) {
    // Subnormal or zero: scale so the half's unit in the last place is 1, then round to nearest even.
    const float magnitude = bits_float(abs_bits) * 16777216.0f;  // 2^24
    const float rounded = std::nearbyint(magnitude);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(rounded));
  }
  const uint32_t rounding = 0xFFFu + ((abs_bits >> 13) & 1u);
  const uint32_t rounded = abs_bits + rounding;
  return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
}

float bfloat16_to_float(uint16_t bits) { return bits_float(static_cast<uint32_t>(bits) << 16); }

uint16_t float_to_bfloat16(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float narrow_float_to_float(DType dtype, uint8_t code) {
  if (dtype == DType::kFloat8E8M0) {
    if (code == 0xFF) return std::numeric_limits<float>::quiet_NaN();
    return std::ldexp(1.0f, static_cast<int>(code) - 127);
  }
  const NarrowFormat f = format_of(dtype);
  const uint32_t sign_bit = 1u << (f.total_bits - 1);
  const uint32_t c = code & ((1u << f.total_bits) - 1);
  if (f.uz && c == sign_bit) return std::numeric_limits<float>::quiet_NaN();
  const float magnitude = decode_positive(f, c & (sign_bit - 1));
  return (c & sign_bit) ? -magnitude : magnitude;
}

uint8_t float_to_narrow_float(DType dtype, float value, bool saturate) {
  if (dtype == DType::kFloat8E8M0) {
    if (std::isnan(value) || value <= 0.0f) return std::isnan(value) ? 0xFF : 0x00;
    if (std::isinf(value)) return saturate ? 0xFE : 0xFF;
    int exponent = 0;
    const float mantissa = std::frexp(value, &exponent);  // value = mantissa * 2^exponent, mantissa in [0.5,1)
    int e = exponent - 1;
    if (mantissa > 0.75f) e += 1;  // nearest power of two, ties up
    e = std::clamp(e + 127, 0, saturate ? 254 : 255);
    return static_cast<uint8_t>(e);
  }
  const NarrowFormat f = format_of(dtype);
  const PositiveTable& table = positive_table(dtype);
  const uint32_t sign_bit = 1u << (f.total_bits - 1);
  if (std::isnan(value)) return static_cast<uint8_t>(table.nan_code);
  const bool negative = std::signbit(value);
  const float magnitude = std::fabs(value);
  const size_t count = table.values.size();
  const float max_value = table.values.back();
  uint32_t code;
  if (std::isinf(magnitude) || magnitude > max_value) {
    const float ulp = max_value - table.values[count - 2];
    const bool overflows = std::isinf(magnitude) || magnitude >= max_value + ulp / 2;
    if (!overflows || saturate || (f.total_bits == 4)) {
      code = static_cast<uint32_t>(count - 1);
    } else if (f.has_infinity) {
      code = table.infinity_code;
    } else {
      return static_cast<uint8_t>(table.nan_code);
    }
  } else {
    const auto it = std::lower_bound(table.values.begin(), table.values.end(), magnitude);
    size_t upper = static_cast<size_t>(it - table.values.begin());
    if (upper == 0) {
      code = 0;
    } else {
      const size_t lower = upper - 1;
      const float below = magnitude - table.values[lower];
      const float above = table.values[upper] - magnitude;
      if (below < above) code = static_cast<uint32_t>(lower);
      else if (above < below) code = static_cast<uint32_t>(upper);
      else code = static_cast<uint32_t>((lower & 1u) == 0 ? lower : upper);
    }
  }
  if (negative && !(f.uz && code == 0)) code |= sign_bit;
  return static_cast<uint8_t>(code);
}

}  // namespace tessera

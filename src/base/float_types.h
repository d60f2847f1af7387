// Storage types for the narrow floats (float16, bfloat16, float8, float4) and conversions to and from float.
#pragma once

#include <cstdint>

#include "base/dtype.h"

namespace tessera {

// IEEE 754 binary16, held as its bits.
struct Float16 {
  uint16_t bits = 0;
};
// bfloat16 (the top half of a binary32), held as its bits.
struct BFloat16 {
  uint16_t bits = 0;
};
// The 8-bit and 4-bit float formats of ONNX, each held as its code in one byte.
struct Float8E4M3FN {
  uint8_t bits = 0;
};
struct Float8E4M3FNUZ {
  uint8_t bits = 0;
};
struct Float8E5M2 {
  uint8_t bits = 0;
};
struct Float8E5M2FNUZ {
  uint8_t bits = 0;
};
struct Float8E8M0 {
  uint8_t bits = 0;
};
struct Float4E2M1 {
  uint8_t bits = 0;  // the low four bits hold the code
};
// Unpacked 4-bit and 2-bit integers, one per byte, held sign-extended (int) or zero-extended (uint).
struct Int4 {
  int8_t value = 0;
};
struct UInt4 {
  uint8_t value = 0;
};
struct Int2 {
  int8_t value = 0;
};
struct UInt2 {
  uint8_t value = 0;
};

float half_to_float(uint16_t bits);
uint16_t float_to_half(float value);  // round to nearest even; overflow gives infinity
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);  // round to nearest even; NaN stays NaN

// Decodes an 8-bit or 4-bit float code of `dtype` (a float8 type, float8e8m0 or float4e2m1).
float narrow_float_to_float(DType dtype, uint8_t code);
// Encodes `value` as the nearest code of `dtype` (ties to even). With `saturate`, values out of range become
// the largest finite value of that sign; without it, infinity (where the format has one) or NaN.
uint8_t float_to_narrow_float(DType dtype, float value, bool saturate);

}  // namespace tessera

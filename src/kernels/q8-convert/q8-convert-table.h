// The per-ISA table of q8-convert (plain data).
#pragma once

#include "kernels/q8-convert/q8-convert.h"

namespace tessera::q8_convert {

struct ConvertSet {
  const char* name;
  void (*quantize_s8)(const float* x, int64_t n, float scale, float zero_point, int8_t* y);
  void (*quantize_u8)(const float* x, int64_t n, float scale, float zero_point, uint8_t* y);
  void (*dequantize_s8)(const int8_t* x, int64_t n, float scale, float zero_point, float* y);
  void (*dequantize_u8)(const uint8_t* x, int64_t n, float scale, float zero_point, float* y);
  // The same with one scale and zero point per element.
  void (*quantize_s8_row)(const float* x, int64_t n, const float* scale, const float* zero_point, int8_t* y);
  void (*quantize_u8_row)(const float* x, int64_t n, const float* scale, const float* zero_point, uint8_t* y);
  void (*dequantize_s8_row)(const int8_t* x, int64_t n, const float* scale, const float* zero_point, float* y);
  void (*dequantize_u8_row)(const uint8_t* x, int64_t n, const float* scale, const float* zero_point, float* y);
};

extern const ConvertSet kPortableSet;
#if defined(__x86_64__)
extern const ConvertSet kAvx2Set;
extern const ConvertSet kAvx512Set;
#endif

}  // namespace tessera::q8_convert

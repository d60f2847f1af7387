// Elementwise Add and Mul of two 8-bit quantized arrays into a third (com.microsoft QLinearAdd / QLinearMul), with
// the roundings of DequantizeLinear -> Add/Mul -> QuantizeLinear: x' = (x - zx) * sx in float for each input, the
// float op, then saturate(round_half_even(result / sc) + zc). No fused multiply-add: every variant (AVX-512, AVX2,
// portable, chosen once from CPUID) gives the bytes of the unfused ops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct Q8BinaryParams {
  float a_scale = 1, a_zero_point = 0;
  float b_scale = 1, b_zero_point = 0;
  float c_scale = 1, c_zero_point = 0;
};

// c[i] = quantize(dequantize(a[i]) op dequantize(b[i])) for i in [0, n); `is_signed` says int8 (else uint8) for all
// three arrays; `multiply` picks Mul over Add. A NaN result becomes the type's minimum.
void q8_binary_elementwise(bool multiply, bool is_signed, const void* a, const void* b, int64_t n,
                           const Q8BinaryParams& p, void* c);

// The variant in use, every variant this CPU runs, and test selection ("" = CPUID's choice).
const char* q8_binary_kernel_name();
std::vector<std::string> q8_binary_kernel_names();
bool q8_binary_select_kernel(const std::string& name);

}  // namespace tessera

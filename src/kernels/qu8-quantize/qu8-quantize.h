// Dynamic quantization of float32 arrays to uint8, as ONNX DynamicQuantizeLinear defines it: the range [min(x, 0),
// max(x, 0)] maps onto [0, 255]; each element becomes saturate(round_half_even(x / scale) + zero_point). Variants
// per ISA (AVX-512, AVX2, portable) from one source, chosen once from CPUID; all give identical bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/parallel.h"

namespace tessera {

struct DynamicQuantU8 {
  float scale = 0;         // (max(x, 0) - min(x, 0)) / 255
  uint8_t zero_point = 0;  // saturate(round_half_even(-min(x, 0) / scale)); 0 when scale is 0
};

// The scale and zero point of x[0, n) (NaN elements are ignored by the min/max). With a Parallelism, arrays of
// 32K elements and more are split over it (the same result: min and max do not depend on the order).
DynamicQuantU8 dynamic_quant_u8_params(const float* x, int64_t n, Parallelism* parallelism = nullptr);

// y[i] = saturate(round_half_even(x[i] / q.scale) + q.zero_point) for i in [0, n); every y is the zero point when
// q.scale is 0; NaN becomes 0.
void quantize_u8(const float* x, int64_t n, const DynamicQuantU8& q, uint8_t* y, Parallelism* parallelism = nullptr);

// The variant in use ("qu8_quantize__avx512", ...), every variant this CPU runs, and test selection ("" = CPUID's
// choice; false for a name the CPU cannot run).
const char* qu8_quantize_kernel_name();
std::vector<std::string> qu8_quantize_kernel_names();
bool qu8_quantize_select_kernel(const std::string& name);

}  // namespace tessera

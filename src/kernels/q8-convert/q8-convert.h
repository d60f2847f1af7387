// Conversions between float32 and 8-bit quantized integers, as ONNX QuantizeLinear and DequantizeLinear define
// them for one scale and zero point (per-axis callers pass each channel's run separately):
//
//   quantize:   y = saturate(round_half_even(x / scale) + zero_point)   (x / scale in float32)
//   dequantize: y = float(x - zero_point) * scale                        (in float32)
//
// A NaN quotient quantizes to the zero point (the ONNX reference casts NaN to an integer, which numpy leaves
// undefined; the zero point is the value that "no signal" maps to). Variants per ISA (AVX-512, AVX2, portable)
// from one source, chosen once from CPUID; all give identical bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// y[i] = saturate(round_half_even(x[i] / scale) + zero_point) for i in [0, n); NaN becomes the zero point.
void q8_quantize_s8(const float* x, int64_t n, float scale, int32_t zero_point, int8_t* y);
void q8_quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y);

// y[i] = float(x[i] - zero_point) * scale for i in [0, n).
void q8_dequantize_s8(const int8_t* x, int64_t n, float scale, int32_t zero_point, float* y);
void q8_dequantize_u8(const uint8_t* x, int64_t n, float scale, int32_t zero_point, float* y);

// The same with scale[i] and zero_point[i] for element i (a row of per-axis parameters; zero points as floats
// holding integers), for tensors quantized along an axis with few elements per channel run.
void q8_quantize_s8_row(const float* x, int64_t n, const float* scale, const float* zero_point, int8_t* y);
void q8_quantize_u8_row(const float* x, int64_t n, const float* scale, const float* zero_point, uint8_t* y);
void q8_dequantize_s8_row(const int8_t* x, int64_t n, const float* scale, const float* zero_point, float* y);
void q8_dequantize_u8_row(const uint8_t* x, int64_t n, const float* scale, const float* zero_point, float* y);

// The variant in use ("q8_convert__avx512", ...), every variant this CPU runs, and test selection ("" = CPUID's
// choice; false for a name the CPU cannot run).
const char* q8_convert_kernel_name();
std::vector<std::string> q8_convert_kernel_names();
bool q8_convert_select_kernel(const std::string& name);

}  // namespace tessera

// Per-tensor quantization parameters of the com.microsoft QLinear* operators (a float scale and a zero point of
// the tensor's 8-bit type), read from a kernel's inputs, and the 256-entry lookup tables that requantize or map
// every 8-bit value at once, with ONNX Runtime's roundings.
#pragma once

#include <cstdint>
#include <functional>

#include "ops/kernel.h"

namespace tessera::qlinear {

struct QuantParam {
  float scale = 1;
  float zero_point = 0;
};

// The scale (input scale_index: one float) and zero point (input zp_index, optional: 0; one value of `dtype`) of
// an operand; errors name `what` and the tensors.
QuantParam read_param(KernelContext& ctx, size_t scale_index, size_t zp_index, DType dtype, const char* what);

// True for the 8-bit types the QLinear operators take (int8, uint8).
inline bool is_q8(DType dtype) { return dtype == DType::kInt8 || dtype == DType::kUint8; }

// q (already rounded, zero point added) saturated into int8 (is_signed) or uint8 and returned as its byte; NaN gives
// the lowest value.
uint8_t saturate_q8(float q, bool is_signed);

// saturate(round_half_even(value / scale) + zero_point) in the range of int8 (is_signed) or uint8, as ONNX
// Runtime's MlasQuantizeLinear; NaN gives the lowest value.
uint8_t quantize_one(float value, const QuantParam& p, bool is_signed);

// table[b] for every byte b read as int8 (is_signed) or uint8: quantize(f(dequantize(b))) with the input and
// output parameters, where dequantize(b) = in.scale * (b - in.zero_point) in float (ONNX Runtime's lookup-table
// operators build the same table).
void build_lookup_table(const QuantParam& in, const QuantParam& out, bool is_signed,
                        const std::function<float(float)>& f, uint8_t table[256]);

// dst[i] = table[src[i]] over `count` bytes, split over the pool.
void apply_lookup_table(const uint8_t table[256], const uint8_t* src, int64_t count, uint8_t* dst,
                        Parallelism& parallelism);

}  // namespace tessera::qlinear

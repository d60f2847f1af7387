// Quantization parameters and quantized values of constant weights, computed as ONNX Runtime's quantization tool
// computes them (onnxruntime.quantization.quant_utils: compute_scale_zp and quantize_nparray), in float32, so a
// model quantized by Tessera and one quantized by ONNX Runtime hold the same integers.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"

namespace tessera::quantize {

// How weights are quantized.
struct WeightQuantization {
  DType type = DType::kInt8;  // kInt8 or kUint8
  bool symmetric = true;      // range centred on 0 (zero point 0 for int8, 128 for uint8)
  bool reduce_range = false;  // 7-bit ranges, for CPUs whose int8 dot products can saturate
  // The integer range [qmin, qmax] of these settings: int8 symmetric [-127, 127] (reduced [-64, 64]), int8
  // [-128, 127] ([-64, 64]), uint8 [0, 255] ([0, 127]).
  int qmin() const;
  int qmax() const;
};

// One scale and zero point per tensor or per channel.
struct QuantParams {
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
};

// Scale and zero point for a value range [rmin, rmax]: the range is widened to include 0 (and made symmetric when
// asked); scale = (rmax - rmin) / (qmax - qmin) and zero point = round(qmin - rmin / scale), clipped to the range;
// an all-zero range gets scale 1 and zero point 0 (symmetric uint8: 128 is kept).
void scale_and_zero_point(float rmin, float rmax, const WeightQuantization& q, float& scale, int32_t& zero_point);

// Quantizes a float32 weight: one (scale, zero point) for the whole tensor, or with `axis` >= 0 one per index of
// that axis. Each element becomes clip(round_half_even(w / scale) + zero_point, qmin, qmax) of `q.type`.
// `values` receives the quantized tensor (same shape, dtype q.type).
QuantParams quantize_weight(const Tensor& weight, const WeightQuantization& q, int64_t axis, Tensor& values);

// An LSTM weight, W [dirs, 4 * hidden, input] or R [dirs, 4 * hidden, hidden], quantized as onnxruntime's
// quantize_dynamic quantizes it for com.microsoft DynamicQuantizeLSTM: one (scale, zero point) per direction, or
// with `per_row` one per row of 4 * hidden (scales ordered [dirs, 4 * hidden]); `values` receives the quantized
// weight transposed to the layout DynamicQuantizeLSTM reads, [dirs, input or hidden, 4 * hidden].
QuantParams quantize_lstm_weight(const Tensor& weight, const WeightQuantization& q, bool per_row, Tensor& values);

}  // namespace tessera::quantize

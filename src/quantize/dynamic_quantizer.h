// Dynamic quantization of a float model (`tessera quantize --mode dynamic`): constant weights become int8/uint8
// ahead of time; activations are quantized to uint8 at run time by DynamicQuantizeLinear. The graph written is
// the standard ONNX form ONNX Runtime's quantize_dynamic writes (QOperator format), so it loads in any ONNX
// runtime; Tessera's optimizer fuses each group back into one com.microsoft DynamicQuantizeMatMul:
//
//   MatMul(A, W)        ->  DynamicQuantizeLinear(A) -> A_q, A_scale, A_zp      (one per distinct A)
//   Gemm(A, W, C)           MatMulInteger(A_q, W_quantized, A_zp, W_zero_point) -> int32
//                           Cast(to float) -> Mul(., Mul(A_scale, W_scale)) [-> Add(., C)] -> the node's output
//
//   com.microsoft Attention  ->  DynamicQuantizeLinear(input) -> com.microsoft QAttention(input_q, W_quantized, bias,
//     (weights [In, 3H])           input_scale, W_scale, mask_index, input_zp, W_zero_point, past)
//   LSTM (W, R constant)     ->  com.microsoft DynamicQuantizeLSTM(X, W_quantized, R_quantized, B, ..., W_scale,
//                                W_zero_point, R_scale, R_zero_point): int8 W and R transposed to [dirs, size, 4H],
//                                scales per direction ([dirs]) or per row of 4H ([dirs, 4H]) with per_channel
//   GRU, LSTM of layout 1    ->  the same node reading W and R through DequantizeLinear(W_quantized, W_scale,
//     (W, R constant)            W_zero_point): 8-bit weights of --weight-type, scales per direction (axis 0) or per
//                                gate row (axis 1) with per_channel. ONNX Runtime has no quantized GRU and loads this
//                                as the float op on the dequantized weights; Tessera's optimizer fuses it into
//                                com.tessera DynamicQuantizeRecurrent (X and h quantized at run time)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"
#include "quantize/weight_quantization.h"

namespace tessera::quantize {

struct DynamicQuantizeOptions {
  WeightQuantization weights;  // int8 symmetric by default, as onnxruntime's QInt8 weights
  bool per_channel = false;    // one scale per output column of each weight instead of one per tensor
  // Which op types are quantized: MatMul, Gemm, Attention (com.microsoft), LSTM, GRU; all of them by default
  // (quantize_dynamic's default, plus GRU, which it leaves float).
  std::vector<std::string> op_types = {"MatMul", "Gemm", "Attention", "LSTM", "GRU"};
  std::vector<std::string> include_nodes;  // when non-empty, only nodes named here
  std::vector<std::string> exclude_nodes;  // never these nodes
};

// One node the quantizer looked at.
struct QuantizedNode {
  std::string node;  // node name (or its first output when unnamed)
  std::string op_type;
  std::string detail;  // what it became, or why it was left in float
};

struct QuantizeReport {
  std::vector<QuantizedNode> quantized;
  std::vector<QuantizedNode> skipped;   // candidates (by op type) left in float, with the reason
  uint64_t float_weight_bytes = 0;      // float weights replaced
  uint64_t quantized_weight_bytes = 0;  // their quantized values, scales and zero points
};

// Quantizes `model`'s main graph in place (subgraphs are left in float). Requires ai.onnx opset >= 11
// (DynamicQuantizeLinear); throws kUnsupported otherwise, and kInvalidArgument for unsupported op types or
// weight types in `options`.
QuantizeReport quantize_dynamic(Model& model, const DynamicQuantizeOptions& options);

}  // namespace tessera::quantize

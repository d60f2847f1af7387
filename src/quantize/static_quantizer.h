// Static quantization in the QDQ format (`tessera quantize --mode static`), as onnxruntime's quantize_static writes
// it: for each quantized Conv, MatMul and Gemm, its activation input and its output get a QuantizeLinear ->
// DequantizeLinear pair with the calibrated scale and zero point, its weight is stored as int8/uint8 behind a
// DequantizeLinear (per tensor or per output channel), and its bias as int32 with scale input_scale * weight_scale.
// A quantized graph output becomes the DequantizeLinear's output (its producer writes a new name), as onnxruntime
// writes it. Every runtime reads the result; Tessera's qdq_fusion turns the groups into QLinearConv / QLinearMatMul.
//
// A Relu or a Clip from 0 (ReLU6) right after a quantized node (its only reader) is kept, and the pair goes after it:
// with its range [0, max] the zero point is the type's minimum, so the fused integer op can absorb it exactly.
#pragma once

#include <string>
#include <vector>

#include "ir/model.h"
#include "quantize/calibration.h"
#include "quantize/dynamic_quantizer.h"

namespace tessera::quantize {

struct StaticQuantizeOptions {
  WeightQuantization weights;            // int8 symmetric by default, as onnxruntime's QInt8 weights
  DType activation_type = DType::kInt8;  // int8 (asymmetric [-128, 127], onnxruntime's default) or uint8
  bool symmetric_activations = false;    // activation ranges centred on 0 (onnxruntime's ActivationSymmetric)
  // QOperator format: the QDQ groups are then folded into QLinearConv / QLinearMatMul and com.microsoft
  // QLinearAdd / QLinearMul (Tessera's qdq_fusion and qdq_binary_fusion), as onnxruntime's QuantFormat.QOperator
  // writes them; the Q/DQ pairs around other ops stay.
  bool qoperator = false;
  bool per_channel = false;  // one weight scale per output channel
  std::vector<std::string> op_types = {"Conv", "MatMul", "Gemm"};
  std::vector<std::string> include_nodes;
  std::vector<std::string> exclude_nodes;
};

// A node quantize_static will quantize: its activation input and the tensor quantized after it.
struct QuantizedLayer {
  std::string node;  // node_key: name, or first output when unnamed
  std::string op_type;
  std::string input;   // activation input (input 0)
  std::string output;  // its output, or the output of the Relu reading it
};

// The nodes quantize_static will quantize in `model` (graph order), with the tensors each one involves. Throws
// kInvalidArgument for unsupported op types or types in `options`.
std::vector<QuantizedLayer> layers_to_quantize(Model& model, const StaticQuantizeOptions& options);

// The tensors whose calibrated ranges quantize_static needs for `model` (activation inputs and outputs of the
// nodes it will quantize). Throws kInvalidArgument for unsupported op types or types in `options`.
std::vector<std::string> tensors_to_calibrate(Model& model, const StaticQuantizeOptions& options);

// Rewrites `model`'s main graph into the QDQ form with the ranges of `ranges`. Requires ai.onnx opset >= 10
// (>= 13 with per_channel, for DequantizeLinear's axis); throws kUnsupported otherwise and kInvalidArgument when a
// tensor to quantize has no range.
QuantizeReport quantize_static(Model& model, const CalibrationTable& ranges, const StaticQuantizeOptions& options);

}  // namespace tessera::quantize

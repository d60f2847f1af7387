// Comparing two runs of a model node by node: the same model under two configurations (optimization level,
// disabled passes, thread count) or two models, on the same feeds. Each side's graph is optimized as its session
// would optimize it, then every node output is captured; values are matched by name (a fused node keeps the
// name of the last output of the chain it replaced, so it maps to that value), in the first side's graph order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/session.h"

namespace tessera {

// One side of a comparison.
struct CompareSide {
  std::string model_path;
  SessionOptions options;  // optimization level and disabled passes, threads
  std::string label;       // how reports name this side ("opt-level all", "threads 2", a file name)
};

// Every tensor a run computed, in graph order.
struct CapturedRun {
  std::vector<std::string> order;                        // node outputs in the order the graph computes them
  std::unordered_map<std::string, Tensor> values;        // value name -> its tensor
  std::unordered_map<std::string, std::string> node_of;  // value name -> producing node's name
  std::unordered_map<std::string, std::string> op_of;    // value name -> producing node's op ("domain.Op" off ai.onnx)
};

// A session whose outputs are every node output of its optimized graph. A quantized value made by a
// QuantizeLinear with constant per-tensor scale and zero point (as `tessera quantize` and onnxruntime write them)
// also stands for its float original: when the optimized graph no longer computes the QuantizeLinear's input X
// (fused into an integer op), the capture reports X as the dequantized value, so a float model and its quantized
// form compare layer by layer. Likewise a channels-last output of com.tessera NhwcConv (the nhwc_layout pass names
// it after its NCHW original plus "_nhwc") stands for that original, transposed back, so values inside a
// channels-last chain are compared too.
class CapturingSession {
 public:
  // Loads `side.model_path`, optimizes it at side.options' level (less the disabled passes) and compiles it so
  // that every tensor node output is returned. Throws like Session.
  explicit CapturingSession(const CompareSide& side);
  // The model's own inputs (for building feeds).
  const std::vector<IoInfo>& inputs() const { return inputs_; }
  // The names of the initializers that back some inputs (those feeds may leave out).
  const std::vector<std::string>& defaulted_inputs() const { return defaulted_; }
  // Runs on `feeds` and returns what every node produced.
  CapturedRun run(const std::vector<std::pair<std::string, RuntimeValue>>& feeds) const;

 private:
  std::vector<IoInfo> inputs_;
  std::vector<std::string> defaulted_;
  std::vector<std::string> captured_;  // the session's outputs, in order
  std::vector<std::string> order_;     // node outputs in graph order
  std::unordered_map<std::string, std::string> node_of_, op_of_;
  // Quantized value -> its float original, scale and zero point (from the graph before optimization).
  struct Dequantization {
    std::string source;
    float scale = 1;
    double zero_point = 0;
  };
  std::unordered_map<std::string, Dequantization> dequantize_;
  // Channels-last NhwcConv output -> the NCHW value it holds transposed.
  std::unordered_map<std::string, std::string> channels_last_;
  std::unique_ptr<Session> session_;
};

// The difference of one value between the two sides.
struct ValueDiff {
  std::string value, node, op;  // the value and its producer on side A
  double max_abs = 0;           // max |a - b| over the elements
  double ref_max = 0;           // max |a|
  double relative = 0;          // max_abs / max(ref_max, tiny): the error relative to the value's scale
  bool diverges = false;        // beyond atol + rtol * ref_max, or shape/dtype differ
  std::string note;             // why the values could not be compared element by element, if so
};

struct ModelComparison {
  std::vector<ValueDiff> values;        // the values both sides computed, in side A's graph order
  int first_divergence = -1;            // index into values of the first diverging value, -1 when none
  size_t only_in_a = 0, only_in_b = 0;  // values one side computed and the other did not (fused away)
};

// Compares every value `a` and `b` both computed; a value diverges when max_abs > atol + rtol * ref_max (NaN in
// only one side, a shape or a dtype difference also diverge).
ModelComparison compare_runs(const CapturedRun& a, const CapturedRun& b, double rtol, double atol);

}  // namespace tessera

// FP16 conversion of a float model (`tessera convert-fp16`), as onnxconverter-common's convert_float_to_float16
// does it: float32 initializers, constants and values become float16 (constants clamped into float16's finite
// range, tiny non-zero values kept as the smallest subnormal instead of flushed to zero); nodes whose op type or
// name is blocked stay float32 behind Cast nodes; with keep_io_types the graph inputs and outputs stay float32 and
// Cast at the boundary. Nodes with subgraphs stay float32 (their bodies are not converted).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"

namespace tessera::quantize {

// The op types onnxconverter-common keeps in float32 by default (ai.onnx.ml ops, Resize, TopK, NonMaxSuppression,
// RoiAlign, Range, CumSum, Min, Max, Upsample, RandomUniformLike, ...), plus the ops whose float type Tessera cannot
// change from the outside (random generators, EyeLike) and the quantization ops whose scales must stay float32.
std::vector<std::string> default_fp16_op_block_list();

struct Float16Options {
  bool keep_io_types = false;  // graph inputs/outputs stay float32
  std::vector<std::string> op_block_list = default_fp16_op_block_list();
  std::vector<std::string> node_block_list;  // node names (or first outputs) kept in float32
};

struct Float16Report {
  size_t converted_initializers = 0;
  size_t clamped_values = 0;  // initializer/constant elements moved into float16's range
  size_t casts_inserted = 0;
  std::vector<std::string> blocked_nodes;      // node names kept in float32
  uint64_t bytes_before = 0, bytes_after = 0;  // of the float initializers converted
};

// Converts `model`'s main graph in place. Throws kInvalidModel (naming the node) when types cannot be inferred.
Float16Report convert_to_float16(Model& model, const Float16Options& options);

}  // namespace tessera::quantize

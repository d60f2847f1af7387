#include "ir/opset_semantics.h"

namespace tessera {

namespace {

// From the ONNX operator changelog (docs/Changelog.md of ONNX 1.23): the versions whose changes alter what an
// existing model computes or how it must be written, not those that only add types.
const std::vector<OpsetSemanticsChange>& all_changes() {
  static const std::vector<OpsetSemanticsChange> changes = {
      {"Softmax", 13,
       "normalizes along `axis` only (default -1); before, the input was flattened to 2-D at `axis` "
       "(default 1) and normalized over all the trailing dims together"},
      {"LogSoftmax", 13, "along `axis` only (default -1); before, over the 2-D coercion at `axis` (default 1)"},
      {"Hardmax", 13, "along `axis` only (default -1); before, over the 2-D coercion at `axis` (default 1)"},
      {"Clip", 11, "min and max became optional inputs (attributes before)"},
      {"Pad", 11, "pads and the constant value became inputs (attributes before)"},
      {"Pad", 18, "an optional axes input selects the padded axes"},
      {"Pad", 19, "mode 'wrap' added"},
      {"Resize", 11,
       "coordinate_transformation_mode (default half_pixel), nearest_mode and cubic_coeff_a added: "
       "opset 10's Resize computed as 'asymmetric' with floor nearest rounding, so the same model "
       "resamples differently"},
      {"Resize", 13, "roi and scales became optional; tf_crop_and_resize extrapolation clarified"},
      {"Resize", 18, "antialias, axes and keep_aspect_ratio_policy added"},
      {"Resize", 19, "coordinate mode half_pixel_symmetric added"},
      {"Upsample", 10, "deprecated (use Resize)"},
      {"Slice", 10, "starts, ends and axes became inputs (attributes before); steps added"},
      {"TopK", 10, "k became an input (an attribute before)"},
      {"TopK", 11, "largest and sorted added; negative axis allowed"},
      {"Reshape", 5, "the shape became an input (an attribute before)"},
      {"Reshape", 14, "allowzero: a 0 in the shape may mean a zero dim instead of 'copy the input dim'"},
      {"Squeeze", 13, "axes became an input (an attribute before)"},
      {"Unsqueeze", 13, "axes became an input (an attribute before)"},
      {"Split", 13, "split became an input (an attribute before)"},
      {"Split", 18, "num_outputs added; uneven splits allowed"},
      {"ReduceSum", 13, "axes became an input (an attribute before); noop_with_empty_axes added"},
      {"ReduceMean", 18, "axes became an input (an attribute before); noop_with_empty_axes added"},
      {"ReduceMax", 18, "axes became an input (an attribute before); noop_with_empty_axes added"},
      {"ReduceMin", 18, "axes became an input (an attribute before); noop_with_empty_axes added"},
      {"ReduceProd", 18, "axes became an input (an attribute before); noop_with_empty_axes added"},
      {"ReduceL1", 18, "axes became an input (an attribute before)"},
      {"ReduceL2", 18, "axes became an input (an attribute before)"},
      {"ReduceLogSum", 18, "axes became an input (an attribute before)"},
      {"ReduceLogSumExp", 18, "axes became an input (an attribute before)"},
      {"ReduceSumSquare", 18, "axes became an input (an attribute before)"},
      {"ReduceMax", 20, "empty reductions and boolean inputs defined"},
      {"ArgMax", 12, "select_last_index added (ties keep the first index by default)"},
      {"ArgMin", 12, "select_last_index added (ties keep the first index by default)"},
      {"BatchNormalization", 9, "the spatial attribute removed (per-channel statistics always)"},
      {"BatchNormalization", 14, "training_mode added; running statistics outputs only in training"},
      {"Dropout", 12, "ratio and training_mode became inputs; outside training it is an identity"},
      {"MaxPool", 10, "ceil_mode and dilations added"},
      {"MaxPool", 11, "pads semantics clarified for auto_pad"},
      {"AveragePool", 10, "ceil_mode added"},
      {"AveragePool", 19, "dilations added"},
      {"Gemm", 11, "C became optional"},
      {"Concat", 4, "axis became required (default 1 before)"},
      {"Flatten", 11, "negative axis allowed"},
      {"Scatter", 11, "deprecated (use ScatterElements)"},
      {"ScatterElements", 16, "reduction (add, mul) added"},
      {"ScatterND", 16, "reduction (add, mul) added"},
      {"GatherND", 12, "batch_dims added"},
      {"Cast", 19, "saturate added for float8 targets (out-of-range values saturate by default)"},
      {"DequantizeLinear", 13, "per-axis scales and zero points (axis)"},
      {"QuantizeLinear", 13, "per-axis scales and zero points (axis)"},
      {"DequantizeLinear", 21, "block quantization (block_size)"},
      {"QuantizeLinear", 21, "block quantization (block_size) and output_dtype"},
      {"GroupNormalization", 21,
       "scale and bias are per channel (per group in opset 18), so the same weights "
       "mean something else"},
      {"LayerNormalization", 17, "added as one op (exporters wrote it decomposed before)"},
      {"Mod", 10, "added (fmod selects C fmod semantics for floats)"},
      {"If", 13, "branches may produce sequences"},
      {"Loop", 13, "the loop-carried values may be sequences"},
      {"Loop", 16, "optional values allowed"},
      {"Range", 27, "float16 and bfloat16 added, accumulated in float by default (stash_type)"},
      {"Shape", 15, "start and end select a slice of the shape"},
      {"Trilu", 14, "added in ai.onnx (com.microsoft before)"},
      {"Gelu", 20, "added in ai.onnx (approximate: none or tanh)"},
      {"Attention", 23, "added in ai.onnx; com.microsoft Attention has other inputs and semantics"},
      {"DFT", 20, "axis became an input (an attribute before) and its default moved from 1 to -2"},
      {"GridSample", 20, "modes renamed (bilinear -> linear, bicubic -> cubic) and N-D inputs allowed"},
      {"Scan", 9, "the sequence_lens input and the batch axis removed (scan_input_axes added)"},
      {"RoiAlign", 16, "coordinate_transformation_mode added with default half_pixel (output_half_pixel before)"},
  };
  return changes;
}

}  // namespace

std::vector<OpsetSemanticsChange> opset_semantics_changes(const std::string& op, int64_t from_opset, int64_t to_opset) {
  std::vector<OpsetSemanticsChange> out;
  for (const OpsetSemanticsChange& c : all_changes()) {
    if (c.op == op && c.version > from_opset && c.version <= to_opset) out.push_back(c);
  }
  return out;
}

}  // namespace tessera

// Calibration for static quantization: runs the float model over a data set and records the value range of the
// tensors that will be quantized, as onnxruntime.quantization's calibraters do (MinMax with an optional moving
// average, Percentile, Entropy).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/runtime_value.h"
#include "ir/model.h"
#include "quantize/value_capture.h"

namespace tessera::quantize {

enum class CalibrationMethod {
  kMinMax,      // min and max seen over the data set (or their moving average)
  kPercentile,  // |x| clipped at a percentile of its histogram
  kEntropy,     // |x| clipped where the quantized histogram loses least information (KL divergence, as TensorRT)
};

// Parses "minmax", "percentile" or "entropy"; throws kInvalidArgument otherwise.
CalibrationMethod parse_calibration_method(const std::string& text);

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  bool moving_average = false;       // MinMax: range = running average of each sample's min/max ...
  float averaging_constant = 0.01f;  // ... updated as r += c * (sample - r)
  double percentile = 99.999;        // Percentile: the share of |x| (in %) kept inside the range
  int histogram_bins = 2048;         // Percentile and Entropy: bins of the |x| histogram over [0, max |x|]
  int quantized_bins = 128;          // Entropy: levels the candidate ranges are quantized to
  int intra_op_threads = 0;          // threads of the calibration session (0: one per core)
};

// A tensor's calibrated range.
struct TensorRange {
  float min = 0;
  float max = 0;
};

using CalibrationTable = std::map<std::string, TensorRange>;

// Runs `model` (optimizations disabled, so value names stay) on every feed set of `data` and returns the range of
// each float tensor named in `tensors` (graph inputs or node outputs). Histogram methods run the data set twice
// (ranges first, then histograms). `progress(done, total)` is called after each run when given. Throws like
// Session::run (the message names the node) and kInvalidArgument when `data` is empty or a tensor is not a
// float32 value of the graph.
CalibrationTable calibrate(Model model, const std::vector<std::string>& tensors, const std::vector<Feeds>& data,
                           const CalibrationOptions& options,
                           const std::function<void(size_t, size_t)>& progress = nullptr);

// The threshold on |x| a histogram method chooses from `histogram` (counts of |x| over [0, max_abs] in equal
// bins): Percentile's value below which `percentile`% of the mass lies, or Entropy's KL-minimizing cut. Exposed
// for tests.
float histogram_threshold(const std::vector<double>& histogram, float max_abs, const CalibrationOptions& options);

}  // namespace tessera::quantize

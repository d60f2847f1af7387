// The accuracy budget of static quantization (`tessera quantize --mode static --validate DIR --max-drop X`): the
// model is quantized, its accuracy drop against the float model measured on a validation set, and while the drop
// exceeds the budget the node whose quantization adds the most error (its output's error minus its input's, from a
// layer-by-layer comparison with the float model) is kept in float, one at a time.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "quantize/calibration.h"
#include "quantize/static_quantizer.h"

namespace tessera::quantize {

enum class AccuracyMetric {
  kTop1,        // drop = share of rows (of the first output, last axis = classes) whose argmax changes
  kRelativeL2,  // drop = mean over samples of ||quantized - float|| / ||float|| of the first output
};

// Parses "top1" or "l2"; throws kInvalidArgument otherwise.
AccuracyMetric parse_accuracy_metric(const std::string& text);

struct BudgetOptions {
  AccuracyMetric metric = AccuracyMetric::kTop1;
  double max_drop = 0.01;  // as a fraction (1% = 0.01)
  int max_steps = 32;      // most nodes kept in float before giving up
};

// The error one quantized node adds, measured on the validation set.
struct LayerError {
  std::string node;
  std::string op_type;
  std::string tensor;  // the value compared (the node's output, or the Relu's after it)
  double error = 0;    // mean relative L2 of the value against the float model's
  double added = 0;    // error minus the error of the node's input
};

struct BudgetResult {
  double initial_drop = 0;
  double final_drop = 0;
  bool met = false;
  std::vector<std::string> kept_float;  // in the order they were excluded
  std::vector<double> drops;            // the drop after each exclusion
  std::vector<LayerError> before;       // per quantized layer, fully quantized
  std::vector<LayerError> after;        // per quantized layer, final model
  QuantizeReport report;                // of the final quantization
};

// Quantizes `load_float()` (a fresh float model each call) with `ranges` and `options`, then searches which nodes to
// keep in float until the drop on `validation` is at most budget.max_drop (or max_steps nodes are excluded, or
// none is left). `quantized` receives the final model. `progress(line)` reports each step when given.
BudgetResult search_accuracy_budget(const std::function<Model()>& load_float, const CalibrationTable& ranges,
                                    StaticQuantizeOptions options, const std::vector<Feeds>& validation,
                                    const BudgetOptions& budget, Model& quantized,
                                    const std::function<void(const std::string&)>& progress = nullptr);

// The before/after per-layer errors as a self-contained HTML page with an inline SVG plot (error per layer in graph
// order, fully quantized vs final) and the table of nodes kept in float.
std::string budget_report_html(const BudgetResult& result, const BudgetOptions& budget, const std::string& model_name);

}  // namespace tessera::quantize

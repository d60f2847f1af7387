#include "quantize/accuracy_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "base/error.h"
#include "base/html.h"
#include "base/lazy_text.h"
#include "quantize/value_capture.h"

namespace tessera::quantize {
namespace {

double relative_l2(const Tensor& got, const Tensor& want) {
  check_argument(
      got.element_count() == want.element_count() && got.dtype() == DType::kFloat && want.dtype() == DType::kFloat,
      "cannot compare ", tensor_text(got), " with ", tensor_text(want));
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.element_count(); ++i) {
    const double d = static_cast<double>(got.data<float>()[i]) - want.data<float>()[i];
    num += d * d;
    den += static_cast<double>(want.data<float>()[i]) * want.data<float>()[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// The argmax of each row (last axis) of a float tensor.
std::vector<int64_t> row_argmax(const Tensor& t) {
  check_argument(t.dtype() == DType::kFloat && t.rank() >= 1, "top-1 needs float scores, got ", tensor_text(t));
  const int64_t classes = t.dim(t.rank() - 1);
  std::vector<int64_t> best;
  for (int64_t row = 0; classes > 0 && row < t.element_count() / classes; ++row) {
    const float* v = t.data<float>() + row * classes;
    best.push_back(std::max_element(v, v + classes) - v);
  }
  return best;
}

double drop_of(AccuracyMetric metric, const std::vector<Tensor>& reference, const std::vector<Tensor>& outputs) {
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    if (metric == AccuracyMetric::kRelativeL2) {
      sum += relative_l2(outputs[i], reference[i]);
      ++count;
      continue;
    }
    const std::vector<int64_t> a = row_argmax(reference[i]), b = row_argmax(outputs[i]);
    for (size_t r = 0; r < a.size() && r < b.size(); ++r) sum += a[r] != b[r];
    count += a.size();
  }
  return count == 0 ? 0 : sum / static_cast<double>(count);
}

std::vector<Tensor> first_outputs(Model model, OptimizationLevel level, const std::vector<Feeds>& data) {
  const ValueCapture capture(std::move(model), {}, level);
  std::vector<Tensor> out;
  for (const Feeds& feeds : data) out.push_back(capture.first_output(feeds));
  return out;
}

// Each layer's output error against the float model, and how much it adds to its input's error.
std::vector<LayerError> layer_errors(const std::vector<QuantizedLayer>& layers, Model float_model, Model quantized,
                                     const std::vector<Feeds>& data) {
  std::vector<std::string> names;
  for (const QuantizedLayer& l : layers) names.insert(names.end(), {l.input, l.output});
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const ValueCapture reference(std::move(float_model), names, OptimizationLevel::kDisabled);
  const ValueCapture test(std::move(quantized), names, OptimizationLevel::kDisabled);
  std::map<std::string, double> error;
  for (const Feeds& feeds : data) {
    const auto want = reference.run(feeds);
    const auto got = test.run(feeds);
    for (const std::string& name : names) {
      auto w = want.find(name), g = got.find(name);
      if (w != want.end() && g != got.end()) error[name] += relative_l2(g->second, w->second) / data.size();
    }
  }
  std::vector<LayerError> out;
  for (const QuantizedLayer& l : layers) {
    out.push_back({l.node, l.op_type, l.output, error[l.output], error[l.output] - error[l.input]});
  }
  return out;
}

}  // namespace

AccuracyMetric parse_accuracy_metric(const std::string& text) {
  if (text == "top1") return AccuracyMetric::kTop1;
  if (text == "l2" || text == "relative-l2") return AccuracyMetric::kRelativeL2;
  fail(ErrorCode::kInvalidArgument, "unknown accuracy metric '", text, "' (use top1 or l2)");
}

BudgetResult search_accuracy_budget(const std::function<Model()>& load_float, const CalibrationTable& ranges,
                                    StaticQuantizeOptions options, const std::vector<Feeds>& validation,
                                    const BudgetOptions& budget, Model& quantized,
                                    const std::function<void(const std::string&)>& progress) {
  check_argument(!validation.empty(), "the accuracy budget needs at least one validation sample");
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  Model probe = load_float();
  const std::vector<QuantizedLayer> layers = layers_to_quantize(probe, options);
  const std::vector<Tensor> reference = first_outputs(load_float(), OptimizationLevel::kAll, validation);
  auto quantize = [&](QuantizeReport* report) {
    Model model = load_float();
    QuantizeReport r = quantize_static(model, ranges, options);
    if (report != nullptr) *report = std::move(r);
    return model;
  };
  auto measure = [&]() {
    return drop_of(budget.metric, reference, first_outputs(quantize(nullptr), OptimizationLevel::kAll, validation));
  };

  BudgetResult result;
  result.before = layer_errors(layers, load_float(), quantize(nullptr), validation);
  result.initial_drop = measure();
  result.final_drop = result.initial_drop;
  char line[256];
  std::snprintf(line, sizeof line, "fully quantized: drop %.4f (budget %.4f)", result.initial_drop, budget.max_drop);
  say(line);
  // Candidates: the layers adding the most error first.
  std::vector<LayerError> order = result.before;
  std::stable_sort(order.begin(), order.end(),
                   [](const LayerError& a, const LayerError& b) { return a.added > b.added; });
  for (const LayerError& layer : order) {
    if (result.final_drop <= budget.max_drop || static_cast<int>(result.kept_float.size()) >= budget.max_steps) break;
    options.exclude_nodes.push_back(layer.node);
    result.kept_float.push_back(layer.node);
    result.final_drop = measure();
    result.drops.push_back(result.final_drop);
    std::snprintf(line, sizeof line, "kept %s (%s, adds %.4f) in float: drop %.4f", layer.node.c_str(),
                  layer.op_type.c_str(), layer.added, result.final_drop);
    say(line);
  }
  result.met = result.final_drop <= budget.max_drop;
  quantized = quantize(&result.report);
  result.after = layer_errors(layers, load_float(), quantize(nullptr), validation);
  return result;
}

std::string budget_report_html(const BudgetResult& result, const BudgetOptions& budget, const std::string& model_name) {
  const size_t n = result.before.size();
  double top = 1e-6;
  for (const auto* errors : {&result.before, &result.after}) {
    for (const LayerError& e : *errors) top = std::max(top, e.error);
  }
  const double width = 900, height = 300, left = 50, bottom = 30;
  auto x = [&](size_t i) { return left + (n <= 1 ? 0.0 : (width - left - 10) * i / (n - 1)); };
  auto y = [&](double e) { return height - bottom - (height - bottom - 10) * e / top; };
  auto polyline = [&](const std::vector<LayerError>& errors, const char* color) {
    std::ostringstream s;
    s << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
    for (size_t i = 0; i < errors.size(); ++i) s << x(i) << "," << y(errors[i].error) << " ";
    s << "'/>";
    return s.str();
  };
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset='utf-8'><title>Tessera quantization report: "
    << html_escape(model_name)
    << "</title><style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
    << "</style></head><body><h1>Quantization accuracy budget: " << html_escape(model_name) << "</h1>";
  h << "<p>Metric: " << (budget.metric == AccuracyMetric::kTop1 ? "top-1 disagreement" : "relative L2 of the output")
    << "; budget " << budget.max_drop << ". Fully quantized drop " << result.initial_drop << "; final drop "
    << result.final_drop << " (" << (result.met ? "within" : "NOT within") << " the budget) with "
    << result.kept_float.size() << " node(s) kept in float.</p>";
  h << "<h2>Error per quantized layer (relative L2 against the float model, graph order)</h2>";
  h << "<svg width='" << width << "' height='" << height << "' style='border:1px solid #ccc'>";
  h << "<line x1='" << left << "' y1='" << y(0) << "' x2='" << width << "' y2='" << y(0) << "' stroke='#888'/>";
  h << "<text x='2' y='" << y(top) + 10 << "' font-size='11'>" << top << "</text>";
  h << "<text x='2' y='" << y(0) << "' font-size='11'>0</text>";
  h << polyline(result.before, "#d62728") << polyline(result.after, "#1f77b4");
  h << "<text x='" << left + 10 << "' y='20' fill='#d62728'>fully quantized</text>";
  h << "<text x='" << left + 160 << "' y='20' fill='#1f77b4'>final</text></svg>";
  h << "<h2>Kept in float</h2><table><tr><th>step</th><th>node</th><th>drop after</th></tr>";
  for (size_t i = 0; i < result.kept_float.size(); ++i) {
    h << "<tr><td>" << i + 1 << "</td><td>" << html_escape(result.kept_float[i]) << "</td><td>" << result.drops[i]
      << "</td></tr>";
  }
  h << "</table><h2>Layers</h2><table><tr><th>#</th><th>node</th><th>op</th><th>error before</th><th>added before"
    << "</th><th>error after</th></tr>";
  for (size_t i = 0; i < n; ++i) {
    h << "<tr><td>" << i << "</td><td>" << html_escape(result.before[i].node) << "</td><td>" << result.before[i].op_type
      << "</td><td>" << result.before[i].error << "</td><td>" << result.before[i].added << "</td><td>"
      << (i < result.after.size() ? result.after[i].error : 0.0) << "</td></tr>";
  }
  h << "</table></body></html>\n";
  return h.str();
}

}  // namespace tessera::quantize

// tessera quantize: load a float model, quantize it and write the quantized model, listing what was quantized and
// what was left in float. Dynamic: int8 weights ahead of time, uint8 activations at run time (QOperator form, as
// onnxruntime's quantize_dynamic). Static: activations calibrated over a data set, QDQ form (as quantize_static).
#include <cstdio>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "feeds.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "passes/pass.h"
#include "quantize/accuracy_budget.h"
#include "quantize/calibration.h"
#include "quantize/dynamic_quantizer.h"
#include "quantize/static_quantizer.h"

namespace tessera::cli {

namespace {

DType integer_type_flag(const Arguments& arguments, const std::string& flag, DType default_type) {
  const auto text = arguments.value(flag);
  if (!text) return default_type;
  if (*text == "int8" || *text == "qint8") return DType::kInt8;
  if (*text == "uint8" || *text == "quint8") return DType::kUint8;
  throw UsageError{flag + " takes int8 or uint8, got '" + *text + "'"};
}

// The weight settings both modes take.
quantize::WeightQuantization weight_flags(const Arguments& arguments) {
  quantize::WeightQuantization weights;
  weights.type = integer_type_flag(arguments, "--weight-type", DType::kInt8);
  // onnxruntime's default: symmetric int8 weights, asymmetric uint8 weights.
  weights.symmetric = weights.type == DType::kInt8;
  if (arguments.has("--symmetric-weights") && arguments.has("--asymmetric-weights")) {
    throw UsageError{"--symmetric-weights and --asymmetric-weights exclude each other"};
  }
  if (arguments.has("--symmetric-weights")) weights.symmetric = true;
  if (arguments.has("--asymmetric-weights")) weights.symmetric = false;
  weights.reduce_range = arguments.has("--reduce-range");
  return weights;
}

double number_flag(const Arguments& arguments, const std::string& flag, double default_value) {
  const auto text = arguments.value(flag);
  if (!text) return default_value;
  try {
    size_t used = 0;
    const double value = std::stod(*text, &used);
    if (used == text->size()) return value;
  } catch (const std::exception&) {
  }
  throw UsageError{flag + " needs a number, got '" + *text + "'"};
}

// --max-drop: a fraction (0.01) or a percentage (1%); default 1%.
double drop_flag(const Arguments& arguments) {
  std::string text = arguments.value("--max-drop").value_or("1%");
  const bool percent = !text.empty() && text.back() == '%';
  if (percent) text.pop_back();
  Arguments number({"--max-drop", text}, {"--max-drop"}, {});
  const double value = number_flag(number, "--max-drop", 0) / (percent ? 100.0 : 1.0);
  if (value < 0 || value > 1) throw UsageError{"--max-drop must lie between 0 and 100%"};
  return value;
}

// The model as the quantizers see it: loaded, and unless --no-preprocess optimized at the basic level (constant
// folding and eliminations, standard ONNX ops only), as onnxruntime's quant_pre_process prepares a model.
Model load_for_quantization(const std::string& path, const Arguments& arguments) {
  Model model = load_model(path);
  if (!arguments.has("--no-preprocess")) optimize_graph(*model.graph, OptimizationLevel::kBasic);
  return model;
}

quantize::QuantizeReport quantize_statically(Model& model, const std::string& in, const Arguments& arguments) {
  const auto dir = arguments.value("--calibrate");
  if (!dir) throw UsageError{"--mode static needs --calibrate DIR (a folder of sample folders of inputs)"};
  quantize::StaticQuantizeOptions options;
  options.weights = weight_flags(arguments);
  options.activation_type = integer_type_flag(arguments, "--activation-type", DType::kInt8);
  options.symmetric_activations = arguments.has("--symmetric-activations");
  const std::string format = arguments.value("--quant-format").value_or("qdq");
  if (format != "qdq" && format != "qoperator") {
    throw UsageError{"--quant-format takes qdq or qoperator, got '" + format + "'"};
  }
  options.qoperator = format == "qoperator";
  options.per_channel = arguments.has("--per-channel");
  if (auto ops = arguments.value("--op-types")) options.op_types = split_commas(*ops);
  options.include_nodes = arguments.values("--include-node");
  options.exclude_nodes = arguments.values("--exclude-node");
  quantize::CalibrationOptions calibration;
  calibration.method = quantize::parse_calibration_method(arguments.value("--calibration-method").value_or("minmax"));
  calibration.moving_average = arguments.has("--moving-average");
  calibration.percentile = number_flag(arguments, "--percentile", calibration.percentile);

  const std::vector<std::string> tensors = quantize::tensors_to_calibrate(model, options);
  std::vector<IoInfo> inputs;
  std::vector<std::string> defaulted;
  for (const ValueInfo& v : model.graph->inputs) {
    inputs.push_back({v.name, v.type});
    if (model.graph->initializers.count(v.name)) defaulted.push_back(v.name);
  }
  const auto samples = read_sample_folders(*dir, inputs, defaulted);
  const quantize::CalibrationTable ranges = quantize::calibrate(
      load_for_quantization(in, arguments), tensors, samples, calibration, [](size_t done, size_t total) {
        std::fprintf(stderr, "\rcalibrating: %zu/%zu runs", done, total);
        if (done == total) std::fputc('\n', stderr);
      });
  const auto validate = arguments.value("--validate");
  if (!validate) return quantize::quantize_static(model, ranges, options);

  // The accuracy budget: keep the nodes that add the most error in float until the drop fits.
  quantize::BudgetOptions budget;
  budget.metric = quantize::parse_accuracy_metric(arguments.value("--metric").value_or("top1"));
  budget.max_drop = drop_flag(arguments);
  const auto validation = read_sample_folders(*validate, inputs, defaulted);
  const quantize::BudgetResult result = quantize::search_accuracy_budget(
      [&] { return load_for_quantization(in, arguments); }, ranges, options, validation, budget, model,
      [](const std::string& line) { std::printf("  %s\n", line.c_str()); });
  std::printf("accuracy budget %s: drop %.4f with %zu node(s) kept in float (fully quantized: %.4f)\n",
              result.met ? "met" : "NOT met", result.final_drop, result.kept_float.size(), result.initial_drop);
  if (auto report = arguments.value("--report")) {
    write_file(*report, quantize::budget_report_html(result, budget, in));
    std::printf("report written to %s\n", report->c_str());
  }
  return result.report;
}

quantize::QuantizeReport quantize_dynamically(Model& model, const Arguments& arguments) {
  quantize::DynamicQuantizeOptions options;
  options.weights = weight_flags(arguments);
  options.per_channel = arguments.has("--per-channel");
  if (auto ops = arguments.value("--op-types")) options.op_types = split_commas(*ops);
  options.include_nodes = arguments.values("--include-node");
  options.exclude_nodes = arguments.values("--exclude-node");
  return quantize::quantize_dynamic(model, options);
}

}  // namespace

int quantize_command(const std::vector<std::string>& args) {
  const Arguments arguments(args,
                            {"--mode", "--weight-type", "--activation-type", "--op-types", "--include-node",
                             "--exclude-node", "--calibrate", "--calibration-method", "--percentile", "--validate",
                             "--max-drop", "--metric", "--report", "--quant-format", "--external-data-threshold"},
                            {"--per-channel", "--reduce-range", "--symmetric-weights", "--asymmetric-weights",
                             "--moving-average", "--symmetric-activations", "--no-preprocess", "--verbose"});
  if (arguments.positional().size() != 2) throw UsageError{"quantize needs an input MODEL and an OUTPUT path"};
  const std::string mode = arguments.value("--mode").value_or("dynamic");
  if (mode != "dynamic" && mode != "static") throw UsageError{"--mode takes dynamic or static, got '" + mode + "'"};
  for (const char* flag : {"--validate", "--max-drop", "--metric", "--report", "--calibrate", "--quant-format"}) {
    if (mode != "static" && arguments.value(flag)) throw UsageError{std::string(flag) + " needs --mode static"};
  }
  for (const char* flag : {"--max-drop", "--metric", "--report"}) {
    if (arguments.value(flag) && !arguments.value("--validate")) {
      throw UsageError{std::string(flag) + " needs --validate DIR"};
    }
  }
  ModelWriteOptions write_options;
  write_options.external_data_threshold = external_data_threshold_flag(arguments);
  const std::string& in = arguments.positional()[0];
  const std::string& out = arguments.positional()[1];
  Model model;
  try {
    model = load_for_quantization(in, arguments);
  } catch (const Error& e) {
    return report_load_error(e);
  }
  const quantize::QuantizeReport report =
      mode == "static" ? quantize_statically(model, in, arguments) : quantize_dynamically(model, arguments);
  save_model(model, out, write_options);
  for (const auto& q : report.quantized) {
    if (arguments.has("--verbose")) {
      std::printf("  quantized %-10s %s: %s\n", q.op_type.c_str(), q.node.c_str(), q.detail.c_str());
    }
  }
  for (const auto& s : report.skipped) {
    std::printf("  kept float %-9s %s: %s\n", s.op_type.c_str(), s.node.c_str(), s.detail.c_str());
  }
  std::printf("%s: %zu nodes quantized (%s), %zu kept float; weights %.1f MB -> %.1f MB; written to %s\n", in.c_str(),
              report.quantized.size(), mode.c_str(), report.skipped.size(), report.float_weight_bytes / 1e6,
              report.quantized_weight_bytes / 1e6, out.c_str());
  // Without VNNI the integer products run exactly on 16-bit operands, except for weights that fit in 7 bits.
  if (!report.quantized.empty() && !arguments.has("--reduce-range") && q8_gemm_has_narrow_b_kernel()) {
    std::printf(
        "note: this CPU has no VNNI; weights in 7 bits (--reduce-range) run its integer products ~1.4x faster, "
        "at some cost in accuracy (docs/QUANTIZATION.md)\n");
  }
  return kExitOk;
}

}  // namespace tessera::cli

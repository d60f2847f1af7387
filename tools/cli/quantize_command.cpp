// tessera quantize: load a float model, quantize it (dynamic: int8 weights ahead of time, uint8 activations at run
// time) and write the quantized model, listing what was quantized and what was left in float.
#include <cstdio>
#include <sstream>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "passes/pass.h"
#include "quantize/dynamic_quantizer.h"

namespace tessera::cli {

namespace {

std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

quantize::DynamicQuantizeOptions dynamic_options(const Arguments& arguments) {
  quantize::DynamicQuantizeOptions options;
  if (auto type = arguments.value("--weight-type")) {
    if (*type == "int8" || *type == "qint8") {
      options.weights.type = DType::kInt8;
    } else if (*type == "uint8" || *type == "quint8") {
      options.weights.type = DType::kUint8;
    } else {
      throw UsageError{"--weight-type takes int8 or uint8, got '" + *type + "'"};
    }
  }
  // onnxruntime's default: symmetric int8 weights, asymmetric uint8 weights.
  options.weights.symmetric = options.weights.type == DType::kInt8;
  if (arguments.has("--symmetric-weights")) options.weights.symmetric = true;
  if (arguments.has("--asymmetric-weights")) options.weights.symmetric = false;
  if (arguments.has("--symmetric-weights") && arguments.has("--asymmetric-weights")) {
    throw UsageError{"--symmetric-weights and --asymmetric-weights exclude each other"};
  }
  options.weights.reduce_range = arguments.has("--reduce-range");
  options.per_channel = arguments.has("--per-channel");
  if (auto ops = arguments.value("--op-types")) options.op_types = comma_list(*ops);
  options.include_nodes = arguments.values("--include-node");
  options.exclude_nodes = arguments.values("--exclude-node");
  return options;
}

}  // namespace

int quantize_command(const std::vector<std::string>& args) {
  const Arguments arguments(
      args, {"--mode", "--weight-type", "--op-types", "--include-node", "--exclude-node", "--external-data-threshold"},
      {"--per-channel", "--reduce-range", "--symmetric-weights", "--asymmetric-weights", "--no-preprocess",
       "--verbose"});
  if (arguments.positional().size() != 2) throw UsageError{"quantize needs an input MODEL and an OUTPUT path"};
  const std::string mode = arguments.value("--mode").value_or("dynamic");
  if (mode != "dynamic") {
    throw UsageError{"--mode " + mode +
                     ": only dynamic quantization is available (static quantization with calibration is not built "
                     "yet)"};
  }
  const quantize::DynamicQuantizeOptions options = dynamic_options(arguments);
  ModelWriteOptions write_options;
  write_options.external_data_threshold = external_data_threshold_flag(arguments);
  const std::string& in = arguments.positional()[0];
  const std::string& out = arguments.positional()[1];
  Model model;
  try {
    model = load_model(in);
  } catch (const Error& e) {
    return report_load_error(e);
  }
  // Preprocessing as onnxruntime's quant_pre_process: shapes inferred (inside the quantizer) and the basic,
  // standard-ONNX optimizations (constant folding, eliminations), so constant weights are recognised as such.
  if (!arguments.has("--no-preprocess")) optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const quantize::QuantizeReport report = quantize::quantize_dynamic(model, options);
  save_model(model, out, write_options);
  const bool verbose = arguments.has("--verbose");
  for (const auto& q : report.quantized) {
    if (verbose) std::printf("  quantized %-10s %s: %s\n", q.op_type.c_str(), q.node.c_str(), q.detail.c_str());
  }
  for (const auto& s : report.skipped) {
    std::printf("  kept float %-9s %s: %s\n", s.op_type.c_str(), s.node.c_str(), s.detail.c_str());
  }
  std::printf(
      "%s: %zu nodes quantized (dynamic, %s weights), %zu kept float; weights %.1f MB -> %.1f MB; written to %s\n",
      in.c_str(), report.quantized.size(), dtype_name(options.weights.type).c_str(), report.skipped.size(),
      report.float_weight_bytes / 1e6, report.quantized_weight_bytes / 1e6, out.c_str());
  return kExitOk;
}

}  // namespace tessera::cli

// tessera convert-fp16: converts a float32 model to float16 (onnxconverter-common's convert_float_to_float16
// rules) and writes it, listing what stayed float32.
#include <cstdio>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "quantize/float16_converter.h"

namespace tessera::cli {

int convert_fp16_command(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"--op-block-list", "--node-block-list", "--external-data-threshold"},
                            {"--keep-io-types", "--no-default-block-list", "--verbose"});
  if (arguments.positional().size() != 2) throw UsageError{"convert-fp16 needs an input MODEL and an OUTPUT path"};
  quantize::Float16Options options;
  options.keep_io_types = arguments.has("--keep-io-types");
  if (arguments.has("--no-default-block-list")) options.op_block_list.clear();
  for (const std::string& spec : arguments.values("--op-block-list")) {
    for (const std::string& op : split_commas(spec)) options.op_block_list.push_back(op);
  }
  for (const std::string& spec : arguments.values("--node-block-list")) {
    for (const std::string& node : split_commas(spec)) options.node_block_list.push_back(node);
  }
  ModelWriteOptions write_options;
  write_options.external_data_threshold = external_data_threshold_flag(arguments);
  const std::string& in = arguments.positional()[0];
  const std::string& out = arguments.positional()[1];
  Model model;
  if (const auto code = load_model_or_report(in, model)) return *code;
  const quantize::Float16Report report = quantize::convert_to_float16(model, options);
  save_model(model, out, write_options);
  if (arguments.has("--verbose")) {
    for (const std::string& node : report.blocked_nodes) std::printf("  kept float32: %s\n", node.c_str());
  }
  std::printf(
      "%s: %zu initializers to float16 (%.1f MB -> %.1f MB, %zu values clamped into range), %zu nodes kept "
      "float32, %zu Casts inserted; written to %s\n",
      in.c_str(), report.converted_initializers, report.bytes_before / 1e6, report.bytes_after / 1e6,
      report.clamped_values, report.blocked_nodes.size(), report.casts_inserted, out.c_str());
  return kExitOk;
}

}  // namespace tessera::cli

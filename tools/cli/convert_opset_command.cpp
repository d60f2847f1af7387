// tessera convert-opset: moves a model to another ai.onnx opset (passes/opset_conversion.h) and writes it, listing
// what was rewritten with --verbose; a node that cannot be carried across exactly stops it (exit 1, nothing written).
#include <cstdio>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "passes/opset_conversion.h"

namespace tessera::cli {

int convert_opset_command(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"--to", "--external-data-threshold"}, {"--verbose"});
  if (arguments.positional().size() != 2 || !arguments.has("--to")) {
    throw UsageError{"convert-opset needs an input MODEL, an OUTPUT path and --to N"};
  }
  const int64_t target = parse_integer("--to", *arguments.value("--to"), 1);
  const std::string& in = arguments.positional()[0];
  const std::string& out = arguments.positional()[1];
  Model model;
  if (const auto code = load_model_or_report(in, model)) return *code;
  const OpsetConversionReport report = convert_opset(model, target);
  ModelWriteOptions write_options;
  write_options.external_data_threshold = external_data_threshold_flag(arguments);
  save_model(model, out, write_options);
  if (arguments.has("--verbose")) {
    for (const std::string& line : report.rewritten) std::printf("  %s\n", line.c_str());
  }
  std::printf("%s: ai.onnx opset %lld -> %lld, %zu rewrites; written to %s\n", in.c_str(),
              static_cast<long long>(report.from), static_cast<long long>(report.to), report.rewritten.size(),
              out.c_str());
  return kExitOk;
}

}  // namespace tessera::cli

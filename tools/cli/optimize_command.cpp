// tessera optimize: load a model, run the graph optimizer at a level, and write the optimized model.
#include <cstdio>
#include <map>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "passes/pass.h"

namespace tessera::cli {

namespace {
size_t count_nodes(const Graph& graph) {
  size_t nodes = graph.nodes.size();
  for (const auto& node : graph.nodes) {
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g) nodes += count_nodes(*attr.g);
      for (const auto& g : attr.graphs)
        if (g) nodes += count_nodes(*g);
    }
  }
  return nodes;
}
}  // namespace

int optimize_command(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"--opt-level", "--disable-pass", "--external-data-threshold"}, {"--verbose"});
  if (arguments.positional().size() != 2) throw UsageError{"optimize needs an input MODEL and an OUTPUT path"};
  OptimizationLevel level = OptimizationLevel::kBasic;
  if (auto text = arguments.value("--opt-level")) level = opt_level_argument(*text);
  ModelWriteOptions write_options;
  write_options.external_data_threshold = external_data_threshold_flag(arguments);
  const std::string& in = arguments.positional()[0];
  const std::string& out = arguments.positional()[1];
  Model model;
  if (const auto code = load_model_or_report(in, model)) return *code;
  const size_t before = count_nodes(*model.graph);
  const std::vector<PassReport> reports = optimize_graph(*model.graph, level, arguments.values("--disable-pass"));
  if (arguments.has("--verbose")) {
    for (const PassReport& r : reports) {
      if (r.changed) std::printf("  %-28s %zu -> %zu nodes\n", r.pass.c_str(), r.nodes_before, r.nodes_after);
      for (const std::string& change : r.changes) std::printf("      %s\n", change.c_str());
    }
  }
  save_model(model, out, write_options);
  std::printf("%s: %zu -> %zu nodes, written to %s\n", in.c_str(), before, count_nodes(*model.graph), out.c_str());
  return kExitOk;
}

}  // namespace tessera::cli

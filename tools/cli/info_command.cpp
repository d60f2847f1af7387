// tessera info: what a model is and whether Tessera can run it.
#include <cstdio>
#include <map>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "onnx/model_loader.h"
#include "passes/pass.h"
#include "runtime/execution_plan.h"

namespace tessera::cli {

namespace {
void count_ops(const Graph& graph, std::map<std::string, int>& histogram, size_t& nodes) {
  for (const auto& node : graph.nodes) {
    ++nodes;
    ++histogram[(node->domain.empty() ? "" : node->domain + ".") + node->op_type];
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g) count_ops(*attr.g, histogram, nodes);
      for (const auto& g : attr.graphs)
        if (g) count_ops(*g, histogram, nodes);
    }
  }
}
}  // namespace

// With --opt-level: what each pass changed, and the graph the session would run.
void print_optimized(Graph& graph, OptimizationLevel level, const std::string& level_name,
                     const std::vector<std::string>& disabled) {
  const std::vector<PassReport> reports = optimize_graph(graph, level, disabled);
  std::map<std::string, int> histogram;
  size_t nodes = 0;
  count_ops(graph, histogram, nodes);
  std::printf("optimized (--opt-level %s): %zu nodes\npasses:\n", level_name.c_str(), nodes);
  for (const PassReport& r : reports) {
    if (r.changed) std::printf("  %-28s %zu -> %zu nodes\n", r.pass.c_str(), r.nodes_before, r.nodes_after);
  }
  std::printf("ops after optimization:\n");
  for (const auto& [op, count] : histogram) std::printf("  %-32s %d\n", op.c_str(), count);
}

int info_command(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"--opt-level", "--disable-pass"}, {});
  std::optional<OptimizationLevel> level;
  if (auto text = arguments.value("--opt-level")) level = opt_level_argument(*text);
  if (arguments.positional().size() != 1) throw UsageError{"info needs exactly one MODEL path"};
  Model model;
  try {
    model = load_model(arguments.positional()[0]);
  } catch (const Error& e) {
    return report_load_error(e);
  }
  Graph& graph = *model.graph;
  std::printf("model: %s\n", arguments.positional()[0].c_str());
  std::printf("ir_version: %lld\n", static_cast<long long>(model.ir_version));
  std::printf("producer: %s %s\n", model.producer_name.c_str(), model.producer_version.c_str());
  if (!model.domain.empty()) std::printf("domain: %s\n", model.domain.c_str());
  std::printf("model_version: %lld\n", static_cast<long long>(model.model_version));
  std::printf("opsets:");
  for (const auto& [domain, version] : model.opset_imports) {
    std::printf(" %s=%lld", domain.empty() ? "ai.onnx" : domain.c_str(), static_cast<long long>(version));
  }
  std::printf("\n");
  for (const auto& [key, value] : model.metadata) std::printf("metadata: %s = %s\n", key.c_str(), value.c_str());
  for (const std::string& f : model.function_names) std::printf("function (inlined): %s\n", f.c_str());
  std::printf("inputs:\n");
  for (const ValueInfo& in : graph.inputs) {
    const bool has_default = graph.initializers.count(in.name) != 0;
    std::printf("  %s: %s%s\n", in.name.c_str(), in.type.to_string().c_str(), has_default ? " (has initializer)" : "");
  }
  std::printf("outputs:\n");
  for (const ValueInfo& out : graph.outputs) std::printf("  %s: %s\n", out.name.c_str(), out.type.to_string().c_str());
  std::printf("initializers: %zu\n", graph.initializers.size());
  std::map<std::string, int> histogram;
  size_t nodes = 0;
  count_ops(graph, histogram, nodes);
  std::printf("nodes: %zu\nops:\n", nodes);
  for (const auto& [op, count] : histogram) std::printf("  %-32s %d\n", op.c_str(), count);
  const std::vector<std::shared_ptr<ExecutionProvider>> providers = {std::make_shared<CpuExecutionProvider>()};
  const std::vector<std::string> unsupported = find_unsupported_nodes(graph, providers);
  if (unsupported.empty()) {
    std::printf("unsupported ops: none (every node runs on CPUExecutionProvider)\n");
  } else {
    std::printf("unsupported ops: %zu node(s)\n", unsupported.size());
    for (const std::string& u : unsupported) std::printf("  %s\n", u.c_str());
  }
  if (level) print_optimized(graph, *level, *arguments.value("--opt-level"), arguments.values("--disable-pass"));
  return kExitOk;
}

}  // namespace tessera::cli

// tessera check: before deployment, whether a model will run and how — every op (domain, type, opset) with its node
// count and the kernel it runs on, the inputs and outputs, initializer bytes, where its ops' meaning changes after
// its opset, what the optimizer would change, and the first problem found (exit 1). --expect-opset / --max-opset
// pin the ai.onnx opset.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "ir/opset.h"
#include "ir/opset_semantics.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc.h"
#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "kernels/qu8-quantize/qu8-quantize.h"
#include "kernels/x32-transpose/x32-transpose.h"
#include "onnx/model_loader.h"
#include "ops/registry.h"
#include "passes/gradient_expansion.h"
#include "passes/pass.h"
#include "runtime/execution_plan.h"

namespace tessera::cli {

namespace {

struct OpUse {
  std::string domain, op;
  int64_t opset = 0;
  int count = 0;
  bool depthwise = false;  // a Conv with one input channel per group among them
};

void collect_ops(const Graph& graph, std::map<std::string, OpUse>& ops, uint64_t& initializer_bytes) {
  for (const auto& [name, tensor] : graph.initializers) initializer_bytes += tensor.byte_size();
  for (const auto& node : graph.nodes) {
    const std::string key =
        (node->domain.empty() ? "ai.onnx" : node->domain) + "." + node->op_type + "-" + std::to_string(node->opset);
    OpUse& use = ops[key];
    use.domain = node->domain.empty() ? "ai.onnx" : node->domain;
    use.op = node->op_type;
    use.opset = node->opset;
    ++use.count;
    if ((node->op_type == "Conv" || node->op_type == "FusedConv" || node->op_type == "NhwcConv") &&
        node->attr_int("group", 1) > 1) {
      use.depthwise = true;
    }
    for (const auto& [key_name, attr] : node->attributes) {
      if (attr.g) collect_ops(*attr.g, ops, initializer_bytes);
      for (const auto& g : attr.graphs) {
        if (g) collect_ops(*g, ops, initializer_bytes);
      }
    }
  }
}

// The kernel (family and the variant this CPU selects) an op runs on, where one is behind it.
std::string kernel_of(const OpUse& use) {
  const std::string& op = use.op;
  if (op == "MatMul" || op == "Gemm" || op == "FusedMatMul" || op == "FusedGemm" || op == "MatMulBias") {
    // bfloat16 inputs (and float32 under --precision bf16) run on the bf16 GEMM.
    return std::string(gemm_f32_kernel_name()) + "; bfloat16: " + bf16_gemm_kernel_name();
  }
  if (op == "Attention") return gemm_f32_kernel_name();
  if (op == "Conv" || op == "FusedConv") {
    std::string k = std::string(gemm_f32_kernel_name()) + " (im2col / Winograd F(4x4,3x3) for 3x3)";
    if (use.depthwise) k += "; depthwise: " + std::string(dwconv2d_f32_kernel_name());
    return k;
  }
  if (op == "NhwcConv") {  // com.tessera, channels-last (the nhwc_layout pass)
    std::string k = std::string(gemm_f32_kernel_name()) + " (pointwise)";
    if (use.depthwise) k += "; depthwise: " + std::string(dwconv_nhwc_f32_kernel_name());
    return k;
  }
  if (op == "RNN" || op == "GRU" || op == "LSTM") {  // ops/rnn's time loop: products on the GEMM, gates vectorized
    return std::string(gemm_f32_kernel_name()) + "; gates: " + vunary_f32_kernel_name();
  }
  if (op == "DynamicQuantizeLSTM" || op == "DynamicQuantizeRecurrent") {  // the same loop on 8-bit weights
    return std::string(q8_gemm_kernel_name()) + "; gates: " + vunary_f32_kernel_name();
  }
  if (op == "MatMulInteger" || op == "DynamicQuantizeMatMul" || op == "QLinearMatMul" || op == "QGemm" ||
      op == "QAttention" || op == "ConvInteger" || op == "QLinearConv") {
    return q8_gemm_kernel_name();
  }
  if (op == "DynamicQuantizeLinear") return qu8_quantize_kernel_name();
  if (op == "Transpose") return std::string(x32_transpose_kernel_name()) + " (4-byte elements)";
  if (op == "Gelu" || op == "BiasGelu" || op == "FastGelu" || op == "Erf" || op == "Tanh" || op == "Sigmoid" ||
      op == "Exp" || op == "Softmax") {
    return vunary_f32_kernel_name();
  }
  return "portable C++ (vectorized by the compiler)";
}

// For every ai.onnx op of the model: where its meaning changes after the model's opset, up to the newest Tessera
// knows (what moving the model to a newer opset would change).
nlohmann::ordered_json opset_changes_of(const std::map<std::string, OpUse>& ops) {
  nlohmann::ordered_json changes = nlohmann::ordered_json::array();
  for (const auto& [key, use] : ops) {
    if (use.domain != "ai.onnx") continue;
    for (const OpsetSemanticsChange& c : opset_semantics_changes(use.op, use.opset, kMaxOnnxOpset)) {
      changes.push_back({{"op", c.op}, {"model_opset", use.opset}, {"changes_at", c.version}, {"change", c.change}});
    }
  }
  return changes;
}

void print_opset_changes(const nlohmann::ordered_json& changes) {
  std::printf("semantics that change after the model's opset (up to opset %lld):%s\n",
              static_cast<long long>(kMaxOnnxOpset), changes.empty() ? " none for its ops" : "");
  for (const auto& c : changes) {
    std::printf("  %s-%lld -> %lld: %s\n", c["op"].get<std::string>().c_str(),
                static_cast<long long>(c["model_opset"].get<int64_t>()),
                static_cast<long long>(c["changes_at"].get<int64_t>()), c["change"].get<std::string>().c_str());
  }
}

}  // namespace

int check_command(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"--expect-opset", "--max-opset", "--opt-level"}, {"--json"});
  if (arguments.positional().size() != 1) throw UsageError{"check needs exactly one MODEL path"};
  const std::string& path = arguments.positional()[0];
  const bool json = arguments.has("--json");
  nlohmann::ordered_json report = {{"model", path}};
  std::vector<std::string> problems;
  auto finish = [&]() {
    report["problems"] = problems;
    report["ready"] = problems.empty();
    if (json) {
      std::printf("%s\n", report.dump(2).c_str());
    } else if (problems.empty()) {
      std::printf("ready: every node runs on CPUExecutionProvider\n");
    } else {
      std::printf("NOT READY: %s\n", problems.front().c_str());
      for (size_t i = 1; i < problems.size(); ++i) std::printf("  also: %s\n", problems[i].c_str());
    }
    return problems.empty() ? kExitOk : kExitRunError;
  };

  Model model;
  try {
    model = load_model(path);
  } catch (const Error& e) {
    problems.push_back(std::string("cannot load [") + error_code_name(e.code()) + "]: " + e.what());
    return finish();
  }
  const int64_t opset = model.opset_imports.count("") ? model.opset_imports.at("") : 0;
  // Gradient nodes run as their expansion (passes/gradient_expansion.h), as in a session: its ops are listed.
  try {
    expand_gradients(*model.graph, opset);
  } catch (const Error& e) {
    problems.push_back(std::string("unsupported: ") + e.what());
  }
  const Graph& graph = *model.graph;
  std::map<std::string, OpUse> ops;
  uint64_t initializer_bytes = 0;
  collect_ops(graph, ops, initializer_bytes);
  const std::vector<std::shared_ptr<ExecutionProvider>> providers = {std::make_shared<CpuExecutionProvider>()};
  const std::vector<std::string> unsupported = find_unsupported_nodes(graph, providers);
  for (const std::string& u : unsupported) problems.push_back("unsupported: " + u);
  if (auto expect = arguments.value("--expect-opset")) {
    if (std::to_string(opset) != *expect) {
      problems.push_back("the model imports ai.onnx opset " + std::to_string(opset) + ", expected " + *expect);
    }
  }
  if (auto max = arguments.value("--max-opset")) {
    try {
      if (opset > std::stoll(*max)) {
        problems.push_back("the model imports ai.onnx opset " + std::to_string(opset) + ", more than --max-opset " +
                           *max);
      }
    } catch (const std::exception&) {
      throw UsageError{"--max-opset needs an integer"};
    }
  }

  report["ir_version"] = model.ir_version;
  report["producer"] = model.producer_name + " " + model.producer_version;
  nlohmann::ordered_json opsets;
  for (const auto& [domain, version] : model.opset_imports) opsets[domain.empty() ? "ai.onnx" : domain] = version;
  report["opsets"] = opsets;
  nlohmann::ordered_json inputs = nlohmann::ordered_json::array(), outputs = nlohmann::ordered_json::array();
  for (const ValueInfo& in : graph.inputs) {
    if (!graph.initializers.count(in.name)) inputs.push_back({{"name", in.name}, {"type", in.type.to_string()}});
  }
  for (const ValueInfo& out : graph.outputs) outputs.push_back({{"name", out.name}, {"type", out.type.to_string()}});
  report["inputs"] = inputs;
  report["outputs"] = outputs;
  report["initializer_bytes"] = initializer_bytes;
  nlohmann::ordered_json op_list = nlohmann::ordered_json::array();
  for (const auto& [key, use] : ops) {
    const std::string node_domain = use.domain == "ai.onnx" ? "" : use.domain;
    const bool runs = OpRegistry::instance().find(node_domain, use.op, use.opset) != nullptr;
    op_list.push_back({{"domain", use.domain},
                       {"op", use.op},
                       {"opset", use.opset},
                       {"nodes", use.count},
                       {"runs", runs},
                       {"kernel", runs ? kernel_of(use) : ""}});
  }
  report["ops"] = op_list;
  report["opset_changes"] = opset_changes_of(ops);

  OptimizationLevel level = OptimizationLevel::kAll;
  if (auto text = arguments.value("--opt-level")) level = opt_level_argument(*text);
  nlohmann::ordered_json passes = nlohmann::ordered_json::array();
  if (unsupported.empty()) {
    // Everything reported above is already taken from the model, so it is optimized in place (not loaded twice).
    for (const PassReport& r : optimize_graph(*model.graph, level)) {
      if (!r.changed) continue;
      passes.push_back({{"pass", r.pass},
                        {"nodes_before", r.nodes_before},
                        {"nodes_after", r.nodes_after},
                        {"fused_groups", r.changes.size()}});
    }
  }
  report["optimizer"] = passes;

  if (!json) {
    std::printf("model: %s\nir_version: %lld, producer: %s\nopsets:", path.c_str(),
                static_cast<long long>(model.ir_version), report["producer"].get<std::string>().c_str());
    for (const auto& [domain, version] : opsets.items())
      std::printf(" %s=%lld", domain.c_str(), version.get<long long>());
    std::printf("\ninputs:\n");
    for (const auto& in : inputs)
      std::printf("  %s: %s\n", in["name"].get<std::string>().c_str(), in["type"].get<std::string>().c_str());
    std::printf("outputs:\n");
    for (const auto& out : outputs)
      std::printf("  %s: %s\n", out["name"].get<std::string>().c_str(), out["type"].get<std::string>().c_str());
    std::printf("initializers: %.1f MB\nops (domain.op-opset: nodes, kernel):\n",
                static_cast<double>(initializer_bytes) / 1e6);
    for (const auto& o : op_list) {
      std::printf("  %-44s %4d  %s\n",
                  (o["domain"].get<std::string>() + "." + o["op"].get<std::string>() + "-" +
                   std::to_string(o["opset"].get<int64_t>()))
                      .c_str(),
                  o["nodes"].get<int>(), o["runs"].get<bool>() ? o["kernel"].get<std::string>().c_str() : "NO KERNEL");
    }
    print_opset_changes(report["opset_changes"]);
    std::printf("optimizer (--opt-level %s):\n", arguments.value("--opt-level").value_or("all").c_str());
    for (const auto& p : passes) {
      std::printf("  %-34s %zu -> %zu nodes\n", p["pass"].get<std::string>().c_str(), p["nodes_before"].get<size_t>(),
                  p["nodes_after"].get<size_t>());
    }
  }
  return finish();
}

}  // namespace tessera::cli

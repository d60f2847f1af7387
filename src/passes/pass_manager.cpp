#include <algorithm>
#include <functional>

#include "base/error.h"
#include "passes/pass.h"

namespace tessera {

std::unique_ptr<GraphPass> make_dead_code_elimination();
std::unique_ptr<GraphPass> make_identity_elimination();
std::unique_ptr<GraphPass> make_constant_to_initializer();
std::unique_ptr<GraphPass> make_conv_activation_fusion();
std::unique_ptr<GraphPass> make_conv_batchnorm_folding();
std::unique_ptr<GraphPass> make_gelu_fusion();
std::unique_ptr<GraphPass> make_constant_folding();
std::unique_ptr<GraphPass> make_common_subexpression_elimination();
std::unique_ptr<GraphPass> make_attention_fusion();
std::unique_ptr<GraphPass> make_conv_add_fusion();
std::unique_ptr<GraphPass> make_skip_layer_norm_fusion();
std::unique_ptr<GraphPass> make_gemm_activation_fusion();
std::unique_ptr<GraphPass> make_layer_norm_fusion();
std::unique_ptr<GraphPass> make_matmul_transpose_fusion();
std::unique_ptr<GraphPass> make_conv_mul_add_folding();
std::unique_ptr<GraphPass> make_matmul_add_fusion();
std::unique_ptr<GraphPass> make_matmul_bias_fusion();
std::unique_ptr<GraphPass> make_transpose_cancellation();
std::unique_ptr<GraphPass> make_transpose_pushdown();
std::unique_ptr<GraphPass> make_noop_elimination();
std::unique_ptr<GraphPass> make_shape_folding();
std::unique_ptr<GraphPass> make_reshape_shape_folding();
std::unique_ptr<GraphPass> make_dynamic_quantize_matmul_fusion();
std::unique_ptr<GraphPass> make_qdq_fusion();
std::unique_ptr<GraphPass> make_dequantize_recurrent_fusion();
std::unique_ptr<GraphPass> make_qdq_binary_fusion();
std::unique_ptr<GraphPass> make_qdq_pass_through();
std::unique_ptr<GraphPass> make_float16_compute_in_float32();
std::unique_ptr<GraphPass> make_rms_norm_fusion();
std::unique_ptr<GraphPass> make_elementwise_chain_fusion();
std::unique_ptr<GraphPass> make_nhwc_layout();
std::unique_ptr<GraphPass> make_bias_softmax_fusion();
std::unique_ptr<GraphPass> make_gemm_transpose_folding();
std::unique_ptr<GraphPass> make_scan_cdist_fusion();

namespace {
// The passes in run order. A new pass adds its factory here and its own file beside this one.
std::vector<std::unique_ptr<GraphPass>> all_passes() {
  std::vector<std::unique_ptr<GraphPass>> passes;
  passes.push_back(make_transpose_pushdown());  // before transpose_cancellation, which removes the pairs it makes meet
  passes.push_back(make_transpose_cancellation());
  passes.push_back(make_identity_elimination());
  passes.push_back(make_constant_to_initializer());
  passes.push_back(make_float16_compute_in_float32());
  passes.push_back(make_common_subexpression_elimination());
  passes.push_back(make_noop_elimination());
  passes.push_back(make_scan_cdist_fusion());
  passes.push_back(make_shape_folding());
  passes.push_back(make_qdq_fusion());  // before constant_folding, which would fold the weight DequantizeLinears
  passes.push_back(make_dequantize_recurrent_fusion());  // the same
  passes.push_back(make_qdq_binary_fusion());
  passes.push_back(make_qdq_pass_through());
  passes.push_back(make_constant_folding());
  passes.push_back(make_reshape_shape_folding());
  passes.push_back(make_conv_batchnorm_folding());
  passes.push_back(make_conv_mul_add_folding());
  passes.push_back(make_matmul_add_fusion());
  passes.push_back(make_gemm_transpose_folding());  // after matmul_add_fusion: its Gemms lose their Transposes too
  passes.push_back(make_dynamic_quantize_matmul_fusion());
  passes.push_back(make_dead_code_elimination());
  passes.push_back(make_conv_add_fusion());
  passes.push_back(make_conv_activation_fusion());
  passes.push_back(make_gemm_activation_fusion());
  passes.push_back(make_gelu_fusion());
  passes.push_back(make_layer_norm_fusion());
  passes.push_back(make_rms_norm_fusion());
  passes.push_back(make_attention_fusion());
  passes.push_back(make_bias_softmax_fusion());  // after attention_fusion, which takes its masked softmaxes first
  passes.push_back(make_skip_layer_norm_fusion());
  passes.push_back(make_matmul_transpose_fusion());
  passes.push_back(make_matmul_bias_fusion());  // after the fusions that match MatMul + Add patterns of their own
  passes.push_back(make_nhwc_layout());         // after the convolution fusions, whose FusedConv nodes it takes
  passes.push_back(make_elementwise_chain_fusion());  // last: it takes whatever elementwise nodes the others left
  return passes;
}
}  // namespace

OptimizationLevel parse_optimization_level(const std::string& text) {
  if (text == "disabled" || text == "0") return OptimizationLevel::kDisabled;
  if (text == "basic" || text == "1") return OptimizationLevel::kBasic;
  if (text == "extended" || text == "2") return OptimizationLevel::kExtended;
  if (text == "all" || text == "3" || text == "99") return OptimizationLevel::kAll;
  fail(ErrorCode::kInvalidArgument, "unknown optimization level '", text, "' (use disabled, basic, extended or all)");
}

std::vector<std::string> pass_names() {
  std::vector<std::string> names;
  for (const auto& p : all_passes()) names.push_back(p->name());
  return names;
}

std::vector<PassReport> optimize_graph(Graph& graph, OptimizationLevel level, const std::vector<std::string>& disabled) {
  std::vector<PassReport> reports;
  if (level == OptimizationLevel::kDisabled) return reports;
  auto passes = all_passes();
  for (const std::string& name : disabled) {
    const bool known = std::any_of(passes.begin(), passes.end(), [&](const auto& p) { return p->name() == name; });
    if (!known) fail(ErrorCode::kInvalidArgument, "unknown pass '", name, "'");
  }
  // Subgraphs (If branches, Loop and Scan bodies) first, innermost first, with the same passes; their reports are
  // not listed (the node counts of the main graph's reports include only its own nodes).
  for (auto& node : graph.nodes) {
    for (auto& [key, attr] : node->attributes) {
      if (attr.g) optimize_graph(*attr.g, level, disabled);
      for (auto& g : attr.graphs) {
        if (g) optimize_graph(*g, level, disabled);
      }
    }
  }
  constexpr int kMaxRounds = 4;
  for (int round = 0; round < kMaxRounds; ++round) {
    bool any_change = false;
    for (auto& pass : passes) {
      if (pass->level() > level) continue;
      if (std::find(disabled.begin(), disabled.end(), pass->name()) != disabled.end()) continue;
      PassReport report{pass->name(), false, graph.nodes.size(), 0};
      report.changed = pass->run(graph);
      report.changes = pass->take_changes();
      report.nodes_after = graph.nodes.size();
      any_change |= report.changed;
      reports.push_back(report);
    }
    if (!any_change) break;
  }
  return reports;
}

}  // namespace tessera

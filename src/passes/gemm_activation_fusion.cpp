// Fuses Gemm followed by Relu, LeakyRelu, Sigmoid, Tanh or HardSigmoid into ONNX Runtime's contrib op
// com.microsoft FusedGemm (activation, activation_alpha, activation_beta), so a saved model stays runnable by ONNX
// Runtime. Relu becomes the GEMM epilogue's clamp; the others one pass over the output. Only when the Gemm's
// output has no other reader and B is a float32 constant (FusedGemm is float-only).
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

void set_attribute(Node& node, const char* key, Attribute::Type type, const std::string& s, float f) {
  Attribute& a = node.attributes[key];
  a.name = key;
  a.type = type;
  a.s = s;
  a.f = f;
}

class GemmActivationFusion final : public GraphPass {
 public:
  std::string name() const override { return "gemm_activation_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    std::vector<const Node*> fused_away;
    for (const auto& node : graph.nodes) {
      Node& act = *node;
      if (act.inputs.empty() || act.outputs.size() != 1 || act.op_type == "Clip") continue;
      auto p = producer.find(act.inputs[0]);
      if (p == producer.end() || !is_onnx_op(*p->second, "Gemm")) continue;
      Node& gemm = *p->second;
      auto r = reads.find(gemm.outputs[0]);
      if (gemm.outputs.size() != 1 || r == reads.end() || r->second != 1) continue;
      const Tensor* b = gemm.inputs.size() > 1 ? fusion::constant_tensor(graph, gemm.inputs[1]) : nullptr;
      if (b == nullptr || b->dtype() != DType::kFloat) continue;
      std::string activation;
      std::vector<float> params;
      if (!fusion::activation_of(graph, act, activation, params)) continue;
      gemm.domain = kMicrosoftDomain;
      gemm.op_type = "FusedGemm";
      gemm.opset = 1;
      set_attribute(gemm, "activation", Attribute::Type::kString, activation, 0.0f);
      if (params.size() >= 1) set_attribute(gemm, "activation_alpha", Attribute::Type::kFloat, "", params[0]);
      if (params.size() >= 2) set_attribute(gemm, "activation_beta", Attribute::Type::kFloat, "", params[1]);
      gemm.outputs[0] = act.outputs[0];
      fused_away.push_back(&act);
    }
    if (fused_away.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(fused_away.begin(), fused_away.end(), n.get()) != fused_away.end();
    });
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_gemm_activation_fusion() { return std::make_unique<GemmActivationFusion>(); }

}  // namespace tessera

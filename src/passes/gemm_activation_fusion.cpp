// Fuses Gemm followed by Relu, LeakyRelu, Sigmoid, Tanh or HardSigmoid into ONNX Runtime's contrib op
// com.microsoft FusedGemm (activation, activation_alpha, activation_beta), so a saved model stays runnable by ONNX
// Runtime. Relu becomes the GEMM epilogue's clamp; the others one pass over the output. Only when the Gemm's
// output has no other reader and B is a float32 constant (FusedGemm is float-only).
#include <algorithm>
#include <set>

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
    auto accepts = [&](const Node& gemm) {
      if (!is_onnx_op(gemm, "Gemm")) return false;
      const Tensor* b = gemm.inputs.size() > 1 ? fusion::constant_tensor(graph, gemm.inputs[1]) : nullptr;
      return b != nullptr && b->dtype() == DType::kFloat;
    };
    // FusedGemm has no Clip (ONNX Runtime's does not either): a Clip stays a node.
    auto accepts_unless_clip = [&](const Node& gemm) { return accepts(gemm) && !clip_follows_.count(gemm.outputs[0]); };
    clip_follows_.clear();
    for (const auto& n : graph.nodes) {
      if (is_onnx_op(*n, "Clip") && !n->inputs.empty()) clip_follows_.insert(n->inputs[0]);
    }
    return fusion::fuse_activations(graph, accepts_unless_clip,
                                    [](Node& gemm, const std::string& name, const std::vector<float>& params) {
                                      gemm.domain = kMicrosoftDomain;
                                      gemm.op_type = "FusedGemm";
                                      gemm.opset = 1;
                                      set_attribute(gemm, "activation", Attribute::Type::kString, name, 0.0f);
                                      if (params.size() >= 1)
                                        set_attribute(gemm, "activation_alpha", Attribute::Type::kFloat, "", params[0]);
                                      if (params.size() >= 2)
                                        set_attribute(gemm, "activation_beta", Attribute::Type::kFloat, "", params[1]);
                                    }, &changes_);
  }

 private:
  std::set<std::string> clip_follows_;
};

}  // namespace

std::unique_ptr<GraphPass> make_gemm_activation_fusion() { return std::make_unique<GemmActivationFusion>(); }

}  // namespace tessera

// Fuses Conv (or a FusedConv with a sum input and no activation yet) followed by Relu, Clip, LeakyRelu, Sigmoid, Tanh
// or HardSigmoid into ONNX Runtime's contrib op
// com.microsoft FusedConv (so a saved model stays runnable by ONNX Runtime). Only when the Conv's output has no
// other reader, its weights are a float32 constant (FusedConv is float-only; types are not inferred yet), and the
// activation's parameters are constants.
#include <algorithm>
#include <limits>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// The FusedConv `activation` / `activation_params` equivalent to `act`, or false when it has none.
bool activation_of(const Graph& graph, const Node& act, std::string& name, std::vector<float>& params) {
  name = act.op_type;
  params.clear();
  if (!act.domain.empty()) return false;
  if (act.op_type == "Relu" || act.op_type == "Sigmoid" || act.op_type == "Tanh") return true;
  if (act.op_type == "LeakyRelu") {
    params = {act.attr_float("alpha", 0.01f)};
    return true;
  }
  if (act.op_type == "HardSigmoid") {
    params = {act.attr_float("alpha", 0.2f), act.attr_float("beta", 0.5f)};
    return true;
  }
  if (act.op_type == "Clip") {
    float lo = -std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::max();
    if (act.opset < 11) {
      lo = act.attr_float("min", lo);
      hi = act.attr_float("max", hi);
    } else {
      for (size_t i = 1; i < 3; ++i) {
        if (!act.has_input(i)) continue;
        const auto value = fusion::scalar_float_constant(graph, act.inputs[i]);
        if (!value) return false;
        (i == 1 ? lo : hi) = *value;
      }
    }
    params = {lo, hi};
    return true;
  }
  return false;
}

class ConvActivationFusion final : public GraphPass {
 public:
  std::string name() const override { return "conv_activation_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }
  bool run(Graph& graph) override {
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    std::vector<const Node*> fused_away;
    for (const auto& node : graph.nodes) {
      Node& act = *node;
      if (act.inputs.empty() || act.outputs.size() != 1) continue;
      auto p = producer.find(act.inputs[0]);
      if (p == producer.end()) continue;
      Node& conv = *p->second;
      // A Conv, or a FusedConv that conv_add_fusion made (a sum input Z, no activation yet).
      const bool summed_conv = conv.domain == kMicrosoftDomain && conv.op_type == "FusedConv" &&
                               !conv.has_attribute("activation");
      if (!is_onnx_op(conv, "Conv") && !summed_conv) continue;
      auto r = reads.find(conv.outputs[0]);
      if (conv.outputs.size() != 1 || r == reads.end() || r->second != 1) continue;
      const Tensor* w = conv.inputs.size() > 1 ? fusion::constant_tensor(graph, conv.inputs[1]) : nullptr;
      if (w == nullptr || w->dtype() != DType::kFloat) continue;
      std::string activation;
      std::vector<float> params;
      if (!activation_of(graph, act, activation, params)) continue;
      conv.domain = "com.microsoft";
      conv.op_type = "FusedConv";
      conv.opset = 1;
      Attribute& a = conv.attributes["activation"];
      a.name = "activation";
      a.type = Attribute::Type::kString;
      a.s = activation;
      if (!params.empty()) {
        Attribute& ap = conv.attributes["activation_params"];
        ap.name = "activation_params";
        ap.type = Attribute::Type::kFloats;
        ap.floats = params;
      }
      conv.outputs[0] = act.outputs[0];
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

std::unique_ptr<GraphPass> make_conv_activation_fusion() { return std::make_unique<ConvActivationFusion>(); }

}  // namespace tessera

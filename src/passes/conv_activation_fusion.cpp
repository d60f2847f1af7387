// Fuses Conv (or a FusedConv with a sum input and no activation yet) followed by Relu, Clip, LeakyRelu, Sigmoid, Tanh
// or HardSigmoid into ONNX Runtime's contrib op
// com.microsoft FusedConv (so a saved model stays runnable by ONNX Runtime). Only when the Conv's output has no
// other reader, its weights are a float32 constant (FusedConv is float-only; types are not inferred yet), and the
// activation's parameters are constants.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

class ConvActivationFusion final : public GraphPass {
 public:
  std::string name() const override { return "conv_activation_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }
  bool run(Graph& graph) override {
    auto accepts = [&](const Node& conv) {
      // A Conv, or a FusedConv that conv_add_fusion made (a sum input Z, no activation yet).
      const bool summed_conv =
          conv.domain == kMicrosoftDomain && conv.op_type == "FusedConv" && !conv.has_attribute("activation");
      if (!is_onnx_op(conv, "Conv") && !summed_conv) return false;
      const Tensor* w = conv.inputs.size() > 1 ? fusion::constant_tensor(graph, conv.inputs[1]) : nullptr;
      return w != nullptr && w->dtype() == DType::kFloat;
    };
    return fusion::fuse_activations(graph, accepts,
                                    [](Node& conv, const std::string& name, const std::vector<float>& params) {
                                      conv.domain = kMicrosoftDomain;
                                      conv.op_type = "FusedConv";
                                      conv.opset = 1;
                                      conv.set_attr_string("activation", name);
                                      if (!params.empty()) {
                                        Attribute& ap = conv.attributes["activation_params"];
                                        ap.name = "activation_params";
                                        ap.type = Attribute::Type::kFloats;
                                        ap.floats = params;
                                      }
                                    }, &changes_);
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_conv_activation_fusion() { return std::make_unique<ConvActivationFusion>(); }

}  // namespace tessera

// Folds an inference-mode BatchNormalization that follows a Conv into the Conv's weights and bias (basic level:
// standard ONNX out). With s = scale / sqrt(var + epsilon): W'[m] = W[m] * s[m], B'[m] = (B[m] - mean[m]) * s[m]
// + bias[m]. Only when every parameter is a float32 constant with one value per output channel, the BN has one
// output (no training statistics) and is not in training mode, and the Conv's output has no other reader; the
// folded values go into new initializers (the originals may have other readers).
#include <algorithm>
#include <cmath>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

bool per_channel_float(const Tensor* t, int64_t channels) {
  return t != nullptr && t->dtype() == DType::kFloat && t->rank() == 1 && t->dim(0) == channels;
}

class ConvBatchNormFolding final : public GraphPass {
 public:
  std::string name() const override { return "conv_batchnorm_folding"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }
  bool run(Graph& graph) override {
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    std::vector<const Node*> folded;
    std::vector<std::string> replaced;  // initializers the folded nodes read
    for (const auto& node : graph.nodes) {
      const Node& bn = *node;
      if (!is_onnx_op(bn, "BatchNormalization") || bn.inputs.size() != 5 || bn.outputs.size() != 1) continue;
      if (bn.attr_int("training_mode", 0) != 0 || bn.attr_int("spatial", 1) != 1) continue;
      auto p = producer.find(bn.inputs[0]);
      if (p == producer.end() || !is_onnx_op(*p->second, "Conv") || p->second->outputs.size() != 1) continue;
      Node& conv = *p->second;
      auto r = reads.find(conv.outputs[0]);
      if (r == reads.end() || r->second != 1) continue;
      const Tensor* w = conv.inputs.size() > 1 ? fusion::constant_tensor(graph, conv.inputs[1]) : nullptr;
      if (w == nullptr || w->dtype() != DType::kFloat || w->rank() < 3) continue;
      const int64_t channels = w->dim(0);
      const Tensor* b = conv.has_input(2) ? fusion::constant_tensor(graph, conv.inputs[2]) : nullptr;
      if (conv.has_input(2) && !per_channel_float(b, channels)) continue;
      const Tensor* scale = fusion::constant_tensor(graph, bn.inputs[1]);
      const Tensor* shift = fusion::constant_tensor(graph, bn.inputs[2]);
      const Tensor* mean = fusion::constant_tensor(graph, bn.inputs[3]);
      const Tensor* var = fusion::constant_tensor(graph, bn.inputs[4]);
      if (!per_channel_float(scale, channels) || !per_channel_float(shift, channels) ||
          !per_channel_float(mean, channels) || !per_channel_float(var, channels)) {
        continue;
      }
      const double epsilon = bn.attr_float("epsilon", 1e-5f);
      const int64_t per_channel = w->element_count() / channels;
      Tensor new_w(DType::kFloat, w->shape());
      Tensor new_b(DType::kFloat, {channels});
      for (int64_t m = 0; m < channels; ++m) {
        const double s = scale->data<float>()[m] / std::sqrt(static_cast<double>(var->data<float>()[m]) + epsilon);
        for (int64_t i = 0; i < per_channel; ++i) {
          new_w.data<float>()[m * per_channel + i] = static_cast<float>(w->data<float>()[m * per_channel + i] * s);
        }
        const double conv_bias = b != nullptr ? b->data<float>()[m] : 0.0;
        new_b.data<float>()[m] = static_cast<float>((conv_bias - mean->data<float>()[m]) * s + shift->data<float>()[m]);
      }
      const std::string w_name = fusion::fresh_name(graph, conv.inputs[1] + "_bn_folded");
      graph.initializers.emplace(w_name, std::move(new_w));
      const std::string b_name = fusion::fresh_name(graph, bn.outputs[0] + "_bn_folded_bias");
      graph.initializers.emplace(b_name, std::move(new_b));
      for (const std::string& name : {conv.inputs[1], conv.has_input(2) ? conv.inputs[2] : std::string(),
                                      bn.inputs[1], bn.inputs[2], bn.inputs[3], bn.inputs[4]}) {
        if (!name.empty()) replaced.push_back(name);
      }
      conv.inputs.resize(3);
      conv.inputs[1] = w_name;
      conv.inputs[2] = b_name;
      conv.outputs[0] = bn.outputs[0];
      folded.push_back(&bn);
    }
    if (folded.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(folded.begin(), folded.end(), n.get()) != folded.end();
    });
    // The original weights and statistics go when nothing reads them any more (a graph input keeps its
    // initializer: a feed may override it).
    const auto reads_after = fusion::count_reads(graph);
    for (const std::string& name : replaced) {
      const bool is_input = std::any_of(graph.inputs.begin(), graph.inputs.end(),
                                        [&](const ValueInfo& in) { return in.name == name; });
      if (!is_input && !reads_after.count(name)) graph.initializers.erase(name);
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_conv_batchnorm_folding() { return std::make_unique<ConvBatchNormFolding>(); }

}  // namespace tessera

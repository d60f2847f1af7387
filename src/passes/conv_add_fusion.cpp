// Fuses a residual Add into the convolution that feeds it: Add(Conv(X, W, B), Z) -> com.microsoft
// FusedConv(X, W, B, Z), whose Z is added before the activation (conv_activation_fusion, which runs next, then
// takes a following Relu in too: Conv + Add + Relu, the ResNet block tail, becomes one node). Only when Z has
// exactly the Conv output's inferred shape (no broadcasting), W is a float32 constant, and the Conv output has no
// other reader. The fused node takes the Add's place, after the producers of both operands.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

class ConvAddFusion final : public GraphPass {
 public:
  std::string name() const override { return "conv_add_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "Conv")) return false;
    fusion::infer_types(graph);
    const auto reads = fusion::count_reads(graph);
    std::unordered_map<std::string, size_t> slot_of;  // value -> index of its producer in graph.nodes
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      for (const std::string& out : graph.nodes[i]->outputs)
        if (!out.empty()) slot_of[out] = i;
    }
    bool changed = false;
    for (size_t add_slot = 0; add_slot < graph.nodes.size(); ++add_slot) {
      const Node* add = graph.nodes[add_slot].get();
      if (add == nullptr || !is_onnx_op(*add, "Add") || add->inputs.size() != 2 || add->outputs.size() != 1) continue;
      for (int side = 0; side < 2; ++side) {
        auto p = slot_of.find(add->inputs[side]);
        if (p == slot_of.end() || graph.nodes[p->second] == nullptr) continue;
        Node& conv = *graph.nodes[p->second];
        if (!is_onnx_op(conv, "Conv") || conv.outputs.size() != 1 || add->inputs[0] == add->inputs[1]) continue;
        auto r = reads.find(conv.outputs[0]);
        if (r == reads.end() || r->second != 1) continue;
        const Tensor* w = conv.inputs.size() > 1 ? fusion::constant_tensor(graph, conv.inputs[1]) : nullptr;
        if (w == nullptr || w->dtype() != DType::kFloat) continue;
        const std::string& z = add->inputs[1 - side];
        if (!fusion::same_float_shape(graph.find_type(conv.outputs[0]), graph.find_type(z), false)) continue;
        const std::string before = fusion::node_text(conv) + ", " + fusion::node_text(*add);
        conv.domain = kMicrosoftDomain;
        conv.op_type = "FusedConv";
        conv.opset = 1;
        conv.inputs.resize(3);  // B may be absent: ""
        conv.inputs.push_back(z);
        conv.outputs[0] = add->outputs[0];
        // The fused node moves to the Add's slot (Z may be computed after the Conv); the Conv's slot empties.
        graph.nodes[add_slot] = std::move(graph.nodes[p->second]);
        note(fusion::node_text(*graph.nodes[add_slot]) + " <- " + before);
        changed = true;
        break;
      }
    }
    if (!changed) return false;
    std::erase_if(graph.nodes, [](const std::unique_ptr<Node>& n) { return n == nullptr; });
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_conv_add_fusion() { return std::make_unique<ConvAddFusion>(); }

}  // namespace tessera

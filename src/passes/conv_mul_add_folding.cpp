// Folds a constant per-output-channel (or scalar) Mul or Add that follows a Conv into the Conv's weights and bias
// (basic level: standard ONNX out):  Mul by c: W'[m] = W[m] * c[m], B'[m] = B[m] * c[m];  Add c: B'[m] = B[m] + c[m].
// c must be a float32 constant that broadcasts only along the output channels (shape [C, 1, 1], [1, C, 1, 1], ...,
// or one value), W a float32 constant, and the Conv's output read only by that node. Folded values go into new
// initializers; the originals stay while anything else reads them (dead-code elimination drops them otherwise).
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

// c[m] for each of `channels` output channels of a Conv whose output has rank `rank`, or empty when `c` varies along
// another axis (or is not float).
std::vector<float> per_channel_values(const Tensor& c, int64_t channels, size_t rank) {
  if (c.dtype() != DType::kFloat || c.rank() > rank) return {};
  if (c.element_count() == 1) return std::vector<float>(static_cast<size_t>(channels), c.data<float>()[0]);
  const size_t lead = rank - c.rank();  // output axes c does not have
  if (lead > 1) return {};              // then c cannot reach the channel axis (1)
  for (size_t i = 0; i < c.rank(); ++i) {
    const bool channel_axis = lead + i == 1;
    if (!(channel_axis ? c.dim(i) == channels : c.dim(i) == 1)) return {};
  }
  return std::vector<float>(c.data<float>(), c.data<float>() + channels);
}

class ConvMulAddFolding final : public GraphPass {
 public:
  std::string name() const override { return "conv_mul_add_folding"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    const auto reads = fusion::count_reads(graph);
    const auto producer = fusion::producers(graph);
    std::vector<const Node*> folded;
    for (const auto& slot : graph.nodes) {
      const Node& op = *slot;
      const bool mul = is_onnx_op(op, "Mul");
      if ((!mul && !is_onnx_op(op, "Add")) || op.inputs.size() != 2 || op.outputs.size() != 1) continue;
      for (int side = 0; side < 2; ++side) {
        auto p = producer.find(op.inputs[side]);
        if (p == producer.end() || !is_onnx_op(*p->second, "Conv") || p->second->outputs.size() != 1) continue;
        Node& conv = *p->second;
        auto r = reads.find(conv.outputs[0]);
        if (r == reads.end() || r->second != 1) continue;
        const Tensor* c = fusion::constant_tensor(graph, op.inputs[1 - side]);
        const Tensor* w = conv.inputs.size() > 1 ? fusion::constant_tensor(graph, conv.inputs[1]) : nullptr;
        if (c == nullptr || w == nullptr || w->dtype() != DType::kFloat || w->rank() < 3) continue;
        const int64_t channels = w->dim(0);
        const Tensor* b = conv.has_input(2) ? fusion::constant_tensor(graph, conv.inputs[2]) : nullptr;
        if (conv.has_input(2) && (b == nullptr || b->dtype() != DType::kFloat || b->element_count() != channels))
          continue;
        const std::vector<float> values = per_channel_values(*c, channels, w->rank());
        if (values.empty()) continue;
        Tensor new_b(DType::kFloat, {channels});
        for (int64_t m = 0; m < channels; ++m) {
          const float bias = b != nullptr ? b->data<float>()[m] : 0.0f;
          new_b.data<float>()[m] = mul ? bias * values[static_cast<size_t>(m)] : bias + values[static_cast<size_t>(m)];
        }
        if (mul) {
          const int64_t per_channel = w->element_count() / channels;
          Tensor new_w(DType::kFloat, w->shape());
          for (int64_t m = 0; m < channels; ++m) {
            for (int64_t i = 0; i < per_channel; ++i) {
              new_w.data<float>()[m * per_channel + i] =
                  w->data<float>()[m * per_channel + i] * values[static_cast<size_t>(m)];
            }
          }
          const std::string w_name = fusion::fresh_name(graph, conv.inputs[1] + "_scaled");
          graph.initializers.emplace(w_name, std::move(new_w));
          conv.inputs[1] = w_name;
        }
        const std::string b_name = fusion::fresh_name(graph, op.outputs[0] + "_folded_bias");
        graph.initializers.emplace(b_name, std::move(new_b));
        conv.inputs.resize(3);
        conv.inputs[2] = b_name;
        note(fusion::node_text(conv) + " <- " + fusion::node_text(conv) + ", " + fusion::node_text(op));
        conv.outputs[0] = op.outputs[0];
        folded.push_back(&op);
        break;
      }
    }
    if (folded.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(folded.begin(), folded.end(), n.get()) != folded.end();
    });
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_conv_mul_add_folding() { return std::make_unique<ConvMulAddFolding>(); }

}  // namespace tessera

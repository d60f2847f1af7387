// Constant folding: a node of ai.onnx whose every input is a constant is run once, now, with its own kernel,
// and its outputs become initializers. The same kernel runs as would at run time, so the values are the ones
// the unfolded graph computes. Not folded: nondeterministic ops (Random*, Multinomial, Bernoulli), nodes with
// subgraphs, nodes writing a graph output, non-tensor values, and outputs bigger than their inputs past a cap
// (no model blow-up from folding a huge Expand, Tile or ConstantOfShape). A node whose kernel fails is left
// for the run to report.
#include <algorithm>
#include <set>

#include "base/parallel.h"
#include "ops/registry.h"
#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

// Outputs up to this size fold whatever their inputs were; above it, only when no bigger than the inputs.
constexpr uint64_t kFreeFoldBytes = 64 * 1024;

bool never_folded(const Node& node) {
  static const std::set<std::string> kNondeterministic = {
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"};
  if (!node.domain.empty() || kNondeterministic.count(node.op_type)) return true;
  for (const auto& [key, attr] : node.attributes) {
    if (attr.g || !attr.graphs.empty()) return true;
  }
  return false;
}

class ConstantFolding final : public GraphPass {
 public:
  std::string name() const override { return "constant_folding"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }

  bool run(Graph& graph) override {
    std::set<std::string> graph_outputs;
    for (const ValueInfo& out : graph.outputs) graph_outputs.insert(out.name);
    std::set<std::string> overridable;
    for (const ValueInfo& in : graph.inputs) overridable.insert(in.name);
    auto constant = [&](const std::string& name) -> const Tensor* {
      if (overridable.count(name)) return nullptr;
      auto it = graph.initializers.find(name);
      return it == graph.initializers.end() || !it->second.defined() ? nullptr : &it->second;
    };

    std::vector<const Node*> folded;
    for (const auto& slot : graph.nodes) {
      const Node& node = *slot;
      if (never_folded(node) || node.outputs.empty()) continue;
      if (node.op_type == "Constant") continue;  // constant_to_initializer's job (and its other forms stay)
      std::vector<const Tensor*> inputs;
      bool all_constant = true;
      uint64_t input_bytes = 0;
      for (const std::string& in : node.inputs) {
        if (in.empty()) {
          inputs.push_back(nullptr);
          continue;
        }
        const Tensor* t = constant(in);
        if (t == nullptr) {
          all_constant = false;
          break;
        }
        input_bytes += t->byte_size();
        inputs.push_back(t);
      }
      if (!all_constant || node.inputs.empty()) continue;
      const bool writes_graph_output = std::any_of(node.outputs.begin(), node.outputs.end(),
                                                   [&](const std::string& o) { return graph_outputs.count(o) != 0; });
      if (writes_graph_output) continue;
      std::optional<std::vector<Tensor>> outputs = evaluate(node, inputs);
      if (!outputs) continue;
      uint64_t output_bytes = 0;
      for (const Tensor& t : *outputs) output_bytes += t.byte_size();
      if (output_bytes > kFreeFoldBytes && output_bytes > input_bytes) continue;
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        if (!node.outputs[i].empty()) graph.initializers[node.outputs[i]] = std::move((*outputs)[i]);
      }
      folded.push_back(&node);
    }
    if (folded.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(folded.begin(), folded.end(), n.get()) != folded.end();
    });
    return true;
  }

 private:
  // Runs `node` on constant `inputs` with its registered kernel; nullopt when there is none, it fails, or an
  // output is not a tensor.
  static std::optional<std::vector<Tensor>> evaluate(const Node& node, const std::vector<const Tensor*>& inputs) {
    const OpRegistration* entry = OpRegistry::instance().find(node.domain, node.op_type, node.opset);
    if (entry == nullptr || !entry->factory) return std::nullopt;
    std::vector<TypeInfo> input_types;
    for (const Tensor* t : inputs)
      input_types.push_back(t ? TypeInfo::tensor_of_shape(t->dtype(), t->shape()) : TypeInfo{});
    std::vector<RuntimeValue> values;
    values.reserve(inputs.size());
    for (const Tensor* t : inputs) values.push_back(t ? RuntimeValue(*t) : RuntimeValue());
    std::vector<const RuntimeValue*> value_pointers;
    for (size_t i = 0; i < inputs.size(); ++i) value_pointers.push_back(inputs[i] ? &values[i] : nullptr);
    try {
      KernelInfo info{node, node.opset, input_types, std::vector<TypeInfo>(node.outputs.size()), inputs, {}};
      std::unique_ptr<Kernel> kernel = entry->factory(info);
      std::vector<RuntimeValue> outputs(node.outputs.size());
      SerialParallelism serial;
      KernelContext context(node, value_pointers, outputs, serial, [](const std::string&) { return nullptr; });
      kernel->compute(context);
      std::vector<Tensor> tensors;
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (node.outputs[i].empty()) {
          tensors.emplace_back();
          continue;
        }
        if (!outputs[i].is_tensor() || outputs[i].is_optional()) return std::nullopt;
        tensors.push_back(outputs[i].tensor());
      }
      return tensors;
    } catch (const Error&) {
      return std::nullopt;
    }
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_constant_folding() { return std::make_unique<ConstantFolding>(); }

}  // namespace tessera

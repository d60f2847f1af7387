// float16 models compute in float32 (extended level), as ONNX Runtime's CPU provider runs them (its inserted Casts
// around the ops without float16 kernels, then the removal of the back-to-back ones): float16 initializers become
// float32 once, float16 graph inputs are cast to float32 on entry and float16 graph outputs back on exit, and
// Cast(to=float16) and ConstantOfShape's float16 value become float32. The kernels then take their float32 paths
// (packed weights, Winograd, fused epilogues) instead of widening and narrowing every operand of every op, and the
// intermediate values skip the rounding to float16 between ops (results move within float16's precision, towards
// the float32 model's). Main graph only; graphs with subgraphs, with ops that make float16 from a dtype attribute
// (random generators, EyeLike) or with ops outside ai.onnx and com.microsoft are left as they are.
#include <algorithm>
#include <set>

#include "base/float_types.h"
#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

constexpr int64_t kFloat16 = static_cast<int64_t>(DType::kFloat16);
constexpr int64_t kFloat32 = static_cast<int64_t>(DType::kFloat);

Tensor widen(const Tensor& t) {
  Tensor out(DType::kFloat, t.shape());
  for (int64_t i = 0; i < t.element_count(); ++i) out.data<float>()[i] = half_to_float(t.data<Float16>()[i].bits);
  return out;
}

bool is_half(const TypeInfo* t) { return t != nullptr && t->is_tensor() && t->elem_type == DType::kFloat16; }

// True when the pass can rewrite every node of `graph`.
bool convertible(const Graph& graph) {
  static const std::set<std::string> typed_by_attribute = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                                           "RandomUniformLike", "EyeLike",       "Bernoulli"};
  for (const auto& node : graph.nodes) {
    if (!node->domain.empty() && node->domain != kMicrosoftDomain) return false;
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g || !attr.graphs.empty()) return false;
    }
    if (typed_by_attribute.count(node->op_type) && node->attr_int("dtype", 0) == kFloat16) return false;
  }
  return true;
}

class Float16ComputeInFloat32 final : public GraphPass {
 public:
  std::string name() const override { return "float16_compute_in_float32"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (graph.parent != nullptr) return false;
    const bool half_initializer = std::any_of(graph.initializers.begin(), graph.initializers.end(),
                                              [](const auto& i) { return i.second.dtype() == DType::kFloat16; });
    const bool half_input =
        std::any_of(graph.inputs.begin(), graph.inputs.end(), [](const ValueInfo& v) { return is_half(&v.type); });
    if ((!half_initializer && !half_input) || !convertible(graph)) return false;
    fusion::infer_types(graph);
    // What is left to convert: float16 values computed by nodes (but the Casts back to float16 that make graph
    // outputs, which this pass wrote), and float16 inputs read by anything but a Cast to float. Nothing left: the
    // graph was converted already.
    std::set<std::string> graph_outputs;
    for (const ValueInfo& v : graph.outputs) graph_outputs.insert(v.name);
    std::set<std::string> half;
    for (const auto& node : graph.nodes) {
      const bool output_cast = fusion::is_onnx_op(*node, "Cast") && node->outputs.size() == 1 &&
                               graph_outputs.count(node->outputs[0]) && node->attr_int("to", 0) == kFloat16;
      for (const std::string& out : node->outputs) {
        if (!out.empty() && !output_cast && is_half(graph.find_type(out))) half.insert(out);
      }
    }
    std::set<std::string> inputs_to_widen;
    for (const ValueInfo& in : graph.inputs) {
      if (!is_half(&in.type)) continue;
      for (const auto& node : graph.nodes) {
        const bool widening_cast = fusion::is_onnx_op(*node, "Cast") && node->attr_int("to", 0) == kFloat32;
        if (!widening_cast && std::find(node->inputs.begin(), node->inputs.end(), in.name) != node->inputs.end()) {
          inputs_to_widen.insert(in.name);
        }
      }
    }
    // float16 initializers: widened in place, or, when they also are graph inputs (overridable) or graph outputs,
    // read by the nodes through a widened copy.
    std::set<std::string> graph_inputs;
    for (const ValueInfo& v : graph.inputs) graph_inputs.insert(v.name);
    const auto reads = fusion::count_reads(graph);
    std::vector<std::string> initializers_to_widen;
    for (const auto& [name, tensor] : graph.initializers) {
      if (tensor.dtype() != DType::kFloat16 || graph_inputs.count(name)) continue;
      auto r = reads.find(name);
      const int node_reads = (r == reads.end() ? 0 : r->second) - static_cast<int>(graph_outputs.count(name));
      if (!graph_outputs.count(name) || node_reads > 0) initializers_to_widen.push_back(name);
    }
    if (initializers_to_widen.empty() && half.empty() && inputs_to_widen.empty()) return false;
    for (const std::string& name : initializers_to_widen) {
      Tensor& tensor = graph.initializers.at(name);
      if (!graph_outputs.count(name)) {
        tensor = widen(tensor);
        graph.value_types.erase(name);
        continue;
      }
      const std::string copy = fusion::fresh_name(graph, name + "_float32");
      graph.initializers[copy] = widen(graph.initializers.at(name));
      rename_reads(graph, name, copy);
    }
    for (auto& node : graph.nodes) {
      if (fusion::is_onnx_op(*node, "Cast") && node->attr_int("to", 0) == kFloat16) node->set_attr_int("to", kFloat32);
      if (fusion::is_onnx_op(*node, "ConstantOfShape")) {
        auto value = node->attributes.find("value");
        if (value != node->attributes.end() && value->second.t.dtype() == DType::kFloat16) {
          value->second.t = widen(value->second.t);
        }
      }
    }
    int64_t opset = 13;  // the model's ai.onnx opset, as its other nodes carry it
    for (const auto& node : graph.nodes) {
      if (node->domain.empty() && node->opset > 0) opset = node->opset;
    }
    std::vector<std::unique_ptr<Node>> casts;
    // Inputs: one Cast each; every reader reads its output.
    for (ValueInfo& in : graph.inputs) {
      if (!inputs_to_widen.count(in.name)) continue;
      const std::string widened = fusion::fresh_name(graph, in.name + "_float32");
      rename_reads(graph, in.name, widened);
      casts.push_back(make_cast(in.name, widened, kFloat32, in.name + "_to_float32", opset));
    }
    // Outputs: the producer writes NAME_float32 (its readers follow); a Cast makes NAME in float16 again.
    for (const ValueInfo& out : graph.outputs) {
      if (!half.count(out.name)) continue;
      const std::string widened = fusion::fresh_name(graph, out.name + "_float32");
      for (auto& node : graph.nodes) std::replace(node->outputs.begin(), node->outputs.end(), out.name, widened);
      rename_reads(graph, out.name, widened);
      casts.push_back(make_cast(widened, out.name, kFloat16, out.name + "_to_float16", opset));
    }
    for (const std::string& name : half) graph.value_types.erase(name);
    for (auto& cast : casts) graph.nodes.push_back(std::move(cast));
    graph.sort_topologically();
    note("float16 values computed in float32");
    return true;
  }

 private:
  static std::unique_ptr<Node> make_cast(const std::string& in, const std::string& out, int64_t type,
                                         const std::string& name, int64_t opset) {
    auto node = std::make_unique<Node>();
    node->op_type = "Cast";
    node->name = name;
    node->inputs = {in};
    node->outputs = {out};
    node->opset = opset;
    node->set_attr_int("to", type);
    return node;
  }

  static void rename_reads(Graph& graph, const std::string& from, const std::string& to) {
    for (auto& node : graph.nodes) std::replace(node->inputs.begin(), node->inputs.end(), from, to);
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_float16_compute_in_float32() { return std::make_unique<Float16ComputeInFloat32>(); }

}  // namespace tessera

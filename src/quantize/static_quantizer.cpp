#include "quantize/static_quantizer.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include "base/error.h"
#include "passes/fusion_utils.h"
#include "passes/pass.h"
#include "quantize/graph_edit.h"

namespace tessera::quantize {
namespace {

using fusion::is_onnx_op;

// How one node is quantized.
struct Plan {
  const Node* node = nullptr;
  std::string activation;   // input 0
  std::string weight;       // the float initializer at input 1
  int64_t weight_axis = 0;  // the output-channel axis of the weight as stored
  std::string bias;         // a constant float vector at input 2 (quantized to int32), or ""
  std::string output;       // the tensor quantized after the node: its output, or its Relu's
};

bool constant_float_initializer(const Graph& graph, const std::string& name) {
  const Tensor* t = fusion::constant_tensor(graph, name);
  return t != nullptr && graph.initializers.count(name) != 0 && t->dtype() == DType::kFloat;
}

// A Relu, or a Clip whose constant minimum is 0 (ReLU6): its output range starts at 0, so after it the pair's zero
// point is the type's minimum and a fused integer op absorbs it.
bool clamps_from_zero(const Graph& graph, const Node& node) {
  if (is_onnx_op(node, "Relu")) return true;
  if (!is_onnx_op(node, "Clip")) return false;
  if (node.opset < 11) return node.attr_float("min", -3.4028234664e38f) == 0.0f;
  const std::optional<float> min =
      node.has_input(1) ? fusion::scalar_float_constant(graph, node.inputs[1]) : std::nullopt;
  return min && *min == 0.0f && (!node.has_input(2) || fusion::scalar_float_constant(graph, node.inputs[2]));
}

// Why `node` cannot be quantized ("" when it can), filling `plan`.
std::string examine(const Graph& graph, const fusion::GraphIndex& index, const Node& node, Plan& plan) {
  if (node.inputs.size() < 2 || node.outputs.size() != 1) return "unexpected inputs or outputs";
  const TypeInfo* a = graph.find_type(node.inputs[0]);
  if (a == nullptr || !a->is_tensor() || a->elem_type != DType::kFloat) return "input 0 is not known to be float32";
  if (fusion::constant_tensor(graph, node.inputs[0]) != nullptr) return "input 0 is a constant";
  if (!constant_float_initializer(graph, node.inputs[1])) return "the weight is not a float32 initializer";
  const Tensor& w = graph.initializers.at(node.inputs[1]);
  int64_t channels = 0;
  if (node.op_type == "Conv") {
    if (w.rank() < 3) return "the weight is not a convolution kernel";
    plan.weight_axis = 0;
    channels = w.dim(0);
  } else {
    if (w.rank() != 2) return "the weight is not 2-D";
    const bool trans_b = node.op_type == "Gemm" && node.attr_int("transB", 0) != 0;
    if (node.op_type == "Gemm") {
      if (node.attr_int("transA", 0) != 0) return "Gemm with transA";
      if (node.attr_float("alpha", 1.0f) != 1.0f) return "Gemm with alpha != 1";
      if (node.has_input(2) && node.attr_float("beta", 1.0f) != 1.0f) return "Gemm with beta != 1";
    }
    plan.weight_axis = trans_b ? 0 : 1;
    channels = w.dim(plan.weight_axis);
  }
  if (node.has_input(2) && constant_float_initializer(graph, node.inputs[2])) {
    const Tensor& b = graph.initializers.at(node.inputs[2]);
    if (b.rank() == 1 && b.dim(0) == channels) plan.bias = node.inputs[2];
  }
  if (node.op_type == "Conv" && node.has_input(2) && plan.bias.empty()) return "the bias is not a constant vector";
  plan.node = &node;
  plan.activation = node.inputs[0];
  plan.weight = node.inputs[1];
  plan.output = node.outputs[0];
  const Node* activation = index.only_consumer(node.outputs[0]);
  if (activation != nullptr && clamps_from_zero(graph, *activation)) plan.output = activation->outputs[0];
  return {};
}

void check_options(const StaticQuantizeOptions& options) {
  for (const std::string& op : options.op_types) {
    check_argument(op == "Conv" || op == "MatMul" || op == "Gemm",
                   "static quantization handles Conv, MatMul and Gemm, not '", op, "'");
  }
  check_argument(options.weights.type == DType::kInt8 || options.weights.type == DType::kUint8,
                 "weights quantize to int8 or uint8, not ", dtype_name(options.weights.type));
  check_argument(options.activation_type == DType::kInt8 || options.activation_type == DType::kUint8,
                 "activations quantize to int8 or uint8, not ", dtype_name(options.activation_type));
}

std::vector<Plan> select(Graph& graph, const StaticQuantizeOptions& options, QuantizeReport* report) {
  fusion::infer_types(graph);
  const fusion::GraphIndex index(graph);
  std::vector<Plan> plans;
  for (const auto& slot : graph.nodes) {
    const Node& node = *slot;
    if (!node.domain.empty() || !listed(options.op_types, node.op_type)) continue;
    Plan plan;
    std::string why = list_exclusion(node, options.include_nodes, options.exclude_nodes);
    if (why.empty()) why = examine(graph, index, node, plan);
    if (why.empty()) {
      plans.push_back(plan);
    } else if (report != nullptr) {
      report->skipped.push_back({node_key(node), node.op_type, why});
    }
  }
  return plans;
}

class StaticQuantizer {
 public:
  StaticQuantizer(Model& model, const CalibrationTable& ranges, const StaticQuantizeOptions& options)
      : graph_(*model.graph), ranges_(ranges), options_(options), names_(graph_) {
    auto opset = model.opset_imports.find("");
    opset_ = opset == model.opset_imports.end() ? 0 : opset->second;
  }

  QuantizeReport run() {
    if (opset_ < 10 || (options_.per_channel && opset_ < 13)) {
      fail(ErrorCode::kUnsupported, "static quantization needs ai.onnx opset ", options_.per_channel ? 13 : 10,
           " or later (QuantizeLinear/DequantizeLinear", options_.per_channel ? " with axis" : "",
           "); the model imports opset ", opset_, ": convert it to a newer opset first");
    }
    const std::vector<Plan> plans = select(graph_, options_, &report_);
    // The activations: each tensor once, however many nodes read or make it.
    std::vector<std::string> tensors;
    for (const Plan& p : plans) {
      for (const std::string& t : {p.activation, p.output}) {
        if (std::find(tensors.begin(), tensors.end(), t) == tensors.end()) tensors.push_back(t);
      }
    }
    std::vector<std::unique_ptr<Node>> added;
    for (const std::string& t : tensors) quantize_activation(t, added);
    for (const Plan& p : plans) quantize_node(p, added);
    for (auto& node : added) graph_.nodes.push_back(std::move(node));
    std::vector<std::string> floats;
    for (const Plan& p : plans) floats.insert(floats.end(), {p.weight, p.bias});
    drop_unread_initializers(graph_, floats);
    graph_.sort_topologically();
    if (options_.qoperator) to_qoperator();
    return std::move(report_);
  }

 private:
  struct Activation {
    std::string dequantized;
    float scale = 1;
  };

  // Q -> DQ after tensor `t`; every reader of t but the Q reads the DQ's output instead (graph outputs keep t).
  void quantize_activation(const std::string& t, std::vector<std::unique_ptr<Node>>& added) {
    auto range = ranges_.find(t);
    if (range == ranges_.end()) fail(ErrorCode::kInvalidArgument, "no calibrated range for tensor '", t, "'");
    WeightQuantization q;
    q.type = options_.activation_type;
    q.symmetric = options_.symmetric_activations;
    float scale = 1;
    int32_t zero_point = 0;
    scale_and_zero_point(range->second.min, range->second.max, q, scale, zero_point);
    const std::string scale_name = names_.fresh(t + "_scale");
    const std::string zp_name = names_.fresh(t + "_zero_point");
    graph_.initializers[scale_name] = Tensor::scalar<float>(DType::kFloat, scale);
    graph_.initializers[zp_name] = integer_parameter(q.type, {zero_point}, false);
    const std::string quantized = names_.fresh(t + "_quantized");
    std::string source = t, dequantized;
    const bool graph_output =
        std::any_of(graph_.outputs.begin(), graph_.outputs.end(), [&](const ValueInfo& v) { return v.name == t; });
    const bool graph_input =
        std::any_of(graph_.inputs.begin(), graph_.inputs.end(), [&](const ValueInfo& v) { return v.name == t; });
    if (graph_output && !graph_input) {
      // As onnxruntime writes it: the graph output is the DequantizeLinear's (so the producer can be fused into an
      // integer op); the producer writes a new name the QuantizeLinear reads.
      source = names_.fresh(t + "_QuantizeLinear_Input");
      dequantized = t;
      for (auto& node : graph_.nodes) std::replace(node->outputs.begin(), node->outputs.end(), t, source);
    } else {
      dequantized = names_.fresh(t + "_DequantizeLinear_Output");
      for (auto& node : graph_.nodes) std::replace(node->inputs.begin(), node->inputs.end(), t, dequantized);
    }
    append_node(added, names_, "QuantizeLinear", {source, scale_name, zp_name}, {quantized}, t + "_QuantizeLinear",
                opset_);
    append_node(added, names_, "DequantizeLinear", {quantized, scale_name, zp_name}, {dequantized},
                t + "_DequantizeLinear", opset_);
    activations_[t] = {dequantized, scale};
  }

  // The weight behind its DequantizeLinear (made once per weight), the node reading the DQ's output; the bias as
  // int32 with scale activation_scale * weight_scale.
  void quantize_node(const Plan& p, std::vector<std::unique_ptr<Node>>& added) {
    Node& node = *const_cast<Node*>(p.node);
    const int64_t axis = options_.per_channel ? p.weight_axis : -1;
    auto cached = weights_.find(p.weight);
    if (cached == weights_.end()) {
      const Tensor& w = graph_.initializers.at(p.weight);
      Tensor values;
      QuantParams params = quantize_weight(w, options_.weights, axis, values);
      const std::string q = names_.fresh(p.weight + "_quantized");
      const std::string s = names_.fresh(p.weight + "_scale");
      const std::string z = names_.fresh(p.weight + "_zero_point");
      const std::string out = names_.fresh(p.weight + "_DequantizeLinear_Output");
      report_.float_weight_bytes += w.byte_size();
      report_.quantized_weight_bytes += values.byte_size() + params.scales.size() * 5;
      graph_.initializers[q] = std::move(values);
      graph_.initializers[s] = options_.per_channel ? Tensor::from_vector(DType::kFloat, params.scales)
                                                    : Tensor::scalar<float>(DType::kFloat, params.scales[0]);
      graph_.initializers[z] = integer_parameter(options_.weights.type, params.zero_points, options_.per_channel);
      Node& dq =
          append_node(added, names_, "DequantizeLinear", {q, s, z}, {out}, p.weight + "_DequantizeLinear", opset_);
      if (options_.per_channel) dq.set_attr_int("axis", axis);
      cached = weights_.emplace(p.weight, WeightEntry{out, std::move(params.scales)}).first;
    }
    node.inputs[1] = cached->second.dequantized;
    std::string detail = std::string(options_.per_channel ? "per-channel " : "per-tensor ") +
                         dtype_name(options_.weights.type) + " weight, " + dtype_name(options_.activation_type) +
                         " activations";
    if (!p.bias.empty()) {
      quantize_bias(node, p, cached->second.scales, added);
      detail += ", int32 bias";
    }
    report_.quantized.push_back({node_key(node), node.op_type, detail});
  }

  void quantize_bias(Node& node, const Plan& p, const std::vector<float>& weight_scales,
                     std::vector<std::unique_ptr<Node>>& added) {
    const Tensor& b = graph_.initializers.at(p.bias);
    const float x_scale = activations_.at(p.activation).scale;
    const int64_t n = b.element_count();
    std::vector<float> scales(weight_scales.size());
    for (size_t c = 0; c < scales.size(); ++c) scales[c] = x_scale * weight_scales[c];
    Tensor values(DType::kInt32, {n});
    for (int64_t c = 0; c < n; ++c) {
      const float s = scales[scales.size() == 1 ? 0 : static_cast<size_t>(c)];
      const double v = std::nearbyint(b.data<float>()[c] / s);
      values.data<int32_t>()[c] =
          static_cast<int32_t>(std::clamp(std::isnan(v) ? 0.0 : v, double(INT_MIN), double(INT_MAX)));
    }
    const std::string q = names_.fresh(p.bias + "_quantized");
    const std::string s = names_.fresh(p.bias + "_quantized_scale");
    const std::string z = names_.fresh(p.bias + "_quantized_zero_point");
    const std::string out = names_.fresh(p.bias + "_DequantizeLinear_Output");
    const bool per_channel = scales.size() > 1;
    graph_.initializers[q] = std::move(values);
    graph_.initializers[s] =
        per_channel ? Tensor::from_vector(DType::kFloat, scales) : Tensor::scalar<float>(DType::kFloat, scales[0]);
    graph_.initializers[z] = integer_parameter(DType::kInt32, std::vector<int32_t>(scales.size(), 0), per_channel);
    Node& dq = append_node(added, names_, "DequantizeLinear", {q, s, z}, {out}, p.bias + "_DequantizeLinear", opset_);
    if (per_channel) dq.set_attr_int("axis", 0);
    node.inputs[2] = out;
  }

  // Folds the QDQ groups into the QLinear ops with the optimizer's QDQ passes (and removes what they leave unread).
  void to_qoperator() {
    const std::vector<std::string> wanted = {"qdq_fusion", "qdq_binary_fusion", "dead_code_elimination"};
    std::vector<std::string> disabled;
    for (const std::string& name : pass_names()) {
      if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) disabled.push_back(name);
    }
    optimize_graph(graph_, OptimizationLevel::kExtended, disabled);
  }

  struct WeightEntry {
    std::string dequantized;
    std::vector<float> scales;
  };

  Graph& graph_;
  const CalibrationTable& ranges_;
  const StaticQuantizeOptions& options_;
  NameSource names_;
  int64_t opset_ = 0;
  std::map<std::string, Activation> activations_;
  std::map<std::string, WeightEntry> weights_;
  QuantizeReport report_;
};

}  // namespace

std::vector<QuantizedLayer> layers_to_quantize(Model& model, const StaticQuantizeOptions& options) {
  check_options(options);
  std::vector<QuantizedLayer> layers;
  for (const Plan& p : select(*model.graph, options, nullptr)) {
    layers.push_back({node_key(*p.node), p.node->op_type, p.activation, p.output});
  }
  return layers;
}

std::vector<std::string> tensors_to_calibrate(Model& model, const StaticQuantizeOptions& options) {
  std::vector<std::string> tensors;
  for (const QuantizedLayer& layer : layers_to_quantize(model, options)) {
    for (const std::string& t : {layer.input, layer.output}) {
      if (std::find(tensors.begin(), tensors.end(), t) == tensors.end()) tensors.push_back(t);
    }
  }
  return tensors;
}

QuantizeReport quantize_static(Model& model, const CalibrationTable& ranges, const StaticQuantizeOptions& options) {
  check_options(options);
  return StaticQuantizer(model, ranges, options).run();
}

}  // namespace tessera::quantize

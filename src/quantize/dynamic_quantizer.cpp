#include "quantize/dynamic_quantizer.h"

#include <algorithm>
#include <map>

#include "base/error.h"
#include "passes/fusion_utils.h"
#include "quantize/graph_edit.h"

namespace tessera::quantize {
namespace {

Tensor transposed(const Tensor& w) {
  const int64_t rows = w.dim(0), cols = w.dim(1);
  Tensor t(DType::kFloat, {cols, rows});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t.data<float>()[c * rows + r] = w.data<float>()[r * cols + c];
  return t;
}

// A node the quantizer can rewrite: its activation input, its weight (MatMul, Gemm, Attention: [K, N]; LSTM, GRU:
// W), and Gemm's bias.
struct Candidate {
  std::string activation;
  std::string weight_name;  // the float initializer
  bool transpose = false;   // Gemm transB: the weight is stored [N, K]
  std::string bias;         // Gemm C, or ""
  bool dequantized = false;  // GRU, LSTM with layout 1: W and R become 8-bit through DequantizeLinear nodes
};

// The op type by which --op-types names `node` when the quantizer handles its kind ("" otherwise): ai.onnx MatMul,
// Gemm, LSTM and GRU, com.microsoft Attention.
std::string candidate_op(const Node& node) {
  if (node.domain == kMicrosoftDomain) return node.op_type == "Attention" ? node.op_type : std::string();
  if (!node.domain.empty()) return {};
  for (const char* op : {"MatMul", "Gemm", "LSTM", "GRU"}) {
    if (node.op_type == op) return node.op_type;
  }
  return {};
}

bool is_float_activation(const Graph& graph, const std::string& name) {
  const TypeInfo* a = graph.find_type(name);
  return a != nullptr && a->is_tensor() && a->elem_type == DType::kFloat;
}

// Why input `index` of `node` is not a float32 initializer of `rank` dimensions ("" when it is).
std::string not_float_initializer(const Graph& graph, const Node& node, size_t index, size_t rank, const char* what) {
  const Tensor* w = node.has_input(index) ? fusion::constant_tensor(graph, node.inputs[index]) : nullptr;
  if (w == nullptr || graph.initializers.count(node.inputs[index]) == 0) {
    return std::string(what) + " is not a constant initializer";
  }
  if (w->dtype() != DType::kFloat || w->rank() != rank) {
    return std::string(what) + " " + w->description() + " is not a " + std::to_string(rank) + "-D float32 weight";
  }
  return {};
}

// Why com.microsoft Attention `node` cannot become QAttention ("" when it can), filling `c`.
std::string examine_attention(const Graph& graph, const Node& node, Candidate& c) {
  if (!is_float_activation(graph, node.inputs[0])) return "input is not known to be float32";
  if (!node.has_input(2)) return "no bias (QAttention needs one)";
  if (node.has_attribute("qkv_hidden_sizes")) {
    return "qkv_hidden_sizes (QAttention takes three equal parts; quantize_dynamic skips it too)";
  }
  for (size_t i = 5; i < node.inputs.size(); ++i) {
    if (node.has_input(i)) return "input " + std::to_string(i) + " has no QAttention counterpart";
  }
  std::string why = not_float_initializer(graph, node, 1, 2, "weights");
  if (!why.empty()) return why;
  c.activation = node.inputs[0];
  c.weight_name = node.inputs[1];
  c.bias = node.inputs[2];
  return {};
}

// Why LSTM or GRU `node` cannot get 8-bit W and R ("" when it can), filling `c` (weight: W): an LSTM of layout 0
// becomes com.microsoft DynamicQuantizeLSTM; a GRU, or an LSTM of layout 1 (DynamicQuantizeLSTM has no layout
// attribute), reads its 8-bit W and R through DequantizeLinear nodes (`dequantized`).
std::string examine_recurrent(const Graph& graph, const Node& node, Candidate& c) {
  if (node.inputs.size() < 3) return "unexpected inputs";
  if (!is_float_activation(graph, node.inputs[0])) return "X is not known to be float32";
  c.dequantized = node.op_type == "GRU" || node.attr_int("layout", 0) != 0;
  std::string why = not_float_initializer(graph, node, 1, 3, "W");
  if (why.empty()) why = not_float_initializer(graph, node, 2, 3, "R");
  if (!why.empty()) return why;
  c.activation = node.inputs[0];
  c.weight_name = node.inputs[1];
  return {};
}

// Why `node` cannot be quantized ("" when it can), filling `c`.
std::string examine(const Graph& graph, const Node& node, Candidate& c) {
  if (node.op_type == "Attention") return examine_attention(graph, node, c);
  if (node.op_type == "LSTM" || node.op_type == "GRU") return examine_recurrent(graph, node, c);
  if (node.inputs.size() < 2 || node.outputs.size() != 1) return "unexpected inputs or outputs";
  const TypeInfo* a = graph.find_type(node.inputs[0]);
  if (a == nullptr || !a->is_tensor() || a->elem_type != DType::kFloat) return "input A is not known to be float32";
  const Tensor* w = fusion::constant_tensor(graph, node.inputs[1]);
  if (w == nullptr || graph.initializers.count(node.inputs[1]) == 0) return "B is not a constant initializer";
  if (w->dtype() != DType::kFloat || w->rank() != 2) return "B is not a 2-D float32 weight";
  c.activation = node.inputs[0];
  c.weight_name = node.inputs[1];
  if (node.op_type == "Gemm") {
    if (node.attr_int("transA", 0) != 0) return "Gemm with transA";
    if (node.attr_float("alpha", 1.0f) != 1.0f) return "Gemm with alpha != 1";
    c.transpose = node.attr_int("transB", 0) != 0;
    if (node.has_input(2)) {
      if (node.attr_float("beta", 1.0f) != 1.0f) return "Gemm with beta != 1";
      c.bias = node.inputs[2];
    }
    if (a->shape && a->shape->size() != 2) return "Gemm input A is not 2-D";
  }
  return {};
}

// The quantized form of one weight: initializer names of its values, scale and zero point.
struct QuantizedWeight {
  std::string source;  // the float initializer
  std::string values, scale, zero_point;
};

// The outputs of the DynamicQuantizeLinear of one activation.
struct QuantizedActivation {
  std::string values, scale, zero_point;
};

class DynamicQuantizer {
 public:
  DynamicQuantizer(Model& model, const DynamicQuantizeOptions& options)
      : graph_(*model.graph), options_(options), names_(graph_) {
    auto opset = model.opset_imports.find("");
    opset_ = opset == model.opset_imports.end() ? 0 : opset->second;
  }

  QuantizeReport run() {
    if (opset_ < 11) {
      fail(ErrorCode::kUnsupported, "dynamic quantization needs ai.onnx opset 11 or later (DynamicQuantizeLinear); ",
           "the model imports opset ", opset_, ": convert it to a newer opset first");
    }
    fusion::infer_types(graph_);
    // Decide for every node first (examining reads the graph), then rewrite.
    std::map<const Node*, Candidate> chosen;
    for (const auto& slot : graph_.nodes) {
      const Node& node = *slot;
      const std::string op = candidate_op(node);
      if (op.empty() || !listed(options_.op_types, op)) continue;
      Candidate c;
      std::string why = list_exclusion(node, options_.include_nodes, options_.exclude_nodes);
      if (why.empty()) why = examine(graph_, node, c);
      if (why.empty()) {
        chosen.emplace(&node, c);
      } else {
        report_.skipped.push_back({node_key(node), node.op_type, why});
      }
    }
    std::vector<std::unique_ptr<Node>> rewritten;
    for (auto& slot : graph_.nodes) {
      auto c = chosen.find(slot.get());
      if (c == chosen.end()) {
        rewritten.push_back(std::move(slot));
      } else {
        if (c->second.dequantized) {
          emit_dequantized_recurrent(std::move(slot), rewritten);
        } else if (slot->op_type == "Attention") {
          emit_attention(*slot, c->second, rewritten);
        } else if (slot->op_type == "LSTM") {
          emit_lstm(*slot, c->second, rewritten);
        } else {
          emit(*slot, c->second, rewritten);
        }
      }
    }
    graph_.nodes = std::move(rewritten);
    std::vector<std::string> floats;
    for (const auto& entry : weights_) floats.push_back(entry.second.source);
    drop_unread_initializers(graph_, floats);
    graph_.sort_topologically();
    return std::move(report_);
  }

 private:
  Node& add(std::vector<std::unique_ptr<Node>>& out, const std::string& op_type, std::vector<std::string> inputs,
            std::vector<std::string> outputs, const std::string& name) {
    return append_node(out, names_, op_type, std::move(inputs), std::move(outputs), name, opset_);
  }

  const QuantizedWeight& weight(const Candidate& c) {
    const std::string key = c.weight_name + (c.transpose ? "#T" : "");
    auto found = weights_.find(key);
    if (found != weights_.end()) return found->second;
    const Tensor& w = graph_.initializers.at(c.weight_name);
    const Tensor kn = c.transpose ? transposed(w) : w;
    Tensor values;
    const QuantParams params = quantize_weight(kn, options_.weights, options_.per_channel ? 1 : -1, values);
    Tensor scale = options_.per_channel ? Tensor::from_vector(DType::kFloat, params.scales)
                                        : Tensor::scalar<float>(DType::kFloat, params.scales[0]);
    Tensor zero_point = integer_parameter(options_.weights.type, params.zero_points, options_.per_channel);
    return store_weight(key, c.weight_name, std::move(values), std::move(scale), std::move(zero_point));
  }

  // W or R of an LSTM quantized for DynamicQuantizeLSTM: int8 as onnxruntime writes it whatever --weight-type says
  // (symmetric unless --asymmetric-weights), per direction or, with --per-channel, per row of 4 * hidden.
  const QuantizedWeight& lstm_weight(const std::string& name) {
    const std::string key = name + "#LSTM";
    auto found = weights_.find(key);
    if (found != weights_.end()) return found->second;
    WeightQuantization q = options_.weights;
    q.symmetric = q.type == DType::kInt8 ? q.symmetric : true;
    q.type = DType::kInt8;
    const Tensor& w = graph_.initializers.at(name);
    Tensor values;
    const QuantParams params = quantize_lstm_weight(w, q, options_.per_channel, values);
    const int64_t dirs = w.dim(0), rows = w.dim(1);
    const std::vector<int64_t> shape =
        options_.per_channel ? std::vector<int64_t>{dirs, rows} : std::vector<int64_t>{dirs};
    Tensor scale = Tensor::from_vector(DType::kFloat, params.scales).reshaped(shape);
    Tensor zero_point = integer_parameter(DType::kInt8, params.zero_points, true).reshaped(shape);
    return store_weight(key, name, std::move(values), std::move(scale), std::move(zero_point));
  }

  // W or R of a GRU (or an LSTM of layout 1) quantized for DequantizeLinear: options_.weights' type and range,
  // one scale per direction (axis 0) or, with --per-channel, per gate row (axis 1, shared by the directions, as a
  // DequantizeLinear axis takes one 1-D scale); per tensor before opset 13 (no per-axis DequantizeLinear).
  const QuantizedWeight& dequantized_weight(const std::string& name, int64_t& axis) {
    axis = opset_ < 13 ? -1 : (options_.per_channel ? 1 : 0);
    const std::string key = name + "#DQ";
    auto found = weights_.find(key);
    if (found != weights_.end()) return found->second;
    const Tensor& w = graph_.initializers.at(name);
    Tensor values;
    const QuantParams params = quantize_weight(w, options_.weights, axis, values);
    Tensor scale = axis >= 0 ? Tensor::from_vector(DType::kFloat, params.scales)
                             : Tensor::scalar<float>(DType::kFloat, params.scales[0]);
    Tensor zero_point = integer_parameter(options_.weights.type, params.zero_points, axis >= 0);
    return store_weight(key, name, std::move(values), std::move(scale), std::move(zero_point));
  }

  const QuantizedWeight& store_weight(const std::string& key, const std::string& source, Tensor values, Tensor scale,
                                      Tensor zero_point) {
    QuantizedWeight q{source, names_.fresh(source + "_quantized"), names_.fresh(source + "_scale"),
                      names_.fresh(source + "_zero_point")};
    report_.float_weight_bytes += graph_.initializers.at(source).byte_size();
    report_.quantized_weight_bytes += values.byte_size() + scale.byte_size() + zero_point.byte_size();
    graph_.initializers[q.values] = std::move(values);
    graph_.initializers[q.scale] = std::move(scale);
    graph_.initializers[q.zero_point] = std::move(zero_point);
    return weights_.emplace(key, q).first->second;
  }

  // A com.microsoft node named from `node` (its name + "_quant", as onnxruntime names it) with its attributes.
  Node& add_microsoft(std::vector<std::unique_ptr<Node>>& out, const Node& node, const std::string& op_type,
                      std::vector<std::string> inputs) {
    while (!inputs.empty() && inputs.back().empty()) inputs.pop_back();
    Node& q = add(out, op_type, std::move(inputs), node.outputs, node_key(node) + "_quant");
    q.domain = kMicrosoftDomain;
    q.opset = 1;
    q.attributes = node.attributes;
    return q;
  }

  // Attention -> DynamicQuantizeLinear(input) -> QAttention, as quantize_dynamic writes it.
  void emit_attention(const Node& node, const Candidate& c, std::vector<std::unique_ptr<Node>>& out) {
    const QuantizedWeight& w = weight(c);
    const QuantizedActivation& a = activation(c.activation, out);
    const auto input = [&](size_t i) { return node.has_input(i) ? node.inputs[i] : std::string(); };
    add_microsoft(out, node, "QAttention",
                  {a.values, w.values, c.bias, a.scale, w.scale, input(3), a.zero_point, w.zero_point, input(4)});
    report_.quantized.push_back({node_key(node), node.op_type,
                                 std::string("QAttention, ") + (options_.per_channel ? "per-column " : "per-tensor ") +
                                     dtype_name(options_.weights.type) + " weights " + c.weight_name});
  }

  // LSTM -> com.microsoft DynamicQuantizeLSTM with int8 W and R (X and h are quantized inside, at each step).
  void emit_lstm(const Node& node, const Candidate& c, std::vector<std::unique_ptr<Node>>& out) {
    const QuantizedWeight& w = lstm_weight(c.weight_name);
    const QuantizedWeight& r = lstm_weight(node.inputs[2]);
    std::vector<std::string> inputs = {node.inputs[0], w.values, r.values};
    for (size_t i = 3; i < 8; ++i) inputs.push_back(node.has_input(i) ? node.inputs[i] : std::string());
    inputs.insert(inputs.end(), {w.scale, w.zero_point, r.scale, r.zero_point});
    add_microsoft(out, node, "DynamicQuantizeLSTM", std::move(inputs)).attributes.erase("layout");
    report_.quantized.push_back(
        {node_key(node), node.op_type,
         std::string("DynamicQuantizeLSTM, int8 W and R ") + (options_.per_channel ? "per row" : "per direction")});
  }

  // GRU (or LSTM of layout 1) -> the same node reading W and R through DequantizeLinear nodes of 8-bit weights:
  // ONNX Runtime loads it as the float op on the dequantized weights; Tessera's dequantize_recurrent_fusion runs it
  // on the 8-bit weights with X and h quantized at run time (com.tessera DynamicQuantizeRecurrent).
  void emit_dequantized_recurrent(std::unique_ptr<Node> node, std::vector<std::unique_ptr<Node>>& out) {
    const std::string base = node_key(*node);
    std::string form;
    for (size_t i : {1, 2}) {
      int64_t axis = -1;
      const QuantizedWeight& q = dequantized_weight(node->inputs[i], axis);
      const std::string dequantized = names_.fresh(node->inputs[i] + "_dequantized");
      Node& dq = add(out, "DequantizeLinear", {q.values, q.scale, q.zero_point}, {dequantized},
                     base + (i == 1 ? "_W" : "_R") + "_DequantizeLinear");
      if (axis >= 0) dq.set_attr_int("axis", axis);
      form = axis < 0 ? "per tensor" : (axis == 0 ? "per direction" : "per gate row");
      node->inputs[i] = dequantized;
    }
    report_.quantized.push_back({base, node->op_type,
                                 std::string(dtype_name(options_.weights.type)) +
                                     " W and R through DequantizeLinear, " + form +
                                     " (Tessera runs it as DynamicQuantizeRecurrent)"});
    out.push_back(std::move(node));
  }

  const QuantizedActivation& activation(const std::string& name, std::vector<std::unique_ptr<Node>>& out) {
    auto found = activations_.find(name);
    if (found != activations_.end()) return found->second;
    QuantizedActivation q{names_.fresh(name + "_quantized"), names_.fresh(name + "_scale"),
                          names_.fresh(name + "_zero_point")};
    add(out, "DynamicQuantizeLinear", {name}, {q.values, q.scale, q.zero_point}, name + "_QuantizeLinear");
    return activations_.emplace(name, q).first->second;
  }

  void emit(const Node& node, const Candidate& c, std::vector<std::unique_ptr<Node>>& out) {
    const std::string base = node_key(node);
    const QuantizedWeight& w = weight(c);
    const QuantizedActivation& a = activation(c.activation, out);
    const std::string scales = names_.fresh(base + "_quant_scales_mul");
    add(out, "Mul", {a.scale, w.scale}, {scales}, base + "_quant_scales_mul");
    const std::string product = names_.fresh(base + "_output_quantized");
    add(out, "MatMulInteger", {a.values, w.values, a.zero_point, w.zero_point}, {product}, base + "_quant");
    const std::string cast = names_.fresh(base + "_output_quantized_cast_output");
    Node& to_float = add(out, "Cast", {product}, {cast}, base + "_output_quantized_cast");
    to_float.set_attr_int("to", static_cast<int64_t>(DType::kFloat));
    if (c.bias.empty()) {
      add(out, "Mul", {cast, scales}, {node.outputs[0]}, base + "_output_quantized_mul");
    } else {
      const std::string scaled = names_.fresh(base + "_output_quantized_mul_output");
      add(out, "Mul", {cast, scales}, {scaled}, base + "_output_quantized_mul");
      add(out, "Add", {scaled, c.bias}, {node.outputs[0]}, base + "_bias_add");
    }
    report_.quantized.push_back({base, node.op_type,
                                 std::string(options_.per_channel ? "per-channel " : "per-tensor ") +
                                     dtype_name(options_.weights.type) + " weight " + c.weight_name +
                                     (c.transpose ? " (transposed)" : "")});
  }

  Graph& graph_;
  const DynamicQuantizeOptions& options_;
  NameSource names_;
  int64_t opset_ = 0;
  std::map<std::string, QuantizedWeight> weights_;
  std::map<std::string, QuantizedActivation> activations_;
  QuantizeReport report_;
};

}  // namespace

QuantizeReport quantize_dynamic(Model& model, const DynamicQuantizeOptions& options) {
  for (const std::string& op : options.op_types) {
    check_argument(op == "MatMul" || op == "Gemm" || op == "Attention" || op == "LSTM" || op == "GRU",
                   "dynamic quantization handles MatMul, Gemm, Attention (com.microsoft), LSTM and GRU, not '", op,
                   "'");
  }
  check_argument(options.weights.type == DType::kInt8 || options.weights.type == DType::kUint8,
                 "weights quantize to int8 or uint8, not ", dtype_name(options.weights.type));
  return DynamicQuantizer(model, options).run();
}

}  // namespace tessera::quantize

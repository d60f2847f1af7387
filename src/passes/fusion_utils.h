// Helpers the fusion passes share: who reads a value, who produces it, and the value of a constant.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"

namespace tessera::fusion {

// How many times each value is read in `graph`: node inputs, reads of outer names inside subgraphs, and graph
// outputs (each counts one).
std::unordered_map<std::string, int> count_reads(const Graph& graph);

// The node producing each value of `graph`.
std::unordered_map<std::string, Node*> producers(const Graph& graph);

// Who produces and who reads each value of a graph, indexed once per pass run (count_reads and producers, plus
// the reading nodes). Pointers stay valid while the graph's nodes do.
class GraphIndex {
 public:
  GraphIndex() = default;
  explicit GraphIndex(const Graph& graph);
  // How many times `value` is read (see count_reads).
  int reads(const std::string& value) const;
  // The node producing `value`, or nullptr.
  Node* producer(const std::string& value) const;
  // The producer of `value` when that value is read exactly once (by the caller's node), else nullptr.
  Node* private_producer(const std::string& value) const;
  // The one node reading `value` when it is read exactly once, by a node of this graph; else nullptr.
  Node* only_consumer(const std::string& value) const;
  // The nodes of this graph reading `value` (a node reading it twice listed twice); empty when none.
  const std::vector<Node*>& consumers(const std::string& value) const;

 private:
  std::unordered_map<std::string, int> reads_;
  std::unordered_map<std::string, Node*> producer_;
  std::unordered_map<std::string, std::vector<Node*>> consumers_;
};

// A DequantizeLinear / QuantizeLinear node's constant scale and zero point (see quant_params).
struct QParams {
  const Node* node = nullptr;
  std::string scale, zero_point;  // zero_point "" when absent
  const Tensor* scale_t = nullptr;
  const Tensor* zp_t = nullptr;
  int64_t axis = 1;

  int64_t count() const { return scale_t->element_count(); }
  bool per_tensor() const { return count() == 1 && scale_t->rank() <= 1; }
  float scale_at(int64_t i) const { return scale_t->data<float>()[per_tensor() ? 0 : i]; }
  // Zero point i as int32 (0 when absent; the one value when per tensor).
  int32_t zp_at(int64_t i) const;
};

// The scale and zero point of a Q or DQ node when both are constants: a float32 scale (positive and finite, or
// with `zero_scale_ok` also 0) and a zero point of the scale's count. No blocked quantization, no output_dtype
// other than the zero point's (Q) or float (DQ), per axis only from opset 13 with a 1-D scale. nullopt otherwise.
std::optional<QParams> quant_params(const Graph& graph, const Node& node, bool zero_scale_ok);

// The ai.onnx DequantizeLinear producing `value`, with constant parameters (quant_params), or nullopt.
std::optional<QParams> dequantize_of(const Graph& graph, const GraphIndex& index, const std::string& value,
                                     bool zero_scale_ok);

// True when two value types are float32 tensors of the same rank whose dims agree: equal known values or equal
// symbols, and with `unknown_matches` also where either dim is unknown (neither value nor symbol).
bool same_float_shape(const TypeInfo* a, const TypeInfo* b, bool unknown_matches);

// The dims of a float32 tensor value whose shape is inferred (see infer_types), or nullptr.
const std::vector<Dim>* float_shape(const Graph& graph, const std::string& value);

// `base`, or `base`_1, `base`_2, ... : the first that `graph` does not define (Graph::defines), for a value or
// initializer a pass adds.
std::string fresh_name(const Graph& graph, const std::string& base);

// The tensor a name holds when it is a constant of `graph`: a non-overridable initializer or the output of a
// Constant node with a `value` tensor. nullptr otherwise.
const Tensor* constant_tensor(const Graph& graph, const std::string& name);

// The value of a one-element float32 constant, or nullopt.
std::optional<float> scalar_float_constant(const Graph& graph, const std::string& name);

// A DequantizeLinear / QuantizeLinear node quantizing per tensor with a constant float scalar scale and a constant
// 8-bit scalar zero point: the zero point's type; kUndefined otherwise (no zero point input, per-axis, not constant).
DType per_tensor_q8(const Graph& graph, const Node& node);

// Infers the types and shapes of `graph`'s values (not its subgraphs') into graph.value_types with the
// registered inference functions, for passes that need static shapes. Errors propagate (they name the node).
void infer_types(Graph& graph);

// The int64 value of a one-element int32/int64 constant, or nullopt.
std::optional<int64_t> scalar_int_constant(const Graph& graph, const std::string& name);

// The axes of an Unsqueeze node: its attribute (before opset 13) or its constant int64 axes input; nullopt when
// the input is not a constant.
std::optional<std::vector<int64_t>> unsqueeze_axes(const Graph& graph, const Node& unsqueeze);

// The ONNX Runtime fused-op `activation` name and parameters equivalent to activation node `act`: Relu, Sigmoid,
// Tanh (no parameters), LeakyRelu (alpha), HardSigmoid (alpha, beta), Clip (min, max; constant bounds only).
// False when `act` is none of these.
bool activation_of(const Graph& graph, const Node& act, std::string& name, std::vector<float>& params);

// Takes activation nodes into the nodes that feed them: for every activation (see activation_of) whose input is the
// only output of a node that `accepts` (and that output has no other reader), calls `rewrite(producer, name,
// params)`, gives the producer the activation's output and removes the activation. Returns true when any fused.
bool fuse_activations(Graph& graph, const std::function<bool(const Node&)>& accepts,
                      const std::function<void(Node&, const std::string&, const std::vector<float>&)>& rewrite,
                      std::vector<std::string>* changes = nullptr);

// True for a ReduceMean over exactly the last axis of its float32 input (rank known; axes from the attribute, or
// from opset 18 a constant input), keeping dims: the reduction of the normalization patterns.
bool reduce_mean_over_last_axis(const Graph& graph, const Node& mean);

// Fused nodes matched against an unchanged graph, applied at once: each replacement's fused node takes its anchor
// node's slot, then the nodes in `removed` are erased (matching first and rewriting after keeps a GraphIndex valid
// while matching). Returns whether anything was replaced.
using NodeReplacements = std::vector<std::pair<const Node*, std::unique_ptr<Node>>>;
bool apply_replacements(Graph& graph, NodeReplacements& replacements, const std::vector<const Node*>& removed);

// The skeleton of the passes that rewrite groups ending in a QuantizeLinear (qdq_fusion, qdq_binary_fusion,
// qdq_pass_through): `match` sees each ai.onnx QuantizeLinear q with an index of the unchanged graph and returns the
// node that replaces q (appending the other nodes it absorbs to `removed`), or nullptr; then apply_replacements.
// Returns whether anything was replaced (false at once for a graph without QuantizeLinear).
using QuantizeLinearMatcher =
    std::function<std::unique_ptr<Node>(const GraphIndex& index, const Node& q, std::vector<const Node*>& removed)>;
bool rewrite_quantize_linears(Graph& graph, const QuantizeLinearMatcher& match);

// Transpose(Transpose(x, p1), p2) -> Transpose(x, p1 ∘ p2): `outer` (a Transpose with a perm, reading `inner`'s
// output) reads x with the composed perm, or becomes Identity(x) when the two undo each other. False, nothing
// changed, when the perms do not compose (other ranks, an index out of range).
bool read_through_transpose(Node& outer, const Node& inner);

// "Op 'name'" ("domain.Op 'name'" off ai.onnx), for pass reports.
std::string node_text(const Node& node);

// One line of a pass report: "<fused> <- <replaced>, <replaced>, ..." (at most 6 listed, then how many more).
std::string describe_fusion(const Node& fused, const std::vector<const Node*>& replaced);

// True for a node of ai.onnx with this op type.
inline bool is_onnx_op(const Node& node, const char* op_type) { return node.domain.empty() && node.op_type == op_type; }

// True when some node of `graph` (not of its subgraphs) is an ai.onnx `op_type`: the passes' quick exit.
inline bool has_onnx_op(const Graph& graph, const char* op_type) {
  for (const auto& node : graph.nodes) {
    if (is_onnx_op(*node, op_type)) return true;
  }
  return false;
}

}  // namespace tessera::fusion

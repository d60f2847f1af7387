// Graph, Node and ValueInfo: the in-memory form of an ONNX graph that passes rewrite and the runtime executes.
// Values are named edges: a node input or output names a value; "" marks a missing optional input/output.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/tensor.h"
#include "ir/attribute.h"
#include "ir/type_info.h"

namespace tessera {

inline constexpr const char* kOnnxDomain = "";  // "ai.onnx" is normalised to ""
inline constexpr const char* kOnnxMlDomain = "ai.onnx.ml";
inline constexpr const char* kMicrosoftDomain = "com.microsoft";
// Tessera's own fused ops, which the optimizer's extended level writes (see docs/OPTIMIZER.md).
inline constexpr const char* kTesseraDomain = "com.tessera";
// ONNX's training operators (Gradient, Adagrad, Adam, Momentum).
inline constexpr const char* kTrainingDomain = "ai.onnx.preview.training";

// Returns the canonical domain name ("ai.onnx" -> "").
std::string canonical_domain(const std::string& domain);

// A named, typed graph value (graph input, output or annotated intermediate).
struct ValueInfo {
  std::string name;
  TypeInfo type;
};

class Node {
 public:
  std::string name;
  std::string op_type;
  std::string domain;  // canonical
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;
  int64_t opset = 0;  // the opset version of `domain` the model imports (set when the graph is resolved)

  // "node 'conv1' (Conv)" — the prefix of every message about this node.
  std::string label() const;

  bool has_attribute(const std::string& key) const { return attributes.count(key) != 0; }
  const Attribute* find_attribute(const std::string& key) const;
  // Typed getters: return the default when absent; throw kInvalidModel when present with another type.
  int64_t attr_int(const std::string& key, int64_t default_value) const;
  float attr_float(const std::string& key, float default_value) const;
  std::string attr_string(const std::string& key, const std::string& default_value) const;
  std::vector<int64_t> attr_ints(const std::string& key, const std::vector<int64_t>& default_value = {}) const;
  std::vector<float> attr_floats(const std::string& key, const std::vector<float>& default_value = {}) const;
  std::vector<std::string> attr_strings(const std::string& key) const;
  const Tensor* attr_tensor(const std::string& key) const;  // nullptr when absent
  std::shared_ptr<Graph> attr_graph(const std::string& key) const;  // nullptr when absent
  // Throws kInvalidModel naming the node when the attribute is absent.
  const Attribute& required_attribute(const std::string& key) const;
  // Adds, or replaces, an INT / FLOAT / STRING attribute.
  void set_attr_int(const std::string& key, int64_t value);
  void set_attr_float(const std::string& key, float value);
  void set_attr_string(const std::string& key, const std::string& value);

  // Number of inputs that are present (non-empty names), counting from the front up to the last present one.
  size_t input_count() const { return inputs.size(); }
  bool has_input(size_t index) const { return index < inputs.size() && !inputs[index].empty(); }
};

class Graph {
 public:
  std::string name;
  std::vector<std::unique_ptr<Node>> nodes;  // topologically sorted once sort_topologically() ran
  std::vector<ValueInfo> inputs;             // graph inputs, in order (initializers listed here are overridable)
  std::vector<ValueInfo> outputs;
  std::unordered_map<std::string, Tensor> initializers;
  std::unordered_map<std::string, TypeInfo> value_types;  // declared value_info and inferred types
  Graph* parent = nullptr;  // the enclosing graph of a subgraph, for outer-scope names

  // Appends a node and returns it.
  Node& add_node(std::string op_type, std::vector<std::string> inputs, std::vector<std::string> outputs,
                 std::string node_name = {}, std::string domain = {});

  // Orders nodes so every node comes after the producers of its inputs. Throws kInvalidModel naming the node
  // when an input is produced nowhere (not a graph input, initializer, node output or outer-scope value),
  // when two nodes produce the same value, or when the graph has a cycle.
  void sort_topologically();

  // True when `name` is a graph input, an initializer, or a node output of this graph.
  bool defines(const std::string& name) const;
  // True when `name` is defined here or in an enclosing graph.
  bool defines_in_scope(const std::string& name) const;
  // The known type of `name` (graph inputs/outputs, value_types, initializers), or nullptr.
  const TypeInfo* find_type(const std::string& name) const;
  // Sets the type of `name` in value_types.
  void set_type(const std::string& name, TypeInfo type) { value_types[name] = std::move(type); }
};

}  // namespace tessera

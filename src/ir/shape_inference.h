// The type-and-shape inference driver: walks a sorted graph and asks each node's inference function for the
// types of its outputs. Symbolic dims stay symbolic; what cannot be inferred stays unknown (never guessed).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace tessera {

// What an op's inference function sees and fills in.
class InferenceContext {
 public:
  InferenceContext(const Node& node, std::vector<const TypeInfo*> input_types,
                   std::vector<const Tensor*> input_constants)
      : node_(node), input_types_(std::move(input_types)), input_constants_(std::move(input_constants)),
        output_types_(node.outputs.size()) {}

  const Node& node() const { return node_; }
  size_t input_count() const { return input_types_.size(); }
  // The type of input i, or nullptr when the input is missing or its type is unknown.
  const TypeInfo* input_type(size_t i) const { return i < input_types_.size() ? input_types_[i] : nullptr; }
  // The value of input i when it is a constant (initializer or folded), else nullptr.
  const Tensor* input_constant(size_t i) const { return i < input_constants_.size() ? input_constants_[i] : nullptr; }
  size_t output_count() const { return output_types_.size(); }
  void set_output_type(size_t i, TypeInfo type) {
    if (i < output_types_.size()) output_types_[i] = std::move(type);
  }
  const std::vector<TypeInfo>& output_types() const { return output_types_; }

 private:
  const Node& node_;
  std::vector<const TypeInfo*> input_types_;
  std::vector<const Tensor*> input_constants_;
  std::vector<TypeInfo> output_types_;
};

using ShapeInferenceFn = std::function<void(InferenceContext&)>;
// Finds the inference function for a node (or returns an empty function when there is none).
using InferenceLookup = std::function<ShapeInferenceFn(const Node&)>;

// Fills graph.value_types for every node output whose type can be inferred. Declared types (value_info,
// graph outputs) are kept where inference knows less; inferred known dims refine unknown declared ones.
// Errors from inference functions propagate (they name the node).
void infer_graph_types(Graph& graph, const InferenceLookup& lookup);

// Multidirectional (NumPy) broadcasting of two symbolic shapes; throws kInvalidModel when incompatible.
std::vector<Dim> broadcast_dims(const std::vector<Dim>& a, const std::vector<Dim>& b);

}  // namespace tessera

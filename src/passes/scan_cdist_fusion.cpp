// Replaces the pairwise-distance Scan that scikit-learn's converters write (skl2onnx's onnx_cdist, used by
// KNeighborsClassifier / KNeighborsRegressor, and others: one Scan step per row of T, the state X passed through
// unchanged, each step's output the squared distances from that row to every row of X) by ONNX Runtime's contrib op
// com.microsoft CDist(T, X, metric = "sqeuclidean"): the same [rows of T, rows of X] matrix from one vectorized
// kernel instead of one small subgraph run per row. Only the exact pattern is taken:
//
//   Scan(X, T) (opset >= 9, one scan input, every axis and direction 0) with the body
//     next_out = Identity(next_in)
//     d = Sub(next_in, next)            (or Sub(next, next_in))
//     r = ReduceSumSquare(d, axes = [1] or [-1], keepdims = 0)
//     scan_out = Identity(r)            (or r itself, once identity_elimination has run on the body)
//   with next_in declared a float or double rank-2 tensor and next rank 1.
//
// The final state (Scan output 0), when anything reads it, becomes Identity(X). What the converters put after the
// distances is taken in too when it is their only reader: a Transpose [1, 0] (CDist(X, T) instead), then a Sqrt
// (metric "euclidean").
#include <algorithm>
#include <memory>
#include <string>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

bool all_zero_or_absent(const Node& node, const char* key) {
  for (int64_t v : node.attr_ints(key, {}))
    if (v != 0) return false;
  return true;
}

bool is_float_tensor_of_rank(const TypeInfo& type, size_t rank) {
  return type.is_tensor() && (type.elem_type == DType::kFloat || type.elem_type == DType::kDouble) && type.shape &&
         type.shape->size() == rank;
}

// True when ReduceSumSquare `reduce` sums exactly axis 1 of a rank-2 input and drops it.
bool reduces_axis_one(const Graph& body, const Node& reduce) {
  if (reduce.attr_int("keepdims", 1) != 0) return false;
  std::vector<int64_t> axes;
  if (reduce.opset >= 18) {
    if (reduce.inputs.size() < 2 || reduce.inputs[1].empty()) return false;
    const Tensor* t = fusion::constant_tensor(body, reduce.inputs[1]);
    if (t == nullptr || t->dtype() != DType::kInt64) return false;
    axes.assign(t->data<int64_t>(), t->data<int64_t>() + t->element_count());
  } else {
    axes = reduce.attr_ints("axes", {});
  }
  return axes.size() == 1 && (axes[0] == 1 || axes[0] == -1);
}

// True when `scan`'s body is the distance pattern of the file comment.
bool is_distance_scan(const Node& scan) {
  if (!is_onnx_op(scan, "Scan") || scan.opset < 9 || scan.inputs.size() != 2 || scan.outputs.size() != 2) return false;
  if (scan.inputs[0].empty() || scan.inputs[1].empty() || scan.outputs[1].empty()) return false;
  if (scan.attr_int("num_scan_inputs", 0) != 1) return false;
  for (const char* key : {"scan_input_axes", "scan_input_directions", "scan_output_axes", "scan_output_directions"})
    if (!all_zero_or_absent(scan, key)) return false;
  const std::shared_ptr<Graph> body = scan.attr_graph("body");
  if (body == nullptr || body->inputs.size() != 2 || body->outputs.size() != 2) return false;
  const std::string& next_in = body->inputs[0].name;
  const std::string& next = body->inputs[1].name;
  if (!is_float_tensor_of_rank(body->inputs[0].type, 2) || !is_float_tensor_of_rank(body->inputs[1].type, 1) ||
      body->inputs[0].type.elem_type != body->inputs[1].type.elem_type)
    return false;
  const fusion::GraphIndex body_index(*body);
  const Node* identity = body_index.producer(body->outputs[0].name);
  if (identity == nullptr || !is_onnx_op(*identity, "Identity") || identity->inputs.size() != 1 ||
      identity->inputs[0] != next_in)
    return false;
  const Node* last = body_index.producer(body->outputs[1].name);
  size_t expected_nodes = 3;
  if (last != nullptr && is_onnx_op(*last, "Identity") && last->inputs.size() == 1) {
    last = body_index.producer(last->inputs[0]);
    expected_nodes = 4;
  }
  if (last == nullptr || !is_onnx_op(*last, "ReduceSumSquare") || last->inputs.empty() ||
      !reduces_axis_one(*body, *last))
    return false;
  const Node* sub = body_index.producer(last->inputs[0]);
  if (sub == nullptr || !is_onnx_op(*sub, "Sub") || sub->inputs.size() != 2) return false;
  const bool operands =
      (sub->inputs[0] == next_in && sub->inputs[1] == next) || (sub->inputs[0] == next && sub->inputs[1] == next_in);
  // Nothing else in the body (a Constant for opset 18's axes is the one extra node allowed).
  size_t constants = 0;
  for (const auto& n : body->nodes) constants += is_onnx_op(*n, "Constant") ? 1 : 0;
  return operands && body->nodes.size() == expected_nodes + constants && constants <= 1;
}

bool swaps_two_axes(const Node& transpose) {
  if (!is_onnx_op(transpose, "Transpose") || transpose.inputs.size() != 1) return false;
  const std::vector<int64_t> perm = transpose.attr_ints("perm", {1, 0});
  return perm == std::vector<int64_t>{1, 0};
}

// Takes a Transpose [1, 0] and then a Sqrt that alone read the output of `cdist` into it (the readers as `index`, built
// on the graph before any rewrite, lists them), adding them to `removed`; returns what it took.
std::string absorb_readers(const fusion::GraphIndex& index, Node& cdist, std::vector<const Node*>& removed) {
  std::string taken;
  Node* reader = index.only_consumer(cdist.outputs[0]);
  if (reader != nullptr && swaps_two_axes(*reader)) {
    std::swap(cdist.inputs[0], cdist.inputs[1]);
    cdist.outputs[0] = reader->outputs[0];
    taken += ", " + reader->label();
    removed.push_back(reader);
    reader = index.only_consumer(cdist.outputs[0]);
  }
  if (reader != nullptr && is_onnx_op(*reader, "Sqrt") && reader->outputs.size() == 1) {
    cdist.set_attr_string("metric", "euclidean");
    cdist.outputs[0] = reader->outputs[0];
    taken += ", " + reader->label();
    removed.push_back(reader);
  }
  return taken;
}

class ScanCdistFusion final : public GraphPass {
 public:
  std::string name() const override { return "scan_cdist_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    const fusion::GraphIndex index(graph);
    std::vector<const Node*> removed;
    bool changed = false;
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      Node& scan = *graph.nodes[i];
      if (!is_distance_scan(scan)) continue;
      const std::string state = scan.inputs[0], rows = scan.inputs[1];
      const std::string final_state = scan.outputs[0], distances = scan.outputs[1];
      const std::string label = scan.label();
      const int64_t onnx_opset = scan.opset;
      scan.op_type = "CDist";
      scan.domain = kMicrosoftDomain;
      scan.opset = 1;
      scan.attributes.clear();
      scan.set_attr_string("metric", "sqeuclidean");
      scan.inputs = {rows, state};
      scan.outputs = {distances};
      if (index.reads(final_state) > 0) {
        auto identity = std::make_unique<Node>();
        identity->name = fusion::fresh_name(graph, scan.name + "_state");
        identity->op_type = "Identity";
        identity->domain = kOnnxDomain;
        identity->opset = onnx_opset;
        identity->inputs = {state};
        identity->outputs = {final_state};
        graph.nodes.insert(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(identity));
        ++i;
      }
      note("CDist '" + scan.name + "' <- " + label + absorb_readers(index, scan, removed));
      changed = true;
    }
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
    });
    return changed;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_scan_cdist_fusion() { return std::make_unique<ScanCdistFusion>(); }

}  // namespace tessera

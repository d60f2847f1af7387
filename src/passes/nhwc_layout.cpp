// nhwc_layout (level all): runs chains of pointwise and depthwise convolutions on small planes channels-last.
// Conv and com.microsoft FusedConv nodes that are pointwise (1x1, group 1, no pads) or depthwise (group = input
// channels = output channels), with a float32 4-D input of at most kMaxPlane positions per channel and constant
// float32 weights, are grouped into connected chains (one's output another's X or sum Z). A chain holding at least
// one depthwise and one pointwise convolution becomes com.tessera NhwcConv nodes (the same attributes, X, Z and Y
// channels-last), with one Transpose to NHWC per value entering the chain and one back to NCHW per value leaving it
// (read outside the chain or a graph output); values inside stay channels-last. Same arithmetic per output
// element, but the pointwise GEMMs sum in another blocking order: equal within float rounding, not bit for bit.
//
// Why (AMD EPYC Zen 4, one thread): channels-last, a pointwise convolution is one GEMM with the positions as rows,
// read in place, and the output channels along the vector lanes, written in place; NCHW on small planes it needs a
// transposed read and a transposed store (MobileNetV2's 960 -> 160 at 7x7: 133 us as GEMM, 152 us in NCHW), and a
// depthwise convolution fills every register lane with channels instead of leaving lanes idle on 7x7 and 14x14
// rows. On large planes few channels make narrow GEMM columns, so planes over kMaxPlane stay NCHW.
#include <algorithm>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using fusion::is_onnx_op;

// Most positions per channel (H * W of the input) a convolution of a chain may have: 32x32.
constexpr int64_t kMaxPlane = 1024;

enum class ConvKind { kNone, kPointwise, kDepthwise };

ConvKind candidate_kind(const Graph& graph, const Node& node) {
  const bool fused = node.domain == kMicrosoftDomain && node.op_type == "FusedConv";
  if (!is_onnx_op(node, "Conv") && !fused) return ConvKind::kNone;
  if (node.outputs.size() != 1 || node.inputs.size() < 2) return ConvKind::kNone;
  const std::vector<Dim>* x = fusion::float_shape(graph, node.inputs[0]);
  const std::vector<Dim>* y = fusion::float_shape(graph, node.outputs[0]);
  if (x == nullptr || y == nullptr || x->size() != 4 || y->size() != 4) return ConvKind::kNone;
  if (!(*x)[1].is_known() || !(*x)[2].is_known() || !(*x)[3].is_known()) return ConvKind::kNone;
  if ((*x)[2].value * (*x)[3].value > kMaxPlane) return ConvKind::kNone;
  const Tensor* w = fusion::constant_tensor(graph, node.inputs[1]);
  if (w == nullptr || w->dtype() != DType::kFloat || w->rank() != 4) return ConvKind::kNone;
  const int64_t group = node.attr_int("group", 1);
  const int64_t in_channels = (*x)[1].value;
  if (group == 1 && w->dim(2) == 1 && w->dim(3) == 1 && w->dim(1) == in_channels) {
    const std::vector<int64_t> pads = node.attr_ints("pads");
    const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
    const bool no_pads = std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v == 0; });
    if (no_pads && (auto_pad == "NOTSET" || auto_pad == "VALID")) return ConvKind::kPointwise;
    return ConvKind::kNone;
  }
  if (w->dim(1) == 1 && group == in_channels && w->dim(0) == in_channels) return ConvKind::kDepthwise;
  return ConvKind::kNone;
}

// Union-find over node indices.
int64_t find_root(std::vector<int64_t>& parent, int64_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

class NhwcLayout final : public GraphPass {
 public:
  std::string name() const override { return "nhwc_layout"; }
  OptimizationLevel level() const override { return OptimizationLevel::kAll; }

  bool run(Graph& graph) override {
    bool has_conv = false;
    for (const auto& node : graph.nodes) {
      if (node->domain == kTrainingDomain) return false;  // the training rewrite expects its own graph
      has_conv = has_conv || is_onnx_op(*node, "Conv") || node->op_type == "FusedConv";
    }
    if (!has_conv) return false;
    fusion::infer_types(graph);
    const fusion::GraphIndex index(graph);

    // Candidates and their chains.
    const int64_t count = static_cast<int64_t>(graph.nodes.size());
    std::vector<ConvKind> kinds(static_cast<size_t>(count), ConvKind::kNone);
    std::unordered_map<const Node*, int64_t> position;
    for (int64_t i = 0; i < count; ++i) {
      kinds[static_cast<size_t>(i)] = candidate_kind(graph, *graph.nodes[static_cast<size_t>(i)]);
      position[graph.nodes[static_cast<size_t>(i)].get()] = i;
    }
    std::vector<int64_t> parent(static_cast<size_t>(count));
    std::iota(parent.begin(), parent.end(), 0);
    auto candidate_producer = [&](const std::string& value) -> int64_t {
      const Node* producer = value.empty() ? nullptr : index.producer(value);
      if (producer == nullptr) return -1;
      const int64_t p = position.at(producer);
      return kinds[static_cast<size_t>(p)] == ConvKind::kNone ? -1 : p;
    };
    for (int64_t i = 0; i < count; ++i) {
      if (kinds[static_cast<size_t>(i)] == ConvKind::kNone) continue;
      for (const std::string& value : layout_inputs(*graph.nodes[static_cast<size_t>(i)])) {
        const int64_t p = candidate_producer(value);
        if (p >= 0) parent[static_cast<size_t>(find_root(parent, p))] = find_root(parent, i);
      }
    }
    std::unordered_map<int64_t, std::vector<int64_t>> chains;
    for (int64_t i = 0; i < count; ++i) {
      if (kinds[static_cast<size_t>(i)] != ConvKind::kNone) chains[find_root(parent, i)].push_back(i);
    }

    bool changed = false;
    std::vector<std::vector<int64_t>> ordered;
    for (auto& [root, members] : chains) ordered.push_back(members);
    std::sort(ordered.begin(), ordered.end());  // deterministic names and reports
    for (const std::vector<int64_t>& members : ordered) {
      const bool has_depthwise = std::any_of(members.begin(), members.end(), [&](int64_t i) {
        return kinds[static_cast<size_t>(i)] == ConvKind::kDepthwise;
      });
      const bool has_pointwise = std::any_of(members.begin(), members.end(), [&](int64_t i) {
        return kinds[static_cast<size_t>(i)] == ConvKind::kPointwise;
      });
      if (!has_depthwise || !has_pointwise) continue;
      rewrite_chain(graph, index, members, kinds);
      changed = true;
    }
    if (changed) graph.sort_topologically();
    return changed;
  }

 private:
  // The inputs of a convolution that are in its data layout: X, and FusedConv's sum Z.
  static std::vector<std::string> layout_inputs(const Node& node) {
    std::vector<std::string> values{node.inputs[0]};
    if (node.inputs.size() > 3 && !node.inputs[3].empty()) values.push_back(node.inputs[3]);
    return values;
  }

  // True when `value` (a member's output) is read only by ONNX GlobalAveragePool nodes, as their X, and is not a
  // graph output: they then read it channels-last (com.tessera NhwcGlobalAveragePool), so the member writes it
  // channels-last instead of transposing it (MobileNetV2's 320 -> 1280 at 7x7: the transposed store cost ~20% of
  // the convolution on AVX2).
  static bool pooled_outside(const fusion::GraphIndex& index, const std::string& value) {
    const std::vector<Node*>& readers = index.consumers(value);
    if (readers.empty() || index.reads(value) != static_cast<int>(readers.size())) return false;
    return std::all_of(readers.begin(), readers.end(), [&](const Node* reader) {
      return is_onnx_op(*reader, "GlobalAveragePool") && reader->inputs.size() == 1 && reader->inputs[0] == value &&
             reader->outputs.size() == 1;
    });
  }

  std::string fresh_name(const Graph& graph, const std::string& base) {
    std::string name = base;
    for (int i = 1; graph.defines(name) || used_names_.count(name) != 0; ++i) name = base + "_" + std::to_string(i);
    used_names_.insert(name);
    return name;
  }

  void add_transpose(Graph& graph, const std::string& from, const std::string& to, std::vector<int64_t> perm,
                     const std::string& node_name) {
    Node& t = graph.add_node("Transpose", {from}, {to}, fresh_name(graph, node_name));
    t.opset = transpose_opset_;
    Attribute& attr = t.attributes["perm"];
    attr.name = "perm";
    attr.type = Attribute::Type::kInts;
    attr.ints = std::move(perm);
  }

  void rewrite_chain(Graph& graph, const fusion::GraphIndex& index, const std::vector<int64_t>& members,
                     const std::vector<ConvKind>& kinds) {
    std::unordered_set<const Node*> in_chain;
    for (int64_t i : members) in_chain.insert(graph.nodes[static_cast<size_t>(i)].get());
    if (transpose_opset_ == 0) transpose_opset_ = onnx_opset(graph);
    auto node_at = [&](int64_t i) -> Node& { return *graph.nodes[static_cast<size_t>(i)]; };
    auto pointwise = [&](int64_t i) { return kinds[static_cast<size_t>(i)] == ConvKind::kPointwise; };
    auto produced_inside = [&](const std::string& value) {
      const Node* producer = index.producer(value);
      return producer != nullptr && in_chain.count(producer) != 0;
    };
    // Reads of a member's output by members (as X or Z).
    auto reads_inside = [&](const std::string& out) {
      int reads = 0;
      for (const Node* reader : index.consumers(out)) {
        if (in_chain.count(reader) == 0) continue;
        for (const std::string& value : layout_inputs(*reader)) reads += value == out ? 1 : 0;
      }
      return reads;
    };
    // A pointwise member whose output only leaves the chain writes it NCHW itself (no Transpose after it), unless
    // its Z comes from inside the chain (channels-last) or, without a Z from outside (which would need a Transpose),
    // only GlobalAveragePool reads it (see pooled_outside).
    std::unordered_set<int64_t> nchw_output;
    std::unordered_map<std::string, int> inside_reads;  // counted before the readers are renamed
    for (int64_t i : members) inside_reads[node_at(i).outputs[0]] = reads_inside(node_at(i).outputs[0]);
    for (int64_t i : members) {
      const Node& node = node_at(i);
      const bool z_inside = node.inputs.size() > 3 && !node.inputs[3].empty() && produced_inside(node.inputs[3]);
      const bool z_outside = node.inputs.size() > 3 && !node.inputs[3].empty() && !z_inside;
      const bool pooled = pooled_outside(index, node.outputs[0]) && !z_outside;
      if (pointwise(i) && inside_reads.at(node.outputs[0]) == 0 && !z_inside && !pooled) nchw_output.insert(i);
    }
    // Channels-last names of the other members' outputs.
    std::unordered_map<std::string, std::string> last;
    for (int64_t i : members) {
      if (nchw_output.count(i) == 0) last[node_at(i).outputs[0]] = fresh_name(graph, node_at(i).outputs[0] + "_nhwc");
    }
    // Values entering the chain: read NCHW where every reader can (a pointwise member's X; the Z of a member that
    // writes NCHW always reads it so), else through one Transpose to NHWC.
    std::unordered_map<std::string, bool> enters_nchw;
    for (int64_t i : members) {
      const Node& node = node_at(i);
      for (size_t slot : {size_t{0}, size_t{3}}) {
        if (slot >= node.inputs.size() || node.inputs[slot].empty() || last.count(node.inputs[slot]) != 0) continue;
        if (slot == 3 && nchw_output.count(i) != 0) continue;
        auto [it, inserted] = enters_nchw.emplace(node.inputs[slot], true);
        it->second = it->second && slot == 0 && pointwise(i);
      }
    }
    std::vector<const Node*> replaced;
    for (int64_t i : members) {
      Node& node = node_at(i);
      replaced.push_back(&node);
      for (size_t slot : {size_t{0}, size_t{3}}) {
        if (slot >= node.inputs.size() || node.inputs[slot].empty()) continue;
        if (slot == 3 && nchw_output.count(i) != 0) continue;  // read as it is (see above)
        const std::string value = node.inputs[slot];
        auto found = last.find(value);
        if (found == last.end() && enters_nchw.at(value)) {
          node.set_attr_int("nchw_input", 1);
          continue;
        }
        if (found == last.end()) {  // one Transpose to NHWC per entering value
          const std::string nhwc = fresh_name(graph, value + "_nhwc");
          add_transpose(graph, value, nhwc, {0, 2, 3, 1}, value + "_to_nhwc");
          found = last.emplace(value, nhwc).first;
        }
        node.inputs[slot] = found->second;
      }
    }
    for (int64_t i : members) {
      Node& node = node_at(i);
      const std::string out = node.outputs[0];
      node.domain = kTesseraDomain;
      node.op_type = "NhwcConv";
      node.opset = 1;
      if (nchw_output.count(i) != 0) {
        node.set_attr_int("nchw_output", 1);
        continue;
      }
      node.outputs[0] = last.at(out);
      if (inside_reads.at(out) == 0 && pooled_outside(index, out)) {  // pooled channels-last, no Transpose
        for (Node* reader : index.consumers(out)) {
          reader->domain = kTesseraDomain;
          reader->op_type = "NhwcGlobalAveragePool";
          reader->opset = 1;
          reader->inputs[0] = last.at(out);
        }
        graph.value_types.erase(out);
      } else if (index.reads(out) > inside_reads.at(out)) {  // also read outside, or a graph output: back to NCHW
        add_transpose(graph, last.at(out), out, {0, 3, 1, 2}, out + "_to_nchw");
      } else {
        graph.value_types.erase(out);
      }
    }
    note("NhwcConv chain of " + std::to_string(members.size()) + " convolutions <- " +
         fusion::node_text(*replaced.front()) + " ... " + fusion::node_text(*replaced.back()));
  }

  static int64_t onnx_opset(const Graph& graph) {
    for (const auto& node : graph.nodes) {
      if (node->domain.empty() && node->opset > 0) return node->opset;
    }
    return 13;
  }

  std::unordered_set<std::string> used_names_;
  int64_t transpose_opset_ = 0;
};

}  // namespace

std::unique_ptr<GraphPass> make_nhwc_layout() { return std::make_unique<NhwcLayout>(); }

}  // namespace tessera

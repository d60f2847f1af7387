// The matcher of attention_fusion, shared by its two files: attention_fusion.cpp (the pass, the softmax/scores part
// every pattern shares, and the batch-first [B, S, N*H] layout of Hugging Face style exports) and
// attention_fusion_seq_first.cpp (PyTorch nn.MultiheadAttention's [S, B*N, H] layout). Internal to src/passes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "passes/fusion_utils.h"

namespace tessera::attention_fusion {

// One attention subgraph and what replaces it: `before` (nodes staging Q, K, V and the mask), the com.tessera
// Attention node writing `attention_output`, then `after` (nodes restoring the pattern's output layout as `y`).
struct AttentionMatch {
  std::string q, k, v, mask, y, attention_output;
  int64_t heads = 0;
  float scale = 1.0f;
  std::vector<const Node*> nodes;  // replaced
  const Node* last = nullptr;      // the pattern's last node, whose slot the new nodes take
  std::vector<std::unique_ptr<Node>> before, after;
  std::vector<std::pair<std::string, Tensor>> constants;  // initializers the new nodes read
  std::vector<std::pair<std::string, std::string>> dims;  // "value#axis" -> a dim_value made for it
};

class AttentionMatcher {
 public:
  AttentionMatcher(Graph& graph, const fusion::GraphIndex& index) : graph_(&graph), index_(&index) {}

  // The attention subgraph around `softmax`, or nullopt.
  std::optional<AttentionMatch> match(const Node& softmax);

 private:
  const std::vector<Dim>* shape_of(const std::string& value) const;
  std::optional<std::vector<int64_t>> reshape_target(const Node& reshape) const;
  std::optional<std::string> split_heads(const std::string& value, const std::vector<int64_t>& perm, int64_t& heads,
                                         int64_t& size, std::vector<const Node*>& nodes) const;
  const Node* scores(const std::string& value, float& scale, std::vector<const Node*>& nodes) const;
  bool match_batch_first(const Node& softmax, const Node& qk, AttentionMatch& m);
  bool match_seq_first(const Node& softmax, const Node& qk, AttentionMatch& m);

  // Helpers of the seq-first pattern (attention_fusion_seq_first.cpp).
  struct Split;
  std::optional<Split> split_seq_first(const std::string& value, const std::vector<int64_t>& perm,
                                       std::vector<const Node*>& nodes) const;
  bool splits_last_axis(const Node& node) const;
  bool dim0_of(const std::string& piece, std::optional<int64_t> constant, const std::string& x) const;
  bool stage_seq_first_mask(const Split& q, const std::string& k_source, AttentionMatch& m);
  std::vector<const Node*> shape_only_readers(const std::string& value, const Node& split_transpose) const;
  void replace_shape_readers(const Split& split, AttentionMatch& m);

  // Creating nodes: names unique in the graph and among the nodes this matcher made.
  std::string fresh_name(const std::string& base);
  Node& add_node(std::vector<std::unique_ptr<Node>>& list, const std::string& op_type,
                 std::vector<std::string> inputs, const std::string& output);
  std::string add_constant(AttentionMatch& m, const std::string& base, const std::vector<int64_t>& values);
  // `mask` broadcast against `shape` (a 1-D int64 value) by an Expand in m.before; returns the Expand's output.
  std::string expand(AttentionMatch& m, const std::string& mask, const std::string& shape);
  // A 1-D int64 value holding dim `axis` of `value` at run time (Shape, Gather), made in m.before.
  std::string dim_value(AttentionMatch& m, const std::string& value, int64_t axis);
  void set_perm(Node& node, const std::vector<int64_t>& perm) const;

  Graph* graph_;
  const fusion::GraphIndex* index_;
  int64_t opset_ = 13;  // the model's ai.onnx opset, for the nodes this matcher makes
  std::vector<std::string> made_;
};

}  // namespace tessera::attention_fusion

// The tree-ensemble engine shared by TreeEnsemble (ai.onnx.ml opset 5) and the deprecated
// TreeEnsembleClassifier / TreeEnsembleRegressor (opsets 1 and 3): a validated node array walked per row,
// leaf weights aggregated per target, and the score finalization of ONNX Runtime (which exported
// scikit-learn, LightGBM and XGBoost models are checked against), including its binary-classifier rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/parallel.h"
#include "base/tensor.h"
#include "ops/ml/ml_common.h"

namespace tessera::ml {

enum class TreeMode : uint8_t { kLeq, kLt, kGte, kGt, kEq, kNeq, kMember, kLeaf };
enum class Aggregate { kAverage, kSum, kMin, kMax };

// Parses 'BRANCH_LEQ' ... 'LEAF' (TreeEnsemble{Classifier,Regressor}); throws kInvalidModel otherwise.
TreeMode parse_tree_mode(const std::string& name);
// Parses 'AVERAGE', 'SUM', 'MIN', 'MAX'; throws kInvalidModel otherwise.
Aggregate parse_aggregate(const std::string& name);

// One node. Interior nodes compare feature `feature` with the threshold (or test membership in
// members[members_begin, +members_count)) and go to true_child or false_child; NaN features go to the true
// child when missing_tracks_true (or for BRANCH_NEQ). Leaves own weights[weights_begin, +weights_count).
struct TreeNode {
  TreeMode mode = TreeMode::kLeaf;
  bool missing_tracks_true = false;
  int64_t feature = 0;
  double threshold = 0;
  float threshold_f = 0;  // the threshold rounded to float: float inputs compare in float, as ONNX Runtime does
  int64_t true_child = -1;
  int64_t false_child = -1;
  int64_t weights_begin = 0;
  int64_t weights_count = 0;
  int64_t members_begin = 0;
  int64_t members_count = 0;
};

struct LeafWeight {
  int64_t target = 0;
  double weight = 0;
};

// A node as the walk reads it (TreeEnsembleModel::walk_f / walk_d; 16 bytes with float thresholds, a quarter of a
// TreeNode), at the index of its TreeNode. Interior: its threshold, its feature (bit 31 set: NaN goes to the true
// child) and its children as links, true child first (>= 0: an interior node; < 0: ~ the index of a leaf). Leaf:
// its weight in `threshold` when it has exactly one (its target in feature_bits), its first weight and weight count
// in links.
template <typename C>
struct WalkNode {
  C threshold = 0;
  uint32_t feature_bits = 0;
  int32_t links[2] = {0, 0};
};

// What a builder fills in; finish() validates it and makes it immutable in use.
struct TreeEnsembleModel {
  std::vector<TreeNode> nodes;
  std::vector<int64_t> roots;
  std::vector<LeafWeight> weights;  // grouped by leaf (see TreeNode)
  std::vector<double> members;      // sorted within each member node's range
  std::vector<float> members_f;
  int64_t n_targets = 1;
  Aggregate aggregate = Aggregate::kSum;
  PostTransform post_transform = PostTransform::kNone;
  std::vector<double> base_values;  // empty or one per target / class
  int64_t feature_count = 0;        // 1 + the largest feature index used

  // The walk form finish() compiles from the above: one WalkNode per node in float and in double, each tree's root
  // as a link, and the comparison every interior node makes when they all make the same one of <=, <, >=, >
  // (kLeaf otherwise: the walk then decides node by node, as TreeNode says).
  std::vector<WalkNode<float>> walk_f;
  std::vector<WalkNode<double>> walk_d;
  std::vector<int32_t> walk_roots;
  TreeMode shared_mode = TreeMode::kLeaf;

  // Checks children, targets, base values and acyclicity; sorts member sets; compiles the walk form. Throws
  // kInvalidModel.
  void finish();

 private:
  void compile_walk();
};

// Per-row raw scores: the aggregated leaf weights and whether any leaf contributed to each target.
template <typename C>
struct RowScores {
  std::vector<C> score;
  std::vector<uint8_t> has;
};

// Regressor finalization: aggregate-specific averaging, base values, then the post transform, written to
// out[0, n_targets).
template <typename C, typename Out>
void finalize_regression(const TreeEnsembleModel& model, RowScores<C>& scores, Out* out);

// Classifier finalization: returns the index into the class labels (or the raw 0/1 decision for a single
// class) and writes the class scores (score_columns(model) of them).
template <typename C>
int64_t finalize_classification(const TreeEnsembleModel& model, bool binary_case, bool weights_all_positive,
                                RowScores<C>& scores, float* out);

// Aggregates every tree's leaf weights for each row of x ([N, F] or [F]; features compared as C) and calls
// finish_row(row, scores) for each, the rows split over the pool. A row's trees add up in their order, whatever the
// split. Checks that x has at least model.feature_count features (tree_ensemble_scoring.cpp).
template <typename C>
void score_rows(const TreeEnsembleModel& model, const Tensor& x, Parallelism& parallelism,
                const std::function<void(int64_t, RowScores<C>&)>& finish_row);

}  // namespace tessera::ml

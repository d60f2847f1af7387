#include "ops/ml/tree_ensemble_common.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace tessera::ml {

TreeMode parse_tree_mode(const std::string& name) {
  if (name == "BRANCH_LEQ") return TreeMode::kLeq;
  if (name == "BRANCH_LT") return TreeMode::kLt;
  if (name == "BRANCH_GTE") return TreeMode::kGte;
  if (name == "BRANCH_GT") return TreeMode::kGt;
  if (name == "BRANCH_EQ") return TreeMode::kEq;
  if (name == "BRANCH_NEQ") return TreeMode::kNeq;
  if (name == "LEAF") return TreeMode::kLeaf;
  fail(ErrorCode::kInvalidModel, "attribute 'nodes_modes' holds '", name, "', not a BRANCH_* mode or LEAF");
}

Aggregate parse_aggregate(const std::string& name) {
  if (name == "AVERAGE") return Aggregate::kAverage;
  if (name == "SUM") return Aggregate::kSum;
  if (name == "MIN") return Aggregate::kMin;
  if (name == "MAX") return Aggregate::kMax;
  fail(ErrorCode::kInvalidModel, "attribute 'aggregate_function' = '", name, "' is not AVERAGE, SUM, MIN or MAX");
}

void TreeEnsembleModel::finish() {
  const auto node_count = static_cast<int64_t>(nodes.size());
  check_model(n_targets >= 1, "the number of targets (or classes) must be positive, got ", n_targets);
  check_model(!roots.empty(), "the ensemble has no tree");
  feature_count = 0;
  members_f.assign(members.size(), 0.0f);
  for (int64_t i = 0; i < node_count; ++i) {
    TreeNode& node = nodes[static_cast<size_t>(i)];
    if (node.mode == TreeMode::kLeaf) {
      for (int64_t w = node.weights_begin; w < node.weights_begin + node.weights_count; ++w) {
        const int64_t target = weights[static_cast<size_t>(w)].target;
        check_model(target >= 0 && target < n_targets, "node ", i, ": leaf target/class id ", target,
                    " is outside [0, ", n_targets, ")");
      }
      continue;
    }
    check_model(
        node.true_child >= 0 && node.true_child < node_count && node.false_child >= 0 && node.false_child < node_count,
        "node ", i, ": a child index is outside the ", node_count, " nodes");
    check_model(node.feature >= 0, "node ", i, ": negative feature id ", node.feature);
    feature_count = std::max(feature_count, node.feature + 1);
    node.threshold_f = static_cast<float>(node.threshold);
    if (node.mode == TreeMode::kMember) {
      auto begin = members.begin() + node.members_begin;
      std::sort(begin, begin + node.members_count);
      for (int64_t m = node.members_begin; m < node.members_begin + node.members_count; ++m) {
        members_f[static_cast<size_t>(m)] = static_cast<float>(members[static_cast<size_t>(m)]);
      }
    }
  }
  // Every walk must end at a leaf: no cycles reachable from a root (depth-first, three colours).
  std::vector<uint8_t> state(nodes.size(), 0);  // 0 unseen, 1 on the stack, 2 done
  std::vector<std::pair<int64_t, int>> stack;
  for (int64_t root : roots) {
    check_model(root >= 0 && root < node_count, "tree root ", root, " is outside the ", node_count, " nodes");
    if (state[static_cast<size_t>(root)] == 2) continue;
    stack.assign(1, {root, 0});
    state[static_cast<size_t>(root)] = 1;
    while (!stack.empty()) {
      auto& [index, next] = stack.back();
      const TreeNode& node = nodes[static_cast<size_t>(index)];
      if (node.mode == TreeMode::kLeaf || next == 2) {
        state[static_cast<size_t>(index)] = 2;
        stack.pop_back();
        continue;
      }
      const int64_t child = next++ == 0 ? node.true_child : node.false_child;
      check_model(state[static_cast<size_t>(child)] != 1, "the tree with root ", root, " has a cycle through node ",
                  child);
      if (state[static_cast<size_t>(child)] == 0) {
        state[static_cast<size_t>(child)] = 1;
        stack.emplace_back(child, 0);
      }
    }
  }
  compile_walk();
}

void TreeEnsembleModel::compile_walk() {
  const auto node_count = static_cast<int64_t>(nodes.size());
  check_model(node_count < (int64_t{1} << 31) && static_cast<int64_t>(weights.size()) < (int64_t{1} << 31) &&
                  feature_count < (int64_t{1} << 31),
              "the ensemble has ", node_count, " nodes and ", weights.size(), " leaf weights; at most 2^31 - 1 each");
  // A child as a link: an interior node's index, or ~ a leaf's.
  const auto link = [&](int64_t index) {
    const auto i = static_cast<int32_t>(index);
    return nodes[static_cast<size_t>(index)].mode == TreeMode::kLeaf ? ~i : i;
  };
  walk_f.assign(nodes.size(), WalkNode<float>{});
  walk_d.assign(nodes.size(), WalkNode<double>{});
  bool first = true, shared = true;
  for (int64_t i = 0; i < node_count; ++i) {
    const TreeNode& node = nodes[static_cast<size_t>(i)];
    WalkNode<float>& f = walk_f[static_cast<size_t>(i)];
    WalkNode<double>& d = walk_d[static_cast<size_t>(i)];
    if (node.mode == TreeMode::kLeaf) {
      const bool single = node.weights_count == 1;
      const LeafWeight* w = single ? &weights[static_cast<size_t>(node.weights_begin)] : nullptr;
      f.threshold = single ? static_cast<float>(w->weight) : 0.0f;
      d.threshold = single ? w->weight : 0.0;
      f.feature_bits = d.feature_bits = single ? static_cast<uint32_t>(w->target) : 0u;
      f.links[0] = d.links[0] = static_cast<int32_t>(node.weights_begin);
      f.links[1] = d.links[1] = static_cast<int32_t>(node.weights_count);
      continue;
    }
    f.threshold = node.threshold_f;
    d.threshold = node.threshold;
    f.feature_bits = d.feature_bits =
        static_cast<uint32_t>(node.feature) | (node.missing_tracks_true ? uint32_t{1} << 31 : 0u);
    f.links[0] = d.links[0] = link(node.true_child);
    f.links[1] = d.links[1] = link(node.false_child);
    if (first) shared_mode = node.mode;
    shared = shared && node.mode == shared_mode;
    first = false;
  }
  const bool comparison = shared_mode == TreeMode::kLeq || shared_mode == TreeMode::kLt ||
                          shared_mode == TreeMode::kGte || shared_mode == TreeMode::kGt;
  if (!shared || !comparison) shared_mode = TreeMode::kLeaf;
  walk_roots.clear();
  for (int64_t root : roots) walk_roots.push_back(link(root));
}

namespace {

// The post transform of n >= 2 scores in float, as ONNX Runtime's write_scores computes it.
template <typename Out>
void write_transformed(PostTransform transform, std::vector<float>& values, Out* out) {
  apply_post_transform(transform, values.data(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<Out>(values[i]);
}

}  // namespace

template <typename C, typename Out>
void finalize_regression(const TreeEnsembleModel& model, RowScores<C>& scores, Out* out) {
  const auto trees = static_cast<C>(model.roots.size());
  const size_t n = scores.score.size();
  const bool use_base = model.base_values.size() == n;
  if (n == 1) {
    C s = scores.score[0];
    if (model.aggregate == Aggregate::kAverage) s /= trees;
    if ((model.aggregate == Aggregate::kMin || model.aggregate == Aggregate::kMax) && !scores.has[0]) s = 0;
    if (use_base) s += static_cast<C>(model.base_values[0]);
    out[0] = model.post_transform == PostTransform::kProbit ? static_cast<Out>(probit(static_cast<float>(s)))
                                                            : static_cast<Out>(s);
    return;
  }
  // Targets no leaf contributed to come out as 0, base value or not (ONNX Runtime's convention).
  for (size_t j = 0; j < n; ++j) {
    C v = scores.score[j];
    if (model.aggregate == Aggregate::kAverage) v /= trees;
    if (use_base) v += static_cast<C>(model.base_values[j]);
    scores.score[j] = scores.has[j] ? v : C(0);
  }
  if (model.post_transform == PostTransform::kNone) {
    for (size_t j = 0; j < n; ++j) out[j] = static_cast<Out>(scores.score[j]);
    return;
  }
  std::vector<float> values(scores.score.begin(), scores.score.end());
  write_transformed(model.post_transform, values, out);
}

template <typename C>
int64_t finalize_classification(const TreeEnsembleModel& model, bool binary_case, bool weights_all_positive,
                                RowScores<C>& scores, float* out) {
  const size_t n = scores.score.size();
  const std::vector<double>& base = model.base_values;
  std::vector<C>& score = scores.score;
  std::vector<uint8_t>& has = scores.has;
  if (n == 1) {
    C s = score[0] + (base.size() == 1 ? static_cast<C>(base[0]) : C(0));
    out[0] = model.post_transform == PostTransform::kProbit ? probit(static_cast<float>(s)) : static_cast<float>(s);
    return s > 0 ? 1 : 0;
  }
  if (n > 2) {
    for (size_t k = 0; k < base.size() && k < n; ++k) {
      score[k] = has[k] ? score[k] + static_cast<C>(base[k]) : static_cast<C>(base[k]);
      has[k] = 1;
    }
    int64_t best = -1;
    for (size_t k = 0; k < n; ++k) {
      if (has[k] && (best < 0 || score[k] > score[static_cast<size_t>(best)])) best = static_cast<int64_t>(k);
    }
    std::vector<float> values(n);
    for (size_t k = 0; k < n; ++k) values[k] = has[k] ? static_cast<float>(score[k]) : 0.0f;
    write_transformed(model.post_transform, values, out);
    return std::max<int64_t>(best, 0);
  }
  // Two classes: ONNX Runtime's rules, quirks included (a lone class-1 score stands for both classes).
  int mode = -1;  // how a single score becomes two columns
  size_t count = 2;
  if (base.size() == 2) {
    if (has[1]) {
      score[1] = static_cast<C>(base[1]) + score[0];
      score[0] = -score[1];
    } else {
      score[1] += static_cast<C>(base[1]);
      score[0] += static_cast<C>(base[0]);
    }
  } else {
    if (base.size() == 1)
      score[0] += static_cast<C>(base[0]);
    else
      mode = 3;
    if (!has[1]) count = 1;
  }
  const C positive = (count == 2 && has[1]) ? score[1] : (has[0] ? score[0] : C(0));
  int64_t label;
  if (binary_case && weights_all_positive) {
    label = positive > C(0.5) ? 1 : 0;
    mode = positive > C(0.5) ? 0 : 1;
  } else if (binary_case) {
    label = positive > 0 ? 1 : 0;
    mode = positive > 0 ? 2 : 3;
  } else {
    label = positive > 0 ? 1 : 0;
  }
  if (count == 2) {
    std::vector<float> values{has[0] ? static_cast<float>(score[0]) : 0.0f,
                              has[1] ? static_cast<float>(score[1]) : 0.0f};
    write_transformed(model.post_transform, values, out);
    return label;
  }
  const float s = has[0] ? static_cast<float>(score[0]) : 0.0f;
  const bool logistic_pair = model.post_transform == PostTransform::kLogistic && mode >= 0;
  if (model.post_transform == PostTransform::kProbit) {
    out[0] = probit(s);
    out[1] = 0.0f;
  } else if (logistic_pair) {
    out[0] = logistic(-s);
    out[1] = logistic(s);
  } else if (mode == 0 || mode == 1) {
    out[0] = 1.0f - s;
    out[1] = s;
  } else if (mode == 2 || mode == 3) {
    out[0] = -s;
    out[1] = s;
  } else {
    out[0] = s;
    out[1] = 0.0f;
  }
  return label;
}

template void finalize_regression<float, float>(const TreeEnsembleModel&, RowScores<float>&, float*);
template void finalize_regression<double, float>(const TreeEnsembleModel&, RowScores<double>&, float*);
template void finalize_regression<double, double>(const TreeEnsembleModel&, RowScores<double>&, double*);
template int64_t finalize_classification<float>(const TreeEnsembleModel&, bool, bool, RowScores<float>&, float*);
template int64_t finalize_classification<double>(const TreeEnsembleModel&, bool, bool, RowScores<double>&, float*);
}  // namespace tessera::ml

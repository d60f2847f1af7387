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
}

namespace {

template <typename C>
bool goes_true(const TreeEnsembleModel& model, const TreeNode& node, C x) {
  if (std::isnan(x)) return node.missing_tracks_true || node.mode == TreeMode::kNeq;
  C threshold;
  if constexpr (std::is_same_v<C, float>)
    threshold = node.threshold_f;
  else
    threshold = node.threshold;
  switch (node.mode) {
    case TreeMode::kLeq:
      return x <= threshold;
    case TreeMode::kLt:
      return x < threshold;
    case TreeMode::kGte:
      return x >= threshold;
    case TreeMode::kGt:
      return x > threshold;
    case TreeMode::kEq:
      return x == threshold;
    case TreeMode::kNeq:
      return x != threshold;
    case TreeMode::kMember: {
      if constexpr (std::is_same_v<C, float>) {
        auto begin = model.members_f.begin() + node.members_begin;
        return std::binary_search(begin, begin + node.members_count, x);
      } else {
        auto begin = model.members.begin() + node.members_begin;
        return std::binary_search(begin, begin + node.members_count, x);
      }
    }
    case TreeMode::kLeaf:
      break;
  }
  return false;
}

}  // namespace

template <typename C>
void accumulate_trees(const TreeEnsembleModel& model, const C* row, RowScores<C>& out) {
  out.score.assign(static_cast<size_t>(model.n_targets), C(0));
  out.has.assign(static_cast<size_t>(model.n_targets), 0);
  for (int64_t root : model.roots) {
    const TreeNode* node = &model.nodes[static_cast<size_t>(root)];
    while (node->mode != TreeMode::kLeaf) {
      const int64_t next = goes_true(model, *node, row[node->feature]) ? node->true_child : node->false_child;
      node = &model.nodes[static_cast<size_t>(next)];
    }
    for (int64_t w = node->weights_begin; w < node->weights_begin + node->weights_count; ++w) {
      const LeafWeight& leaf = model.weights[static_cast<size_t>(w)];
      const auto t = static_cast<size_t>(leaf.target);
      const auto value = static_cast<C>(leaf.weight);
      C& score = out.score[t];
      switch (model.aggregate) {
        case Aggregate::kSum:
        case Aggregate::kAverage:
          score += value;
          break;
        case Aggregate::kMin:
          score = (!out.has[t] || value < score) ? value : score;
          break;
        case Aggregate::kMax:
          score = (!out.has[t] || value > score) ? value : score;
          break;
      }
      out.has[t] = 1;
    }
  }
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

template <typename C>
void for_each_feature_row(const TreeEnsembleModel& model, const Tensor& x, Parallelism& parallelism,
                          const std::function<void(int64_t, const C*, RowScores<C>&)>& row_fn) {
  const FeatureShape fs = feature_shape(x, "input 'X'");
  check_argument(fs.columns >= model.feature_count, "input 'X' ", x.description(), " has ", fs.columns,
                 " features but the trees read feature ", model.feature_count - 1);
  const auto run_rows = [&](int64_t begin, int64_t end) {
    std::vector<C> row(static_cast<size_t>(fs.columns));
    RowScores<C> scores;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t> || std::is_same_v<T, Float16>) {
        const T* data = x.data<T>();
        for (int64_t r = begin; r < end; ++r) {
          for (int64_t c = 0; c < fs.columns; ++c) {
            row[static_cast<size_t>(c)] = static_cast<C>(element_to_double(data[r * fs.columns + c]));
          }
          row_fn(r, row.data(), scores);
        }
      }
    });
  };
  const bool known = x.dtype() == DType::kFloat || x.dtype() == DType::kDouble || x.dtype() == DType::kInt32 ||
                     x.dtype() == DType::kInt64 || x.dtype() == DType::kFloat16;
  check_argument(known, "input 'X' ", x.description(), ": element type must be float, double, float16, int32 or int64");
  const int64_t work = fs.rows * static_cast<int64_t>(model.roots.size()) * 8;
  if (fs.rows > 1 && work >= (1 << 14))
    parallelism.parallel_for(fs.rows, run_rows);
  else if (fs.rows > 0)
    run_rows(0, fs.rows);
}

template void accumulate_trees<float>(const TreeEnsembleModel&, const float*, RowScores<float>&);
template void accumulate_trees<double>(const TreeEnsembleModel&, const double*, RowScores<double>&);
template void finalize_regression<float, float>(const TreeEnsembleModel&, RowScores<float>&, float*);
template void finalize_regression<double, float>(const TreeEnsembleModel&, RowScores<double>&, float*);
template void finalize_regression<double, double>(const TreeEnsembleModel&, RowScores<double>&, double*);
template int64_t finalize_classification<float>(const TreeEnsembleModel&, bool, bool, RowScores<float>&, float*);
template int64_t finalize_classification<double>(const TreeEnsembleModel&, bool, bool, RowScores<double>&, float*);
template void for_each_feature_row<float>(const TreeEnsembleModel&, const Tensor&, Parallelism&,
                                          const std::function<void(int64_t, const float*, RowScores<float>&)>&);
template void for_each_feature_row<double>(const TreeEnsembleModel&, const Tensor&, Parallelism&,
                                           const std::function<void(int64_t, const double*, RowScores<double>&)>&);

}  // namespace tessera::ml

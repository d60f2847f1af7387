// The tree walk of TreeEnsembleRegressor / TreeEnsembleClassifier on random ensembles against a plain reference
// walk written here: every path of tree_ensemble_scoring.cpp (groups of eight rows through a tree, one row through
// groups of eight trees, the trees and rows left over, node-by-node decisions for mixed modes), every shared
// comparison, NaN inputs with and without missing_value_tracks_true, several targets, MIN / MAX / AVERAGE, float and
// double inputs, one thread and two.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ops/nn_test_util.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;

constexpr const char* kMl = "ai.onnx.ml";

struct RandomEnsemble {
  // Node tuples as the legacy ops take them (nodes of a tree numbered from 0, the root first).
  std::vector<int64_t> tree_ids, node_ids, features, true_ids, false_ids, missing;
  std::vector<std::string> modes;
  std::vector<float> values;
  std::vector<int64_t> leaf_trees, leaf_nodes, leaf_targets;
  std::vector<float> leaf_weights;
  int64_t targets = 1;
};

// `trees` random trees of depth up to `max_depth` over `features` features; the modes drawn from `modes`;
// thresholds from a small set so inputs meet them exactly; leaves with one weight, or (multi) one per target.
RandomEnsemble make_ensemble(uint32_t seed, int trees, int max_depth, int64_t features,
                             const std::vector<std::string>& modes, int64_t targets, bool multi) {
  std::mt19937 rng(seed);
  RandomEnsemble e;
  e.targets = targets;
  for (int t = 0; t < trees; ++t) {
    int64_t next_id = 0;
    // Depth-first: each pending entry is (node id, depth).
    std::vector<std::pair<int64_t, int>> pending{{next_id++, 0}};
    while (!pending.empty()) {
      const auto [id, depth] = pending.back();
      pending.pop_back();
      const bool leaf = depth >= max_depth || (depth >= 1 && rng() % 4 == 0);
      e.tree_ids.push_back(t);
      e.node_ids.push_back(id);
      if (leaf) {
        e.modes.push_back("LEAF");
        e.features.push_back(0);
        e.values.push_back(0);
        e.true_ids.push_back(0);
        e.false_ids.push_back(0);
        e.missing.push_back(0);
        const int64_t first = multi ? 0 : static_cast<int64_t>(rng() % targets);
        const int64_t last = multi ? targets : first + 1;
        for (int64_t k = first; k < last; ++k) {
          e.leaf_trees.push_back(t);
          e.leaf_nodes.push_back(id);
          e.leaf_targets.push_back(k);
          e.leaf_weights.push_back(static_cast<float>(static_cast<int>(rng() % 41) - 20) / 8.0f);
        }
        continue;
      }
      const int64_t true_id = next_id++, false_id = next_id++;
      e.modes.push_back(modes[rng() % modes.size()]);
      e.features.push_back(static_cast<int64_t>(rng() % features));
      e.values.push_back(static_cast<float>(static_cast<int>(rng() % 9) - 4) / 2.0f);
      e.true_ids.push_back(true_id);
      e.false_ids.push_back(false_id);
      e.missing.push_back(rng() % 3 == 0 ? 1 : 0);
      pending.push_back({false_id, depth + 1});
      pending.push_back({true_id, depth + 1});
    }
  }
  return e;
}

bool goes_true(const std::string& mode, double x, double threshold, bool missing_true) {
  if (std::isnan(x)) return missing_true || mode == "BRANCH_NEQ";
  if (mode == "BRANCH_LEQ") return x <= threshold;
  if (mode == "BRANCH_LT") return x < threshold;
  if (mode == "BRANCH_GTE") return x >= threshold;
  if (mode == "BRANCH_GT") return x > threshold;
  if (mode == "BRANCH_EQ") return x == threshold;
  return x != threshold;  // BRANCH_NEQ
}

// Per row and target: the leaf weights every tree adds (in double), and whether any leaf reached the target.
void reference(const RandomEnsemble& e, const std::vector<double>& x, int64_t rows, int64_t columns,
               const std::string& aggregate, std::vector<double>& out) {
  const int64_t trees = e.tree_ids.empty() ? 0 : e.tree_ids.back() + 1;
  out.assign(static_cast<size_t>(rows * e.targets), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> score(static_cast<size_t>(e.targets), 0.0);
    std::vector<bool> has(static_cast<size_t>(e.targets), false);
    for (int64_t t = 0; t < trees; ++t) {
      const auto find = [&](int64_t id) {
        for (size_t i = 0; i < e.tree_ids.size(); ++i)
          if (e.tree_ids[i] == t && e.node_ids[i] == id) return i;
        ADD_FAILURE() << "no node " << id << " in tree " << t;
        return size_t{0};
      };
      size_t node = find(0);
      while (e.modes[node] != "LEAF") {
        const double v = x[static_cast<size_t>(r * columns + e.features[node])];
        node = find(goes_true(e.modes[node], v, e.values[node], e.missing[node] != 0) ? e.true_ids[node]
                                                                                      : e.false_ids[node]);
      }
      for (size_t w = 0; w < e.leaf_trees.size(); ++w) {
        if (e.leaf_trees[w] != t || e.leaf_nodes[w] != e.node_ids[node]) continue;
        const auto k = static_cast<size_t>(e.leaf_targets[w]);
        const double value = e.leaf_weights[w];
        if (aggregate == "MIN")
          score[k] = has[k] ? std::min(score[k], value) : value;
        else if (aggregate == "MAX")
          score[k] = has[k] ? std::max(score[k], value) : value;
        else
          score[k] += value;
        has[k] = true;
      }
    }
    for (int64_t k = 0; k < e.targets; ++k) {
      double v = score[static_cast<size_t>(k)];
      if (aggregate == "AVERAGE") v /= static_cast<double>(trees);
      out[static_cast<size_t>(r * e.targets + k)] = has[static_cast<size_t>(k)] || e.targets == 1 ? v : 0.0;
    }
  }
}

// The node and leaf attributes of the legacy ops; `leaf` is "target" (the regressor) or "class" (the classifier).
std::vector<Attribute> tree_attributes(const RandomEnsemble& e, const std::string& leaf) {
  return {ints_attr("nodes_treeids", e.tree_ids),       ints_attr("nodes_nodeids", e.node_ids),
          ints_attr("nodes_featureids", e.features),    strings_attr("nodes_modes", e.modes),
          floats_attr("nodes_values", e.values),        ints_attr("nodes_truenodeids", e.true_ids),
          ints_attr("nodes_falsenodeids", e.false_ids), ints_attr("nodes_missing_value_tracks_true", e.missing),
          ints_attr(leaf + "_treeids", e.leaf_trees),   ints_attr(leaf + "_nodeids", e.leaf_nodes),
          ints_attr(leaf + "_ids", e.leaf_targets),     floats_attr(leaf + "_weights", e.leaf_weights)};
}

std::vector<Attribute> regressor_attributes(const RandomEnsemble& e, const std::string& aggregate) {
  std::vector<Attribute> attrs = tree_attributes(e, "target");
  attrs.push_back(int_attr("n_targets", e.targets));
  attrs.push_back(string_attr("aggregate_function", aggregate));
  return attrs;
}

// Rows of values drawn from the thresholds' set, values between them and NaN.
std::vector<double> random_rows(uint32_t seed, int64_t rows, int64_t columns) {
  std::mt19937 rng(seed);
  std::vector<double> x(static_cast<size_t>(rows * columns));
  for (double& v : x) {
    const unsigned pick = rng() % 20;
    v = pick == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(static_cast<int>(pick) - 10) / 4.0;
  }
  return x;
}

void check(const RandomEnsemble& e, const std::string& aggregate, int64_t rows, int64_t columns, DType dtype,
           Parallelism* parallelism, uint32_t seed) {
  SCOPED_TRACE(aggregate + " " + std::to_string(rows) + " rows " + dtype_name(dtype) +
               (parallelism ? " two threads" : " one thread"));
  const std::vector<double> x = random_rows(seed, rows, columns);
  Tensor input(dtype, {rows, columns});
  for (size_t i = 0; i < x.size(); ++i) {
    if (dtype == DType::kFloat)
      input.data<float>()[i] = static_cast<float>(x[i]);
    else
      input.data<double>()[i] = x[i];
  }
  std::vector<double> want;
  reference(e, x, rows, columns, aggregate, want);
  const Tensor got =
      run_op("TreeEnsembleRegressor", 3, regressor_attributes(e, aggregate), {input}, 1, parallelism, kMl)[0];
  ASSERT_EQ(got.element_count(), static_cast<int64_t>(want.size()));
  const std::vector<double> values = values_of(got);
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(values[i], want[i], 1e-5 * (1.0 + std::fabs(want[i])))
        << "row " << i / e.targets << " target " << i % e.targets;
  }
}

// Row counts that take every path: fewer than a group, exact groups, groups and a rest, past a 64-row block.
const std::vector<int64_t> kRowCounts{1, 3, 8, 13, 70, 133};

TEST(TreeEnsembleWalkTest, EverySharedComparisonMatchesTheReference) {
  ThreadPool pool(2);
  uint32_t seed = 1;
  for (const char* mode : {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"}) {
    // 19 trees: two groups of eight and three left over for one row.
    const RandomEnsemble e = make_ensemble(seed++, 19, 7, 5, {mode}, 1, false);
    for (int64_t rows : kRowCounts) {
      for (DType dtype : {DType::kFloat, DType::kDouble}) {
        check(e, "SUM", rows, 5, dtype, nullptr, seed);
        check(e, "SUM", rows, 5, dtype, &pool, seed + 1);
      }
    }
  }
}

TEST(TreeEnsembleWalkTest, MixedModesAndEveryAggregateMatchTheReference) {
  ThreadPool pool(2);
  const RandomEnsemble mixed = make_ensemble(
      20, 11, 6, 4, {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"}, 3, false);
  const RandomEnsemble shared = make_ensemble(21, 17, 6, 4, {"BRANCH_LT"}, 3, true);
  for (const RandomEnsemble* e : {&mixed, &shared}) {
    for (const char* aggregate : {"SUM", "AVERAGE", "MIN", "MAX"}) {
      for (int64_t rows : {int64_t{1}, int64_t{9}, int64_t{70}}) {
        check(*e, aggregate, rows, 4, DType::kFloat, nullptr, 30);
        check(*e, aggregate, rows, 4, DType::kDouble, &pool, 31);
      }
    }
  }
}

TEST(TreeEnsembleWalkTest, ClassifierScoresAndLabelsMatchTheReference) {
  // Three classes, a weight for each at every leaf: the label is the class of the largest sum.
  const RandomEnsemble e = make_ensemble(40, 12, 5, 6, {"BRANCH_LEQ"}, 3, true);
  std::vector<Attribute> attrs = tree_attributes(e, "class");
  attrs.push_back(ints_attr("classlabels_int64s", {10, 20, 30}));
  const int64_t rows = 21;
  const std::vector<double> x = random_rows(41, rows, 6);
  Tensor input(DType::kFloat, {rows, 6});
  for (size_t i = 0; i < x.size(); ++i) input.data<float>()[i] = static_cast<float>(x[i]);
  std::vector<double> want;
  reference(e, x, rows, 6, "SUM", want);
  ThreadPool pool(2);
  const std::vector<Tensor> got = run_op("TreeEnsembleClassifier", 3, attrs, {input}, 2, &pool, kMl);
  const std::vector<double> scores = values_of(got[1]);
  for (int64_t r = 0; r < rows; ++r) {
    const auto* row = &want[static_cast<size_t>(r * 3)];
    const int64_t best = std::max_element(row, row + 3) - row;
    EXPECT_EQ(got[0].data<int64_t>()[r], 10 * (best + 1)) << "row " << r;
    for (int64_t k = 0; k < 3; ++k) EXPECT_NEAR(scores[static_cast<size_t>(r * 3 + k)], row[k], 1e-5) << "row " << r;
  }
}

}  // namespace
}  // namespace tessera

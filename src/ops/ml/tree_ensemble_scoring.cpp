// score_rows: the tree walk over blocks of rows. A block's rows go through the trees one tree at a time, so a
// tree's upper nodes stay in cache while the block's rows walk it (row by row, every tree's nodes were fetched anew
// for each row: 200 trees of depth 12 are ~30 MB as TreeNodes), and kGroup rows walk a tree side by side, so their
// chains of dependent loads overlap. Ensembles whose interior nodes all compare one way (<=, <, >=, >: what
// scikit-learn, LightGBM and XGBoost export) take a walk with that comparison built in; the others decide node by
// node, as TreeNode says. Each row adds its trees' weights in tree order, as a walk row by row does.
#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "base/lazy_text.h"
#include "ops/ml/tree_ensemble_common.h"

namespace tessera::ml {
namespace {

// Rows that go through the trees together, and rows whose walks of one tree interleave.
constexpr int64_t kBlockRows = 64;
constexpr int kGroup = 8;
constexpr uint32_t kNanTrue = uint32_t{1} << 31;

template <typename C>
const std::vector<WalkNode<C>>& walk_nodes(const TreeEnsembleModel& model) {
  if constexpr (std::is_same_v<C, float>)
    return model.walk_f;
  else
    return model.walk_d;
}

// Whether interior node `node` sends feature value x to its true child.
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

// The child link a node of the shared comparison M sends row `row` to: NaN compares false, so it goes to the false
// child unless the node sends missing values to the true one. Without branches (a tree's decisions are
// unpredictable; as branches, mispredictions took most of the walk's time): the link is picked by index.
template <TreeMode M, typename C>
inline int32_t next_link(const WalkNode<C>& n, const C* row) {
  const uint32_t bits = n.feature_bits;
  const C x = row[bits & ~kNanTrue];
  bool go;
  if constexpr (M == TreeMode::kLeq)
    go = x <= n.threshold;
  else if constexpr (M == TreeMode::kLt)
    go = x < n.threshold;
  else if constexpr (M == TreeMode::kGte)
    go = x >= n.threshold;
  else
    go = x > n.threshold;
  const bool missing = (bits >> 31) & static_cast<uint32_t>(x != x);
  return n.links[static_cast<unsigned>(!(go | missing))];
}

// The leaves that kGroup walks reach side by side: walk i from root link roots[i] over row rows[i] (a group of rows
// in one tree, or one row in a group of trees), into leaves[i].
template <TreeMode M, typename C>
void walk_group(const WalkNode<C>* nodes, const int32_t* roots, const C* const* rows, int32_t* leaves) {
  int32_t link[kGroup];
  bool walking = false;
  for (int i = 0; i < kGroup; ++i) {
    link[i] = roots[i];
    walking = walking || link[i] >= 0;
  }
  while (walking) {
    walking = false;
#pragma GCC unroll 8
    for (int i = 0; i < kGroup; ++i) {
      if (link[i] < 0) continue;
      link[i] = next_link<M>(nodes[link[i]], rows[i]);
      walking = walking || link[i] >= 0;
    }
  }
  for (int i = 0; i < kGroup; ++i) leaves[i] = ~link[i];
}

// The leaf that `row` reaches from root link `root`, deciding node by node as TreeNode says (any mode, set
// membership included).
template <typename C>
int32_t walk_by_node(const TreeEnsembleModel& model, int32_t root, const C* row) {
  int32_t link = root;
  while (link >= 0) {
    const TreeNode& node = model.nodes[static_cast<size_t>(link)];
    const int64_t next = goes_true(model, node, row[node.feature]) ? node.true_child : node.false_child;
    link = model.nodes[static_cast<size_t>(next)].mode == TreeMode::kLeaf ? ~static_cast<int32_t>(next)
                                                                          : static_cast<int32_t>(next);
  }
  return ~link;
}

// Adds leaf `leaf`'s weights to a row's scores, as the model aggregates them.
template <typename C>
inline void add_leaf(const TreeEnsembleModel& model, const WalkNode<C>& leaf, RowScores<C>& out) {
  const bool sums = model.aggregate == Aggregate::kSum || model.aggregate == Aggregate::kAverage;
  if (sums && leaf.links[1] == 1) {
    out.score[leaf.feature_bits] += leaf.threshold;
    out.has[leaf.feature_bits] = 1;
    return;
  }
  for (int64_t w = leaf.links[0]; w < int64_t{leaf.links[0]} + leaf.links[1]; ++w) {
    const LeafWeight& lw = model.weights[static_cast<size_t>(w)];
    const auto t = static_cast<size_t>(lw.target);
    const auto value = static_cast<C>(lw.weight);
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

// Every tree for rows[0, count) into scores[0, count): groups of kGroup rows walk each tree side by side; the rows
// left over walk groups of kGroup trees side by side, then the trees left over one at a time.
template <TreeMode M, typename C>
void score_block(const TreeEnsembleModel& model, const C* const* rows, int64_t count, RowScores<C>* scores) {
  const WalkNode<C>* nodes = walk_nodes<C>(model).data();
  const auto trees = static_cast<int64_t>(model.walk_roots.size());
  const int32_t* roots = model.walk_roots.data();
  int32_t leaves[kGroup];
  const int64_t grouped = M == TreeMode::kLeaf ? 0 : count / kGroup * kGroup;
  if (grouped > 0) {
    for (int64_t t = 0; t < trees; ++t) {
      int32_t same_root[kGroup];
      std::fill_n(same_root, kGroup, roots[t]);
      for (int64_t g = 0; g < grouped; g += kGroup) {
        walk_group<M, C>(nodes, same_root, rows + g, leaves);
        for (int i = 0; i < kGroup; ++i) add_leaf(model, nodes[leaves[i]], scores[g + i]);
      }
    }
  }
  for (int64_t r = grouped; r < count; ++r) {
    int64_t t = 0;
    if constexpr (M != TreeMode::kLeaf) {
      const C* same_row[kGroup];
      std::fill_n(same_row, kGroup, rows[r]);
      for (; t + kGroup <= trees; t += kGroup) {
        walk_group<M, C>(nodes, roots + t, same_row, leaves);
        for (int i = 0; i < kGroup; ++i) add_leaf(model, nodes[leaves[i]], scores[r]);
      }
    }
    for (; t < trees; ++t) add_leaf(model, nodes[walk_by_node<C>(model, roots[t], rows[r])], scores[r]);
  }
}

template <typename C>
void score_block_any(const TreeEnsembleModel& model, const C* const* rows, int64_t count, RowScores<C>* scores) {
  switch (model.shared_mode) {
    case TreeMode::kLeq:
      return score_block<TreeMode::kLeq, C>(model, rows, count, scores);
    case TreeMode::kLt:
      return score_block<TreeMode::kLt, C>(model, rows, count, scores);
    case TreeMode::kGte:
      return score_block<TreeMode::kGte, C>(model, rows, count, scores);
    case TreeMode::kGt:
      return score_block<TreeMode::kGt, C>(model, rows, count, scores);
    default:
      return score_block<TreeMode::kLeaf, C>(model, rows, count, scores);
  }
}

}  // namespace

template <typename C>
void score_rows(const TreeEnsembleModel& model, const Tensor& x, Parallelism& parallelism,
                const std::function<void(int64_t, RowScores<C>&)>& finish_row) {
  const FeatureShape fs = feature_shape(x, "input 'X'");
  const bool known = x.dtype() == DType::kFloat || x.dtype() == DType::kDouble || x.dtype() == DType::kInt32 ||
                     x.dtype() == DType::kInt64 || x.dtype() == DType::kFloat16;
  check_argument(known, "input 'X' ", tensor_text(x), ": element type must be float, double, float16, int32 or int64");
  check_argument(fs.columns >= model.feature_count, "input 'X' ", tensor_text(x), " has ", fs.columns,
                 " features but the trees read feature ", model.feature_count - 1);
  const auto targets = static_cast<size_t>(model.n_targets);
  const auto run_rows = [&](int64_t begin, int64_t end) {
    std::vector<RowScores<C>> scores(static_cast<size_t>(std::min(kBlockRows, end - begin)));
    std::vector<const C*> rows(scores.size());
    std::vector<C> converted;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t> || std::is_same_v<T, Float16>) {
        const T* data = x.data<T>();
        for (int64_t b0 = begin; b0 < end; b0 += kBlockRows) {
          const int64_t count = std::min(kBlockRows, end - b0);
          if constexpr (std::is_same_v<T, C>) {
            for (int64_t i = 0; i < count; ++i) rows[static_cast<size_t>(i)] = data + (b0 + i) * fs.columns;
          } else {
            converted.resize(static_cast<size_t>(count * fs.columns));
            for (int64_t i = 0; i < count * fs.columns; ++i)
              converted[static_cast<size_t>(i)] = static_cast<C>(element_to_double(data[b0 * fs.columns + i]));
            for (int64_t i = 0; i < count; ++i) rows[static_cast<size_t>(i)] = converted.data() + i * fs.columns;
          }
          for (int64_t i = 0; i < count; ++i) {
            scores[static_cast<size_t>(i)].score.assign(targets, C(0));
            scores[static_cast<size_t>(i)].has.assign(targets, 0);
          }
          score_block_any<C>(model, rows.data(), count, scores.data());
          for (int64_t i = 0; i < count; ++i) finish_row(b0 + i, scores[static_cast<size_t>(i)]);
        }
      }
    });
  };
  const int64_t work = fs.rows * static_cast<int64_t>(model.roots.size()) * 8;
  if (fs.rows > 1 && work >= (1 << 14))
    parallelism.parallel_for(fs.rows, run_rows);
  else if (fs.rows > 0)
    run_rows(0, fs.rows);
}

template void score_rows<float>(const TreeEnsembleModel&, const Tensor&, Parallelism&,
                                const std::function<void(int64_t, RowScores<float>&)>&);
template void score_rows<double>(const TreeEnsembleModel&, const Tensor&, Parallelism&,
                                 const std::function<void(int64_t, RowScores<double>&)>&);

}  // namespace tessera::ml

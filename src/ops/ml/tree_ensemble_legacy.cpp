// TreeEnsembleClassifier and TreeEnsembleRegressor (ai.onnx.ml opsets 1 and 3; opset 3 adds the *_as_tensor
// double attributes; deprecated by opset 5's TreeEnsemble but still accepted there). Nodes are (tree id,
// node id) tuples with string modes; leaf weights are tuples naming their tree, node and target/class.
#include <algorithm>
#include <climits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "ops/common/op_utils.h"
#include "ops/ml/tree_ensemble_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

using NodeKey = std::pair<int64_t, int64_t>;  // (tree id, node id)
struct NodeKeyHash {
  size_t operator()(const NodeKey& k) const {
    return std::hash<int64_t>()(k.first) * 0x9E3779B97F4A7C15ull ^ std::hash<int64_t>()(k.second);
  }
};
// Node index by (tree id, node id). Hashed: ensembles of 10^5 - 10^6 nodes (a 200-tree random forest) spent most of
// their session creation in ordered-tree lookups and allocations.
using NodeIndex = std::unordered_map<NodeKey, int64_t, NodeKeyHash>;

// The root of each tree (in order of first appearance): its one node no other node points to, or else (ids
// that do not form a tree) its first listed node, as ONNX Runtime takes it.
std::vector<int64_t> find_roots(const std::vector<int64_t>& tree_ids, const std::vector<int64_t>& node_ids,
                                const std::vector<std::string>& modes, const std::vector<int64_t>& true_ids,
                                const std::vector<int64_t>& false_ids, const std::vector<int64_t>& tree_order) {
  std::unordered_set<NodeKey, NodeKeyHash> children;
  children.reserve(2 * tree_ids.size());
  for (size_t i = 0; i < tree_ids.size(); ++i) {
    if (modes[i] == "LEAF") continue;
    children.insert({tree_ids[i], true_ids[i]});
    children.insert({tree_ids[i], false_ids[i]});
  }
  // Per tree: its first node, its first node no other points to, and how many such nodes it has.
  struct Candidates {
    int64_t first = -1, root = -1, count = 0;
  };
  std::unordered_map<int64_t, Candidates> trees;
  for (size_t i = 0; i < tree_ids.size(); ++i) {
    Candidates& c = trees[tree_ids[i]];
    if (c.first < 0) c.first = static_cast<int64_t>(i);
    if (children.count({tree_ids[i], node_ids[i]}) == 0 && c.count++ == 0) c.root = static_cast<int64_t>(i);
  }
  std::vector<int64_t> roots;
  for (int64_t tree : tree_order) {
    const Candidates& c = trees.at(tree);
    roots.push_back(c.count == 1 ? c.root : c.first);
  }
  return roots;
}

// The node tuples: modes, features, thresholds, children resolved within each tree.
TreeEnsembleModel build_legacy_nodes(const Node& node, NodeIndex& index) {
  const std::vector<int64_t> tree_ids = node.attr_ints("nodes_treeids");
  const std::vector<int64_t> node_ids = node.attr_ints("nodes_nodeids");
  const std::vector<int64_t> features = node.attr_ints("nodes_featureids");
  const std::vector<std::string> modes = node.attr_strings("nodes_modes");
  const std::vector<double> values = attr_doubles_or_tensor(node, "nodes_values");
  const std::vector<int64_t> true_ids = node.attr_ints("nodes_truenodeids");
  const std::vector<int64_t> false_ids = node.attr_ints("nodes_falsenodeids");
  const std::vector<int64_t> missing = node.attr_ints("nodes_missing_value_tracks_true");
  const size_t n = tree_ids.size();
  check_model(n > 0, "attribute 'nodes_treeids' is empty");
  check_attr_size("nodes_nodeids", node_ids.size(), n);
  check_attr_size("nodes_featureids", features.size(), n);
  check_attr_size("nodes_modes", modes.size(), n);
  check_attr_size("nodes_truenodeids", true_ids.size(), n);
  check_attr_size("nodes_falsenodeids", false_ids.size(), n);
  if (!values.empty()) check_attr_size("nodes_values", values.size(), n);
  if (!missing.empty()) check_attr_size("nodes_missing_value_tracks_true", missing.size(), n);

  TreeEnsembleModel model;
  model.nodes.resize(n);
  std::vector<int64_t> tree_order;
  std::unordered_set<int64_t> seen_trees;
  index.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    check_model(index.emplace(NodeKey{tree_ids[i], node_ids[i]}, static_cast<int64_t>(i)).second, "node (tree ",
                tree_ids[i], ", id ", node_ids[i], ") appears twice");
    if (seen_trees.insert(tree_ids[i]).second) tree_order.push_back(tree_ids[i]);
  }
  model.roots = find_roots(tree_ids, node_ids, modes, true_ids, false_ids, tree_order);
  for (size_t i = 0; i < n; ++i) {
    TreeNode& t = model.nodes[i];
    t.mode = parse_tree_mode(modes[i]);
    t.feature = features[i];
    t.threshold = values.empty() ? 0.0 : values[i];
    t.missing_tracks_true = !missing.empty() && missing[i] != 0;
    if (t.mode == TreeMode::kLeaf) continue;
    for (auto [id, child] : {std::pair{true_ids[i], &t.true_child}, std::pair{false_ids[i], &t.false_child}}) {
      auto it = index.find({tree_ids[i], id});
      check_model(it != index.end(), "node (tree ", tree_ids[i], ", id ", node_ids[i], ") points to node id ", id,
                  " which tree ", tree_ids[i], " does not have");
      *child = it->second;
    }
  }
  return model;
}

// Attaches the leaf weight tuples prefix_{treeids,nodeids,ids} / weights to their leaves.
void attach_leaf_weights(const Node& node, const std::string& prefix, const NodeIndex& index,
                         TreeEnsembleModel& model) {
  const std::vector<int64_t> tree_ids = node.attr_ints(prefix + "_treeids");
  const std::vector<int64_t> node_ids = node.attr_ints(prefix + "_nodeids");
  const std::vector<int64_t> ids = node.attr_ints(prefix + "_ids");
  const std::vector<double> weights = attr_doubles_or_tensor(node, prefix + "_weights");
  check_attr_size(prefix + "_nodeids", node_ids.size(), tree_ids.size());
  check_attr_size(prefix + "_ids", ids.size(), tree_ids.size());
  check_attr_size(prefix + "_weights", weights.size(), tree_ids.size());
  // Each weight's node, then the weights grouped by node in their listed order (counted, then placed).
  std::vector<int64_t> owner(tree_ids.size());
  for (size_t i = 0; i < tree_ids.size(); ++i) {
    auto it = index.find({tree_ids[i], node_ids[i]});
    check_model(it != index.end(), "weight ", i, " names node (tree ", tree_ids[i], ", id ", node_ids[i],
                ") which does not exist");
    check_model(model.nodes[static_cast<size_t>(it->second)].mode == TreeMode::kLeaf, "weight ", i,
                " names node (tree ", tree_ids[i], ", id ", node_ids[i], ") which is not a LEAF");
    owner[i] = it->second;
    ++model.nodes[static_cast<size_t>(it->second)].weights_count;
  }
  int64_t begin = 0;
  for (TreeNode& t : model.nodes) {
    t.weights_begin = begin;
    begin += t.weights_count;
  }
  model.weights.assign(static_cast<size_t>(begin), LeafWeight{});
  std::vector<int64_t> next(model.nodes.size());
  for (size_t k = 0; k < next.size(); ++k) next[k] = model.nodes[k].weights_begin;
  for (size_t i = 0; i < tree_ids.size(); ++i) {
    model.weights[static_cast<size_t>(next[static_cast<size_t>(owner[i])]++)] = {ids[i], weights[i]};
  }
}

// Runs `row_fn` in the threshold type ONNX Runtime uses: double for double inputs, float otherwise.
template <typename F>
void with_threshold_type(DType dtype, F&& f) {
  if (dtype == DType::kDouble)
    f(TypeTag<double>{});
  else
    f(TypeTag<float>{});
}

std::unique_ptr<Kernel> make_tree_ensemble_regressor(const KernelInfo& info) {
  NodeIndex index;
  TreeEnsembleModel model = build_legacy_nodes(info.node, index);
  attach_leaf_weights(info.node, "target", index, model);
  model.n_targets = info.node.attr_int("n_targets", 1);
  model.aggregate = parse_aggregate(info.node.attr_string("aggregate_function", "SUM"));
  model.post_transform = read_post_transform(info.node);
  model.base_values = attr_doubles_or_tensor(info.node, "base_values");
  check_model(model.base_values.empty() || static_cast<int64_t>(model.base_values.size()) == model.n_targets,
              "attribute 'base_values' must have 0 or n_targets = ", model.n_targets, " values, not ",
              model.base_values.size());
  model.finish();
  auto shared = std::make_shared<const TreeEnsembleModel>(std::move(model));
  return make_kernel([shared](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const FeatureShape fs = feature_shape(x, "input 'X'");
    const int64_t targets = shared->n_targets;
    Tensor& y = ctx.allocate_output(0, DType::kFloat, {fs.rows, targets});
    float* out = y.data<float>();
    with_threshold_type(x.dtype(), [&](auto tag) {
      using C = typename decltype(tag)::type;
      score_rows<C>(*shared, x, ctx.parallelism(), [&](int64_t r, RowScores<C>& scores) {
        finalize_regression<C, float>(*shared, scores, out + r * targets);
      });
    });
  });
}

struct ClassifierSetup {
  TreeEnsembleModel model;
  std::vector<int64_t> int_labels;
  std::vector<std::string> string_labels;
  bool binary_case = false;
  bool weights_all_positive = true;
};

ClassifierSetup build_classifier(const Node& node) {
  ClassifierSetup s;
  NodeIndex index;
  s.model = build_legacy_nodes(node, index);
  attach_leaf_weights(node, "class", index, s.model);
  s.int_labels = node.attr_ints("classlabels_int64s");
  s.string_labels = node.attr_strings("classlabels_strings");
  check_model(s.int_labels.empty() != s.string_labels.empty(),
              "exactly one of 'classlabels_int64s' and 'classlabels_strings' must be set");
  const auto classes = static_cast<int64_t>(s.int_labels.size() + s.string_labels.size());
  s.model.n_targets = classes;
  s.model.aggregate = Aggregate::kSum;
  s.model.post_transform = read_post_transform(node);
  s.model.base_values = attr_doubles_or_tensor(node, "base_values");
  const auto base = static_cast<int64_t>(s.model.base_values.size());
  check_model(base == 0 || base == classes || (base == 1 && classes <= 2), "attribute 'base_values' has ", base,
              " values for ", classes, " classes");
  std::set<int64_t> class_ids;
  for (const LeafWeight& w : s.model.weights) {
    class_ids.insert(w.target);
    if (w.weight < 0) s.weights_all_positive = false;
  }
  s.binary_case = classes == 2 && class_ids.size() == 1;
  s.model.finish();
  return s;
}

std::unique_ptr<Kernel> make_tree_ensemble_classifier(const KernelInfo& info) {
  auto setup = std::make_shared<const ClassifierSetup>(build_classifier(info.node));
  return make_kernel([setup](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const FeatureShape fs = feature_shape(x, "input 'X'");
    const TreeEnsembleModel& model = setup->model;
    const bool strings = !setup->string_labels.empty();
    const int64_t columns = model.n_targets == 1 ? 1 : model.n_targets;
    Tensor& labels = ctx.allocate_output(0, strings ? DType::kString : DType::kInt64, {fs.rows});
    Tensor& scores_out = ctx.allocate_output(1, DType::kFloat, {fs.rows, columns});
    std::vector<int64_t> chosen(static_cast<size_t>(fs.rows));
    float* z = scores_out.data<float>();
    with_threshold_type(x.dtype(), [&](auto tag) {
      using C = typename decltype(tag)::type;
      score_rows<C>(model, x, ctx.parallelism(), [&](int64_t r, RowScores<C>& scores) {
        chosen[static_cast<size_t>(r)] =
            finalize_classification<C>(model, setup->binary_case, setup->weights_all_positive, scores, z + r * columns);
      });
    });
    for (int64_t r = 0; r < fs.rows; ++r) {
      const auto k = static_cast<size_t>(chosen[static_cast<size_t>(r)]);
      // A single class: ONNX Runtime reports the raw decision 1 / 0 for integer labels.
      if (strings)
        labels.data<std::string>()[r] = setup->string_labels[model.n_targets == 1 ? 0 : k];
      else
        labels.data<int64_t>()[r] = model.n_targets == 1 ? static_cast<int64_t>(k) : setup->int_labels[k];
    }
  });
}

void infer_tree_regressor(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  const Dim rows = feature_rows_dim(x);
  ctx.set_output_type(
      0, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{rows, Dim::known(ctx.node().attr_int("n_targets", 1))}));
}

void infer_tree_classifier(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  const Dim rows = feature_rows_dim(x);
  const bool strings = ctx.node().has_attribute("classlabels_strings");
  const size_t classes =
      ctx.node().attr_ints("classlabels_int64s").size() + ctx.node().attr_strings("classlabels_strings").size();
  ctx.set_output_type(0, TypeInfo::tensor(strings ? DType::kString : DType::kInt64, std::vector<Dim>{rows}));
  ctx.set_output_type(
      1, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{rows, Dim::known(static_cast<int64_t>(classes))}));
}

const RegisterOp kTreeRegressor1{
    ml_registration("TreeEnsembleRegressor", 1, 2, make_tree_ensemble_regressor, infer_tree_regressor)};
const RegisterOp kTreeRegressor3{
    ml_registration("TreeEnsembleRegressor", 3, INT_MAX, make_tree_ensemble_regressor, infer_tree_regressor)};
const RegisterOp kTreeClassifier1{
    ml_registration("TreeEnsembleClassifier", 1, 2, make_tree_ensemble_classifier, infer_tree_classifier)};
const RegisterOp kTreeClassifier3{
    ml_registration("TreeEnsembleClassifier", 3, INT_MAX, make_tree_ensemble_classifier, infer_tree_classifier)};

}  // namespace
}  // namespace tessera

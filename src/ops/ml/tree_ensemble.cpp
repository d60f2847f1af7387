// TreeEnsemble (ai.onnx.ml opset 5): interior nodes and leaves in separate attribute tuples, set-membership
// splits, integer-coded modes, aggregate function and post transform; Y has X's type and shape [N, n_targets].
#include <climits>
#include <cmath>

#include "ops/common/op_utils.h"
#include "ops/ml/tree_ensemble_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

// The integer elements of a tensor attribute (nodes_modes is uint8).
std::vector<int64_t> tensor_attr_ints(const Node& node, const std::string& name) {
  const Tensor* t = node.attr_tensor(name);
  check_model(t != nullptr, "attribute '", name, "' is required");
  std::vector<int64_t> out(static_cast<size_t>(t->element_count()));
  visit_dtype(t->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(t->data<T>()[i]);
    } else {
      fail(ErrorCode::kInvalidModel, "attribute '", name, "' ", t->description(), " must hold integers");
    }
  });
  return out;
}

// Index of interior node i's child: a leaf (stored after the interior nodes) or another interior node.
int64_t child_index(int64_t id, bool is_leaf, int64_t interior, int64_t leaves, int64_t node, const char* side) {
  const int64_t limit = is_leaf ? leaves : interior;
  check_model(id >= 0 && id < limit, "node ", node, ": ", side, " ", is_leaf ? "leaf" : "node", " id ", id,
              " is outside [0, ", limit, ")");
  return is_leaf ? interior + id : id;
}

// The members of every BRANCH_MEMBER node, in node order, delimited by NaN in membership_values.
void read_members(const Node& node, TreeEnsembleModel& model) {
  const std::vector<double> values = tensor_attr_doubles(node, "membership_values");
  size_t next = 0;
  for (size_t i = 0; i < model.nodes.size(); ++i) {
    TreeNode& n = model.nodes[i];
    if (n.mode != TreeMode::kMember) continue;
    check_model(next < values.size(), "attribute 'membership_values' lists fewer sets than there are ",
                "BRANCH_MEMBER nodes");
    n.members_begin = static_cast<int64_t>(model.members.size());
    while (next < values.size() && !std::isnan(values[next])) model.members.push_back(values[next++]);
    ++next;  // the NaN delimiter
    n.members_count = static_cast<int64_t>(model.members.size()) - n.members_begin;
  }
}

TreeEnsembleModel build_tree_ensemble(const Node& node) {
  const std::vector<int64_t> features = node.attr_ints("nodes_featureids");
  const std::vector<double> splits = tensor_attr_doubles(node, "nodes_splits");
  const std::vector<int64_t> modes = tensor_attr_ints(node, "nodes_modes");
  const std::vector<int64_t> true_ids = node.attr_ints("nodes_truenodeids");
  const std::vector<int64_t> true_leafs = node.attr_ints("nodes_trueleafs");
  const std::vector<int64_t> false_ids = node.attr_ints("nodes_falsenodeids");
  const std::vector<int64_t> false_leafs = node.attr_ints("nodes_falseleafs");
  const std::vector<int64_t> missing = node.attr_ints("nodes_missing_value_tracks_true");
  const std::vector<int64_t> leaf_targets = node.attr_ints("leaf_targetids");
  const std::vector<double> leaf_weights = tensor_attr_doubles(node, "leaf_weights");
  const size_t n = features.size();
  check_attr_size("nodes_splits", splits.size(), n);
  check_attr_size("nodes_modes", modes.size(), n);
  check_attr_size("nodes_truenodeids", true_ids.size(), n);
  check_attr_size("nodes_trueleafs", true_leafs.size(), n);
  check_attr_size("nodes_falsenodeids", false_ids.size(), n);
  check_attr_size("nodes_falseleafs", false_leafs.size(), n);
  if (!missing.empty()) check_attr_size("nodes_missing_value_tracks_true", missing.size(), n);
  check_attr_size("leaf_weights", leaf_weights.size(), leaf_targets.size());

  TreeEnsembleModel model;
  const auto interior = static_cast<int64_t>(n);
  const auto leaves = static_cast<int64_t>(leaf_targets.size());
  int64_t max_target = 0;
  for (int64_t t : leaf_targets) max_target = std::max(max_target, t);
  model.n_targets = node.attr_int("n_targets", max_target + 1);
  const int64_t aggregate = node.attr_int("aggregate_function", 1);
  check_model(aggregate >= 0 && aggregate <= 3, "attribute 'aggregate_function' = ", aggregate, " is not in [0, 3]");
  static constexpr Aggregate kAggregates[] = {Aggregate::kAverage, Aggregate::kSum, Aggregate::kMin, Aggregate::kMax};
  model.aggregate = kAggregates[aggregate];
  model.post_transform = post_transform_from_int(node.attr_int("post_transform", 0));
  model.nodes.resize(n + leaf_targets.size());
  for (int64_t i = 0; i < interior; ++i) {
    const auto k = static_cast<size_t>(i);
    TreeNode& t = model.nodes[k];
    check_model(modes[k] >= 0 && modes[k] <= 6, "node ", i, ": mode ", modes[k], " is not in [0, 6]");
    t.mode = static_cast<TreeMode>(modes[k]);
    t.feature = features[k];
    t.threshold = splits[k];
    t.missing_tracks_true = !missing.empty() && missing[k] != 0;
    t.true_child = child_index(true_ids[k], true_leafs[k] != 0, interior, leaves, i, "true");
    t.false_child = child_index(false_ids[k], false_leafs[k] != 0, interior, leaves, i, "false");
  }
  for (int64_t j = 0; j < leaves; ++j) {
    TreeNode& leaf = model.nodes[static_cast<size_t>(interior + j)];
    leaf.weights_begin = j;
    leaf.weights_count = 1;
    model.weights.push_back({leaf_targets[static_cast<size_t>(j)], leaf_weights[static_cast<size_t>(j)]});
  }
  if (node.has_attribute("membership_values")) read_members(node, model);
  for (const TreeNode& t : model.nodes) {
    check_model(t.mode != TreeMode::kMember || node.has_attribute("membership_values"),
                "a BRANCH_MEMBER node needs attribute 'membership_values'");
  }
  for (int64_t root : node.attr_ints("tree_roots")) {
    check_model(root >= 0 && root < interior, "tree root ", root, " is outside the ", interior, " nodes");
    model.roots.push_back(root);
  }
  model.finish();
  return model;
}

template <typename C, typename T>
void run_tree_ensemble(const TreeEnsembleModel& model, const Tensor& x, Tensor& y, Parallelism& parallelism) {
  T* out = y.data<T>();
  const int64_t targets = model.n_targets;
  score_rows<C>(model, x, parallelism, [&](int64_t r, RowScores<C>& scores) {
    if constexpr (std::is_same_v<T, Float16>) {
      std::vector<float> values(static_cast<size_t>(targets));
      finalize_regression<C, float>(model, scores, values.data());
      for (int64_t j = 0; j < targets; ++j)
        out[r * targets + j] = Float16{float_to_half(values[static_cast<size_t>(j)])};
    } else {
      finalize_regression<C, T>(model, scores, out + r * targets);
    }
  });
}

std::unique_ptr<Kernel> make_tree_ensemble(const KernelInfo& info) {
  auto model = std::make_shared<const TreeEnsembleModel>(build_tree_ensemble(info.node));
  return make_kernel([model](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const FeatureShape fs = feature_shape(x, "input 'X'");
    Tensor& y = ctx.allocate_output(0, x.dtype(), {fs.rows, model->n_targets});
    switch (x.dtype()) {
      case DType::kFloat:
        run_tree_ensemble<float, float>(*model, x, y, ctx.parallelism());
        break;
      case DType::kDouble:
        run_tree_ensemble<double, double>(*model, x, y, ctx.parallelism());
        break;
      case DType::kFloat16:
        run_tree_ensemble<float, Float16>(*model, x, y, ctx.parallelism());
        break;
      default:
        fail(ErrorCode::kInvalidArgument, "input 'X' ", x.description(),
             ": element type must be float, double or float16");
    }
  });
}

void infer_tree_ensemble(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const Dim rows = feature_rows_dim(x);
  const Attribute* targets = ctx.node().find_attribute("n_targets");
  const Dim columns = targets != nullptr ? Dim::known(targets->i) : Dim{};
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>{rows, columns}));
}

const RegisterOp kTreeEnsemble{ml_registration("TreeEnsemble", 5, INT_MAX, make_tree_ensemble, infer_tree_ensemble)};

}  // namespace
}  // namespace tessera

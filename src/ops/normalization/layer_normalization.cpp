// LayerNormalization (opset 17): every row of the trailing dims [axis, rank) normalized by its mean and variance,
// then scaled and shifted by Scale and B (unidirectionally broadcast to X). Optional Mean and InvStdDev outputs
// have the stash_type's dtype and shape [d0, ..., d(axis-1), 1, ..., 1].
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/normalization/norm_common.h"
#include "ops/pool/float_staging.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// `param` broadcast to `target` (which it must be unidirectionally broadcastable to), as T values.
template <typename T>
std::vector<T> expand_parameter(const Tensor& param, const std::vector<int64_t>& target) {
  const std::vector<T> values = float_tensor_values<T>(param);
  const std::vector<int64_t>& shape = param.shape();
  if (shape == target) return values;
  const std::vector<int64_t> strides[1] = {broadcast_strides(shape, target)};
  std::vector<T> out(static_cast<size_t>(shape_element_count(target)));
  for_each_broadcast(target, strides, [&](int64_t o, const int64_t* offsets) { out[o] = values[offsets[0]]; });
  return out;
}

// True when `param` broadcasts to x's shape without varying along the dims before `axis`.
bool broadcasts_within_row(const std::vector<int64_t>& param, const std::vector<int64_t>& x, size_t axis) {
  if (param.size() > x.size()) return false;
  const size_t lead = x.size() - param.size();
  for (size_t i = 0; i < param.size(); ++i) {
    if (param[i] != 1 && param[i] != x[lead + i]) return false;
    if (lead + i < axis && param[i] != 1) return false;
  }
  return true;
}

void check_broadcastable(const Tensor& param, const char* name, const Tensor& x) {
  check_norm_float(param, "LayerNormalization", name);
  bool ok = param.rank() <= x.rank();
  for (size_t i = 0; ok && i < param.rank(); ++i) {
    const int64_t d = param.dim(i);
    ok = d == 1 || d == x.dim(x.rank() - param.rank() + i);
  }
  check_argument(ok, "LayerNormalization: ", name, " ", tensor_text(param), " cannot be broadcast to X ",
                 tensor_text(x));
}

struct LayerNormConfig {
  int64_t axis = -1;
  double epsilon = 1e-5;
  DType stash = DType::kFloat;
};

template <typename T>
void layer_norm_typed(const LayerNormConfig& config, KernelContext& ctx, const Tensor& x, Tensor& y, size_t axis,
                      std::vector<double>& means, std::vector<double>& inv_stds) {
  const std::vector<int64_t>& shape = x.shape();
  int64_t rows = 1, row = 1;
  for (size_t i = 0; i < shape.size(); ++i) (i < axis ? rows : row) *= shape[i];
  // Parameters become either one row (the usual case) or the whole of X.
  auto expand = [&](const Tensor& p) {
    if (broadcasts_within_row(p.shape(), shape, axis)) {
      return expand_parameter<T>(p, std::vector<int64_t>(shape.begin() + axis, shape.end()));
    }
    return expand_parameter<T>(p, shape);
  };
  const std::vector<T> scale = expand(ctx.input(1));
  const std::vector<T> bias = ctx.has_input(2) ? expand(ctx.input(2)) : std::vector<T>(static_cast<size_t>(row), T(0));
  const bool bias_full = ctx.has_input(2) && static_cast<int64_t>(bias.size()) != row;
  const bool scale_full = static_cast<int64_t>(scale.size()) != row;
  means.assign(static_cast<size_t>(rows), 0);
  inv_stds.assign(static_cast<size_t>(rows), 0);
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  ctx.parallelism().parallel_for_balanced(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = xd + r * row;
      T* yr = yd + r * row;
      const MeanVariance mv = mean_variance(xr, row);
      const double inv = 1.0 / std::sqrt(mv.variance + config.epsilon);
      means[r] = mv.mean;
      inv_stds[r] = inv;
      const T* s = scale.data() + (scale_full ? r * row : 0);
      const T* b = bias.data() + (bias_full ? r * row : 0);
      const T m = static_cast<T>(mv.mean), k = static_cast<T>(inv);
      for (int64_t i = 0; i < row; ++i) yr[i] = (xr[i] - m) * k * s[i] + b[i];
    }
  });
}

Tensor statistics_tensor(const std::vector<double>& values, DType dtype, std::vector<int64_t> shape) {
  Tensor t(dtype, std::move(shape));
  visit_dtype(dtype, [&](auto tag) {
    using S = typename decltype(tag)::type;
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double> || kIsNarrowFloat<S>) {
      S* d = t.data<S>();
      for (size_t i = 0; i < values.size(); ++i) d[i] = element_from_double<S>(values[i]);
    }
  });
  return t;
}

std::vector<int64_t> statistics_shape(const std::vector<int64_t>& shape, size_t axis) {
  std::vector<int64_t> out(shape.begin(), shape.begin() + axis);
  out.resize(shape.size(), 1);
  return out;
}

DType parse_stash_type(const Node& node) {
  const int64_t stash = node.attr_int("stash_type", 1);
  check_model(stash == 1 || stash == 10 || stash == 11 || stash == 16, node.label(), ": stash_type ", stash,
              " is not a float type");
  return static_cast<DType>(stash);
}

std::unique_ptr<Kernel> make_layer_normalization(const KernelInfo& info) {
  LayerNormConfig config;
  config.axis = info.node.attr_int("axis", -1);
  config.epsilon = info.node.attr_float("epsilon", 1e-5f);
  config.stash = parse_stash_type(info.node);
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    check_norm_float(input, "LayerNormalization", "X");
    check_argument(input.rank() >= 1, "LayerNormalization expects X of rank >= 1, got ", tensor_text(input));
    const size_t axis = static_cast<size_t>(normalize_axis(config.axis, static_cast<int64_t>(input.rank())));
    check_broadcastable(ctx.input(1), "Scale", input);
    if (ctx.has_input(2)) check_broadcastable(ctx.input(2), "B", input);
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), input.shape());
    std::vector<double> means, inv_stds;
    if (x.dtype() == DType::kDouble)
      layer_norm_typed<double>(config, ctx, x, y, axis, means, inv_stds);
    else
      layer_norm_typed<float>(config, ctx, x, y, axis, means, inv_stds);
    finish_staged_output(ctx, 0, y, input.dtype());
    const std::vector<int64_t> stats_shape = statistics_shape(input.shape(), axis);
    if (ctx.output_wanted(1)) ctx.set_output(1, statistics_tensor(means, config.stash, stats_shape));
    if (ctx.output_wanted(2)) ctx.set_output(2, statistics_tensor(inv_stds, config.stash, stats_shape));
  });
}

void infer_layer_normalization(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  context.set_output_type(0, *x);
  if (context.output_count() < 2) return;
  const DType stash = parse_stash_type(context.node());
  std::optional<std::vector<Dim>> dims;
  if (x->shape && !x->shape->empty()) {
    const int64_t rank = static_cast<int64_t>(x->shape->size());
    const int64_t axis = context.node().attr_int("axis", -1);
    check_model(axis >= -rank && axis < rank, context.node().label(), ": axis ", axis, " is out of range for rank ",
                rank);
    const size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
    dims = std::vector<Dim>(x->shape->begin(), x->shape->begin() + a);
    dims->resize(x->shape->size(), Dim::known(1));
  }
  for (size_t i = 1; i < context.output_count() && i < 3; ++i) {
    context.set_output_type(i, TypeInfo::tensor(stash, dims));
  }
}

// LayerNormalization entered ai.onnx at opset 17; ONNX Runtime also serves the same op in the default domain at
// earlier opsets (its transformer optimizer emits it there), so those models run too.
const RegisterOp kLayerNorm1{{.op_type = "LayerNormalization",
                              .since_version = 1,
                              .last_version = 16,
                              .factory = make_layer_normalization,
                              .infer = infer_layer_normalization}};
const RegisterOp kLayerNorm17{{.op_type = "LayerNormalization",
                               .since_version = 17,
                               .last_version = INT_MAX,
                               .factory = make_layer_normalization,
                               .infer = infer_layer_normalization}};

}  // namespace
}  // namespace tessera

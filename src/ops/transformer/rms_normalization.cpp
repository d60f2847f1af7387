// RMSNormalization (opset 23): every row of the trailing dims [axis, rank) divided by its root mean square
// sqrt(mean(x^2) + epsilon), then multiplied by Scale (unidirectionally broadcast to X). Stage one (the mean of
// squares and the reciprocal) runs in the stash_type's precision (float, or double for stash_type 11); Y has
// Scale's dtype.
// SimplifiedLayerNormalization (ONNX Runtime's contrib op, registered in the ai.onnx domain at version 1) is the
// same computation; its optional second output inv_std_var holds each row's 1 / sqrt(mean(x^2) + epsilon) as float,
// X's shape with the normalized dims set to 1.
#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/transformer/transformer_common.h"

namespace tessera {
namespace {

struct RmsNormConfig {
  int64_t axis = -1;
  float epsilon = 1e-5f;
  bool stash_double = false;
};

RmsNormConfig parse_rms_norm(const Node& node) {
  RmsNormConfig c;
  c.axis = node.attr_int("axis", -1);
  c.epsilon = node.attr_float("epsilon", 1e-5f);
  const int64_t stash = node.attr_int("stash_type", 1);
  check_model(stash == 1 || stash == 10 || stash == 11 || stash == 16, node.label(), ": stash_type ", stash,
              " is not a float type (1, 10, 11 or 16)");
  c.stash_double = stash == 11;
  return c;
}

// Scale expanded to one row of the normalized dims when it does not vary along the leading dims, else to all of X.
std::vector<float> expand_scale(const Tensor& scale, const std::vector<int64_t>& x_shape, size_t axis, bool& per_row) {
  const std::vector<int64_t>& s = scale.shape();
  check_argument(s.size() <= x_shape.size(), "RMSNormalization: scale ", tensor_text(scale),
                 " has a higher rank than X ", shape_text(x_shape));
  const size_t lead = x_shape.size() - s.size();
  per_row = true;
  for (size_t i = 0; i < s.size(); ++i) {
    check_argument(s[i] == 1 || s[i] == x_shape[lead + i], "RMSNormalization: scale ", tensor_text(scale),
                   " cannot be broadcast to X ", shape_text(x_shape));
    if (lead + i < axis && s[i] != 1) per_row = false;
  }
  const std::vector<float> values = transformer::to_floats(scale);
  const std::vector<int64_t> target =
      per_row ? std::vector<int64_t>(x_shape.begin() + static_cast<std::ptrdiff_t>(axis), x_shape.end()) : x_shape;
  std::vector<int64_t> source = s;
  if (per_row && source.size() > target.size()) source.erase(source.begin(), source.end() - target.size());
  const std::vector<int64_t> strides[1] = {broadcast_strides(source, target)};
  std::vector<float> out(static_cast<size_t>(shape_element_count(target)));
  for_each_broadcast(target, strides, [&](int64_t o, const int64_t* offsets) { out[o] = values[offsets[0]]; });
  return out;
}

void compute_rms_norm(const RmsNormConfig& c, KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  transformer::check_float_input(x, "RMSNormalization", "X");
  transformer::check_float_input(scale, "RMSNormalization", "scale");
  check_argument(x.rank() >= 1, "RMSNormalization: X ", tensor_text(x), " must have rank >= 1");
  const size_t axis = static_cast<size_t>(normalize_axis(c.axis, static_cast<int64_t>(x.rank())));
  bool per_row = true;
  const std::vector<float> w = expand_scale(scale, x.shape(), axis, per_row);
  int64_t rows = 1, row = 1;
  for (size_t i = 0; i < x.rank(); ++i) (i < axis ? rows : row) *= x.dim(i);
  Tensor& y = ctx.allocate_output(0, scale.dtype(), x.shape());
  float* inv_out = nullptr;
  if (ctx.output_wanted(1)) {
    std::vector<int64_t> stats_shape = x.shape();
    std::fill(stats_shape.begin() + static_cast<std::ptrdiff_t>(axis), stats_shape.end(), 1);
    inv_out = ctx.allocate_output(1, DType::kFloat, stats_shape).data<float>();
  }
  if (x.element_count() == 0) return;
  const double epsilon = c.epsilon;  // the float attribute, widened
  ctx.parallelism().parallel_for(rows, [&](int64_t begin, int64_t end) {
    std::vector<float> values(static_cast<size_t>(row));
    for (int64_t r = begin; r < end; ++r) {
      transformer::load_floats(x, r * row, row, values.data());
      const float* wr = w.data() + (per_row ? 0 : r * row);
      double sum = 0;  // accumulated in double whatever the stash type: rows can be long
      for (float v : values) sum += static_cast<double>(v) * v;
      const double inv = 1.0 / std::sqrt(sum / static_cast<double>(row) + epsilon);
      if (inv_out) inv_out[r] = static_cast<float>(inv);
      if (c.stash_double) {
        for (int64_t i = 0; i < row; ++i) values[i] = static_cast<float>(values[i] * inv * wr[i]);
      } else {
        const float inv_f = static_cast<float>(inv);
        for (int64_t i = 0; i < row; ++i) values[i] = values[i] * inv_f * wr[i];
      }
      transformer::store_floats(values.data(), row, y, r * row);
    }
  });
}

std::unique_ptr<Kernel> make_rms_norm(const KernelInfo& info) {
  const RmsNormConfig config = parse_rms_norm(info.node);
  return make_kernel([config](KernelContext& ctx) { compute_rms_norm(config, ctx); });
}

void infer_rms_norm(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  const TypeInfo* scale = ctx.input_type(1);
  if (x == nullptr || !x->is_tensor()) return;
  const DType dtype = scale != nullptr && scale->is_tensor() ? scale->elem_type : x->elem_type;
  ctx.set_output_type(0, TypeInfo::tensor(dtype, x->shape));
  if (ctx.output_count() < 2) return;
  std::optional<std::vector<Dim>> stats = x->shape;
  if (stats) {
    const int64_t rank = static_cast<int64_t>(stats->size());
    const int64_t axis = ctx.node().attr_int("axis", -1);
    if (axis >= -rank && axis < rank) {
      for (int64_t i = axis < 0 ? axis + rank : axis; i < rank; ++i) (*stats)[static_cast<size_t>(i)] = Dim::known(1);
    } else {
      stats.reset();
    }
  }
  ctx.set_output_type(1, TypeInfo::tensor(DType::kFloat, stats));
}

const RegisterOp kRmsNormalization{{.op_type = "RMSNormalization",
                                    .since_version = 23,
                                    .last_version = INT_MAX,
                                    .factory = make_rms_norm,
                                    .infer = infer_rms_norm}};

const RegisterOp kSimplifiedLayerNormalization{{.op_type = "SimplifiedLayerNormalization",
                                                .since_version = 1,
                                                .last_version = INT_MAX,
                                                .factory = make_rms_norm,
                                                .infer = infer_rms_norm}};

}  // namespace
}  // namespace tessera

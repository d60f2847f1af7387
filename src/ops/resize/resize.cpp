// Resize (opsets 10, 11, 13, 18, 19) and Upsample (opsets 1, 7, 9, 10; deprecated at 10). Attribute and input
// handling per version; the interpolation itself is in resize_common.
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/pool/float_staging.h"
#include "ops/pool/pool_common.h"
#include "ops/registry.h"
#include "ops/resize/resize_common.h"

namespace tessera {
namespace {

enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };

struct ResizeConfig {
  ResizeOptions options;
  int64_t opset = 19;
  std::vector<int64_t> axes;  // the axes roi/scales/sizes refer to (opset 18+); empty: every axis
  AspectPolicy policy = AspectPolicy::kStretch;
};

ResizeConfig parse_resize_config(const Node& node, int64_t opset) {
  ResizeConfig config;
  config.opset = opset;
  ResizeOptions& o = config.options;
  o.mode = parse_resize_mode(node.attr_string("mode", "nearest"));
  if (opset < 11) {
    check_model(o.mode != ResizeMode::kCubic, node.label(), ": cubic mode needs Resize opset 11 or newer");
    o.coordinates = CoordinateMode::kAsymmetric;
    o.nearest = NearestMode::kSimple;
    return config;
  }
  o.coordinates = parse_coordinate_mode(node.attr_string("coordinate_transformation_mode", "half_pixel"));
  o.nearest = parse_nearest_mode(node.attr_string("nearest_mode", "round_prefer_floor"));
  o.cubic_coeff_a = node.attr_float("cubic_coeff_a", -0.75f);
  o.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  o.extrapolation_value = node.attr_float("extrapolation_value", 0.0f);
  if (opset >= 18) {
    o.antialias = node.attr_int("antialias", 0) != 0;
    config.axes = node.attr_ints("axes");
    const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
    if (policy == "not_larger")
      config.policy = AspectPolicy::kNotLarger;
    else if (policy == "not_smaller")
      config.policy = AspectPolicy::kNotSmaller;
    else
      check_model(policy == "stretch", node.label(), ": keep_aspect_ratio_policy '", policy, "' is unknown");
  }
  return config;
}

// The values of the roi, scales and sizes inputs (empty when absent or given as empty tensors).
struct ResizeInputs {
  std::vector<double> roi;
  std::vector<double> scales;
  std::vector<int64_t> sizes;
};

std::vector<double> float_values(const Tensor& t, const char* name) {
  std::vector<double> out;
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || kIsNarrowFloat<T>) {
      for (int64_t i = 0; i < t.element_count(); ++i) out.push_back(element_to_double(t.data<T>()[i]));
    } else {
      fail(ErrorCode::kInvalidArgument, "Resize: input ", name, " must be a float tensor, got ", t.description());
    }
  });
  return out;
}

// Reads roi/scales/sizes from the inputs (opset 10: scales is input 1) or from constants (shape inference).
template <typename Get>
ResizeInputs read_resize_inputs(const ResizeConfig& config, Get&& get) {
  ResizeInputs in;
  const size_t scales_at = config.opset < 11 ? 1 : 2;
  if (config.opset >= 11) {
    if (const Tensor* roi = get(1); roi && roi->element_count() > 0) in.roi = float_values(*roi, "roi");
  }
  if (const Tensor* s = get(scales_at); s && s->element_count() > 0) in.scales = float_values(*s, "scales");
  if (config.opset >= 11) {
    if (const Tensor* s = get(3); s && s->element_count() > 0) {
      check_argument(s->dtype() == DType::kInt64, "Resize: sizes must be int64, got ", tensor_text(*s));
      in.sizes = tensor_to_int64s(*s);
    }
  }
  return in;
}

// Per-axis geometry from the input shape (-1 for an unknown length) and the inputs. Unknown inputs give
// output -1.
std::vector<AxisResize> resolve_resize_axes(const ResizeConfig& config, const std::vector<int64_t>& shape,
                                            const ResizeInputs& in) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> axes;
  for (int64_t a : config.axes) axes.push_back(normalize_axis(a, rank));
  if (axes.empty())
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  const size_t n = axes.size();
  check_argument(in.scales.empty() || in.sizes.empty(), "Resize: only one of scales and sizes may be given");
  check_argument(!in.scales.empty() || !in.sizes.empty(), "Resize: one of scales and sizes must be given");
  check_argument(in.scales.empty() || in.scales.size() == n, "Resize: scales has ", in.scales.size(), " values for ", n,
                 " axes of an input of rank ", rank);
  check_argument(in.sizes.empty() || in.sizes.size() == n, "Resize: sizes has ", in.sizes.size(), " values for ", n,
                 " axes of an input of rank ", rank);
  const bool crop = config.options.coordinates == CoordinateMode::kTfCropAndResize;
  check_argument(!crop || in.roi.size() == 2 * n, "Resize: tf_crop_and_resize needs roi of ", 2 * n, " values, got ",
                 in.roi.size());
  std::vector<AxisResize> out(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    out[d].input = out[d].output = shape[d];
    out[d].output_width = static_cast<double>(shape[d]);
  }
  // keep_aspect_ratio_policy turns sizes into one common scale.
  double common = config.policy == AspectPolicy::kNotLarger ? INFINITY : 0;
  for (size_t i = 0; i < n && !in.sizes.empty() && config.policy != AspectPolicy::kStretch; ++i) {
    const double s = shape[axes[i]] > 0 ? static_cast<double>(in.sizes[i]) / shape[axes[i]] : 1.0;
    common = config.policy == AspectPolicy::kNotLarger ? std::min(common, s) : std::max(common, s);
  }
  for (size_t i = 0; i < n; ++i) {
    AxisResize& a = out[axes[i]];
    if (crop) {
      a.roi_start = in.roi[i];
      a.roi_end = in.roi[i + n];
    }
    if (!in.scales.empty()) {
      check_argument(in.scales[i] > 0, "Resize: scales must be positive, got ", in.scales[i]);
      a.scale = in.scales[i];
      const double length = std::floor(static_cast<double>(a.input) * a.scale);
      check_argument(length < 4.0e18, "Resize: scale ", a.scale, " makes axis ", axes[i], " too long");
      a.output = a.input < 0 ? -1 : static_cast<int64_t>(length);
      a.output_width = static_cast<double>(a.input) * a.scale;
    } else if (config.policy == AspectPolicy::kStretch) {
      check_argument(in.sizes[i] >= 0, "Resize: sizes must be >= 0, got ", in.sizes[i]);
      a.output = in.sizes[i];
      a.scale = a.input > 0 ? static_cast<double>(a.output) / static_cast<double>(a.input) : 1.0;
      a.output_width = static_cast<double>(a.output);
    } else {
      a.scale = common;
      const double length = std::floor(common * static_cast<double>(a.input) + 0.5);
      check_argument(length < 4.0e18, "Resize: sizes make axis ", axes[i], " too long");
      a.output = a.input < 0 ? -1 : static_cast<int64_t>(length);
      a.output_width = common * static_cast<double>(a.input);
    }
  }
  return out;
}

void run_configured_resize(const ResizeConfig& config, KernelContext& ctx, const ResizeInputs& inputs) {
  const Tensor& input = ctx.input(0);
  std::vector<AxisResize> axes = resolve_resize_axes(config, input.shape(), inputs);
  const bool staged = config.options.mode != ResizeMode::kNearest && is_staged_float(input.dtype());
  const Tensor x = staged ? widen_to_float(input) : input;
  const Tensor y = run_resize(config.options, axes, x, ctx.parallelism());
  ctx.set_output(0, staged ? narrow_from_float(y, input.dtype()) : y);
}

std::unique_ptr<Kernel> make_resize(const KernelInfo& info) {
  const ResizeConfig config = parse_resize_config(info.node, info.opset);
  return make_kernel([config](KernelContext& ctx) {
    const ResizeInputs inputs = read_resize_inputs(
        config, [&](size_t i) -> const Tensor* { return ctx.has_input(i) ? &ctx.input(i) : nullptr; });
    run_configured_resize(config, ctx, inputs);
  });
}

void infer_resize_dims(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  std::optional<std::vector<Dim>> dims;
  if (x->shape) {
    dims = std::vector<Dim>(x->shape->size());
    const ResizeConfig config =
        parse_resize_config(context.node(), context.node().opset > 0 ? context.node().opset : 19);
    const size_t scales_at = config.opset < 11 ? 1 : 2;
    const bool known_inputs =
        context.input_constant(scales_at) != nullptr || (config.opset >= 11 && context.input_constant(3) != nullptr);
    if (known_inputs) {
      std::vector<int64_t> shape;
      for (const Dim& d : *x->shape) shape.push_back(d.is_known() ? d.value : -1);
      const ResizeInputs inputs = read_resize_inputs(config, [&](size_t i) { return context.input_constant(i); });
      if (!inputs.scales.empty() || !inputs.sizes.empty()) {
        const std::vector<AxisResize> axes = resolve_resize_axes(config, shape, inputs);
        for (size_t a = 0; a < axes.size(); ++a) {
          if (axes[a].output >= 0) (*dims)[a] = Dim::known(axes[a].output);
        }
      }
    }
  }
  context.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

void infer_resize(InferenceContext& context) {
  with_node_label(context.node(), [&] { infer_resize_dims(context); });
}

// Upsample: nearest or (bi)linear with asymmetric coordinates, scales from attributes (1: height_scale and
// width_scale on NCHW; 7: scales) or from input 1 (9, 10).
std::unique_ptr<Kernel> make_upsample(const KernelInfo& info) {
  ResizeConfig config;
  config.opset = 10;
  config.options.mode = parse_resize_mode(info.node.attr_string("mode", "nearest"));
  config.options.coordinates = CoordinateMode::kAsymmetric;
  config.options.nearest = NearestMode::kSimple;
  check_model(config.options.mode != ResizeMode::kCubic, info.node.label(), ": Upsample has no cubic mode");
  std::vector<double> attr_scales;
  if (info.opset < 7) {
    attr_scales = {1.0, 1.0, info.node.required_attribute("height_scale").f,
                   info.node.required_attribute("width_scale").f};
  } else if (info.opset < 9) {
    for (float s : info.node.required_attribute("scales").floats) attr_scales.push_back(s);
  }
  return make_kernel([config, attr_scales](KernelContext& ctx) {
    ResizeInputs inputs;
    inputs.scales = attr_scales.empty() ? float_values(ctx.input(1), "scales") : attr_scales;
    check_argument(inputs.scales.size() == ctx.input(0).rank(), "Upsample: scales has ", inputs.scales.size(),
                   " values for input ", tensor_text(ctx.input(0)));
    run_configured_resize(config, ctx, inputs);
  });
}

void infer_upsample(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  std::optional<std::vector<Dim>> dims;
  if (x->shape) {
    dims = std::vector<Dim>(x->shape->size());
    std::vector<float> scales = context.node().attr_floats("scales");
    if (const Tensor* s = context.input_constant(1); s && s->dtype() == DType::kFloat) {
      scales.assign(s->data<float>(), s->data<float>() + s->element_count());
    }
    for (size_t a = 0; a < dims->size() && scales.size() == dims->size(); ++a) {
      const Dim& d = (*x->shape)[a];
      const double length = std::floor(static_cast<double>(d.value) * static_cast<double>(scales[a]));
      if (d.is_known() && length >= 0 && length < 4.0e18) (*dims)[a] = Dim::known(static_cast<int64_t>(length));
    }
  }
  context.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

// Resize versions: 10 (scales only), 11 (roi, sizes, coordinate modes, cubic), 13 (optional roi/scales, no
// tf_half_pixel_for_nn), 18 (antialias, axes, keep_aspect_ratio_policy), 19 (half_pixel_symmetric).
const RegisterOp kResize10{
    {.op_type = "Resize", .since_version = 10, .last_version = 10, .factory = make_resize, .infer = infer_resize}};
const RegisterOp kResize11{
    {.op_type = "Resize", .since_version = 11, .last_version = 12, .factory = make_resize, .infer = infer_resize}};
const RegisterOp kResize13{
    {.op_type = "Resize", .since_version = 13, .last_version = 17, .factory = make_resize, .infer = infer_resize}};
const RegisterOp kResize18{
    {.op_type = "Resize", .since_version = 18, .last_version = 18, .factory = make_resize, .infer = infer_resize}};
const RegisterOp kResize19{
    {.op_type = "Resize", .since_version = 19, .last_version = INT_MAX, .factory = make_resize, .infer = infer_resize}};

const RegisterOp kUpsample1{
    {.op_type = "Upsample", .since_version = 1, .last_version = 6, .factory = make_upsample, .infer = infer_upsample}};
const RegisterOp kUpsample7{
    {.op_type = "Upsample", .since_version = 7, .last_version = 8, .factory = make_upsample, .infer = infer_upsample}};
const RegisterOp kUpsample9{
    {.op_type = "Upsample", .since_version = 9, .last_version = 9, .factory = make_upsample, .infer = infer_upsample}};
const RegisterOp kUpsample10{{.op_type = "Upsample",
                              .since_version = 10,
                              .last_version = 10,
                              .factory = make_upsample,
                              .infer = infer_upsample}};

}  // namespace
}  // namespace tessera

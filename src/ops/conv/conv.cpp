// Conv (opsets 1, 11, 22; one semantics here): N-D convolution with groups, strides, dilations, pads, auto_pad
// and an optional bias. float32 runs as im2col + the packed f32 GEMM per (image, group), with the weights packed
// once at kernel creation when W is a constant; channels with one input channel per group (depthwise) run a
// direct loop instead. float16/bfloat16 compute through float32, double on plain loops. A constant W of group 1
// that is bfloat16, or float32 in a session under MatMulPrecision::kBFloat16, runs on the bf16 GEMM instead
// (bf16_conv.h: operands rounded to bfloat16, float32 sums).
#include <algorithm>
#include <climits>
#include <limits>
#include <memory>
#include <optional>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/conv/bf16_conv.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/conv_kernels.h"
#include "ops/conv/fused_activation.h"
#include "ops/linalg/linalg_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using conv::ConvAttributes;
using conv::ConvGeometry;

// The dtype and shape of a constant W the kernel consumed (empty shape: not consumed).
struct ConsumedWeights {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
};

// Per-group packed weights of a constant W, with the tensor they came from; or, for a pointwise convolution of
// small planes, W packed once as the GEMM's B operand (`transposed`, conv_kernels.h) and `groups` empty.
struct PackedWeights {
  std::vector<PackedGemmF32> groups;
  PackedGemmF32 transposed;
  std::vector<int64_t> shape;
  const void* source = nullptr;
};

// The output's spatial dims when the input's are known at creation, worked out by conv::conv_geometry as a run
// would; nullopt when a dim is unknown or the shapes do not fit (the run then reports them).
std::optional<std::vector<int64_t>> static_output_dims(const KernelInfo& info, const ConvAttributes& attrs,
                                                       const Tensor& w) {
  if (info.input_types.empty() || !info.input_types[0].shape) return std::nullopt;
  const std::vector<Dim>& x = *info.input_types[0].shape;
  if (x.size() != w.rank() || w.rank() < 3) return std::nullopt;
  std::vector<int64_t> x_shape = {1, w.dim(1) * attrs.group};
  for (size_t i = 2; i < x.size(); ++i) {
    if (!x[i].is_known()) return std::nullopt;
    x_shape.push_back(x[i].value);
  }
  try {
    return conv::conv_geometry(attrs, x_shape, w.shape(), "Conv").out_dims;
  } catch (const Error&) {
    return std::nullopt;
  }
}

// Positions per output channel when static_output_dims knows them.
std::optional<int64_t> static_output_plane(const KernelInfo& info, const ConvAttributes& attrs, const Tensor& w) {
  const std::optional<std::vector<int64_t>> dims = static_output_dims(info, attrs, w);
  if (!dims) return std::nullopt;
  int64_t plane = 1;
  for (int64_t d : *dims) plane *= d;
  return plane;
}

// True when a 2-D k x k convolution (group 1, explicit pads) with a statically known output plane of at most
// kMaxTransposedKernelPlane positions runs faster transposed (conv_kernels' im2col_transposed), by the same count
// of idle register lanes as pointwise ones (conv::pointwise_prefers_transposed, depth = input channels x kernel
// taps). ResNet-50's 3x3 stride-2 convolutions (Zen 4, one thread, standalone): 512 channels 14x14 -> 7x7 3.27 ->
// 2.44 ms, 256 channels 28x28 -> 14x14 2.71 -> 2.50 ms, but 128 channels 56x56 -> 28x28 2.57 -> 2.62 ms (the
// transposed A, read in place, spans too many lines per depth step there), hence the bound.
bool kernel_runs_transposed(const KernelInfo& info, const ConvAttributes& attrs, const Tensor& w) {
  if (attrs.group != 1 || w.rank() != 4 || attrs.auto_pad != conv::AutoPad::kNotSet) return false;
  const std::optional<int64_t> plane = static_output_plane(info, attrs, w);
  constexpr int64_t kMaxTransposedKernelPlane = 256;
  return plane && *plane <= kMaxTransposedKernelPlane &&
         conv::pointwise_prefers_transposed(*plane, w.dim(1) * w.dim(2) * w.dim(3), w.dim(0));
}

// True when the convolution is pointwise whatever its input (group 1, 1x1 kernel, no pads; strides above 1 only
// in 2-D, gathered first) and its statically known output planes run faster transposed
// (conv::pointwise_prefers_transposed); or a k x k one that does (kernel_runs_transposed).
bool runs_transposed(const KernelInfo& info, const ConvAttributes& attrs, const Tensor& w) {
  if (attrs.group != 1) return false;
  for (size_t i = 2; i < w.rank(); ++i) {
    if (w.dim(i) != 1) return kernel_runs_transposed(info, attrs, w);
  }
  for (int64_t v : attrs.pads) {
    if (v != 0) return false;
  }
  // Strides other than 1 only in 2-D, where conv_f32 gathers the positions read and runs the rest pointwise.
  const bool strided = std::any_of(attrs.strides.begin(), attrs.strides.end(), [](int64_t v) { return v != 1; });
  if (strided && w.rank() != 4) return false;
  const std::optional<int64_t> plane = static_output_plane(info, attrs, w);
  return plane && conv::pointwise_prefers_transposed(*plane, w.dim(1), w.dim(0));
}

std::shared_ptr<const PackedWeights> pack_constant_weights(const KernelInfo& info, const ConvAttributes& attrs) {
  const Tensor* w = info.constant_input(1);
  if (w == nullptr || w->rank() < 3 || !(w->dtype() == DType::kFloat || linalg::is_staged_float(w->dtype()))) {
    return nullptr;
  }
  const int64_t out_channels = w->dim(0);
  if (out_channels % attrs.group != 0 || w->dim(1) == 1) return nullptr;  // bad, or the direct depthwise path
  const int64_t group_rows = out_channels / attrs.group;
  const int64_t depth = w->element_count() / std::max<int64_t>(out_channels, 1);
  const Tensor values = linalg::to_float32(*w);
  auto packed = std::make_shared<PackedWeights>();
  packed->shape = w->shape();
  packed->source = w->raw_data();
  if (runs_transposed(info, attrs, *w)) {
    packed->transposed = pack_gemm_b_f32(true, depth, out_channels, values.data<float>(), depth);
    return packed;
  }
  for (int64_t g = 0; g < attrs.group; ++g) {
    packed->groups.push_back(
        pack_gemm_a_f32(false, group_rows, depth, values.data<float>() + g * group_rows * depth, depth));
  }
  return packed;
}

// Winograd weights for a constant float32 W that Winograd suits (conv::winograd_applies, and
// conv::winograd_tile_for_plane where the output plane is known at creation), else nullptr.
std::shared_ptr<const conv::WinogradWeights> winograd_weights(const KernelInfo& info, const ConvAttributes& attrs) {
  const Tensor* w = info.constant_input(1);
  if (w == nullptr || w->dtype() != DType::kFloat || !conv::winograd_applies(attrs, w->shape())) return nullptr;
  // The tile size for a plane known at creation (too small for either: the packed GEMM weights instead); F(4x4)
  // where the plane is not known.
  const std::optional<std::vector<int64_t>> out_dims = static_output_dims(info, attrs, *w);
  const int tile = out_dims ? conv::winograd_tile_for_plane(*out_dims) : 4;
  if (tile == 0) return nullptr;
  return conv::make_winograd_weights(w->data<float>(), w->dim(0), w->dim(1), tile);
}

// The weights packed for the bf16 GEMM when the convolution runs there (bf16_conv.h): a constant W of group 1 with
// at least conv::kBf16ConvMinDepth depth and conv::kBf16ConvMinChannels output channels, bfloat16, or float32 in a
// session under MatMulPrecision::kBFloat16 (as MatMul and Gemm); else nullptr.
std::shared_ptr<const conv::Bf16ConvWeights> bf16_weights(const KernelInfo& info, const ConvAttributes& attrs) {
  const Tensor* w = info.constant_input(1);
  if (w == nullptr || w->rank() < 3 || attrs.group != 1 || w->dim(0) < conv::kBf16ConvMinChannels ||
      w->element_count() / w->dim(0) < conv::kBf16ConvMinDepth) {
    return nullptr;
  }
  const bool rounded_f32 = w->dtype() == DType::kFloat && info.matmul_precision == MatMulPrecision::kBFloat16;
  if (!rounded_f32 && w->dtype() != DType::kBFloat16) return nullptr;
  return conv::make_bf16_conv_weights(*w);
}

// `w_in` is nullptr when the kernel consumed the constant W into its packed, Winograd or bf16 copy. With
// `y_holds_z`, y is FusedConv's Z itself (z_as_output) and the convolution adds into it (never with `bf16`).
void conv_float(KernelContext& ctx, const ConvGeometry& g, const Tensor* w_in, const PackedWeights* packed,
                const conv::WinogradWeights* winograd, const conv::Bf16ConvWeights* bf16,
                const conv::FusedActivation& activation, Tensor& y, bool y_holds_z) {
  const Tensor x = linalg::to_float32(ctx.input(0));
  const bool use_packed =
      packed != nullptr && (w_in == nullptr || (packed->source == w_in->raw_data() && packed->shape == w_in->shape()));
  // The Winograd weights were made from the constant W; a 2-D input of W's channel count runs on them.
  const bool use_winograd = winograd != nullptr && g.spatial_rank() == 2 && x.dtype() == DType::kFloat &&
                            g.in_channels == winograd->in_channels && g.out_channels == winograd->out_channels;
  check_argument(w_in != nullptr || use_packed || use_winograd || bf16 != nullptr, "Conv: input X ", tensor_text(x),
                 " does not fit the weights packed at creation");
  const Tensor w = (use_packed || w_in == nullptr) ? Tensor() : linalg::to_float32(*w_in);
  const Tensor bias = ctx.has_input(2) ? linalg::to_float32(ctx.input(2)) : Tensor();
  Tensor y32 = y.dtype() == DType::kFloat ? y : Tensor(DType::kFloat, y.shape());
  // FusedConv's Z, added before the activation.
  const Tensor z = !y_holds_z && ctx.node().domain == kMicrosoftDomain && ctx.has_input(3)
                       ? linalg::to_float32(ctx.input(3))
                       : Tensor();
  if (z.defined()) {
    check_argument(z.shape() == y.shape(), "FusedConv: Z ", tensor_text(ctx.input(3)),
                   " must have the output's shape ", shape_text(y.shape()));
  }
  if (bf16 != nullptr) {
    conv::conv_bf16(g, *bf16, x.data<float>(), bias.defined() ? bias.data<float>() : nullptr,
                    z.defined() ? z.data<float>() : nullptr, activation.clamp_min, activation.clamp_max,
                    y32.data<float>(), ctx.parallelism());
  } else {
    conv::ConvF32Args args{g,
                           x.data<float>(),
                           w.defined() ? w.data<float>() : nullptr,
                           use_packed && packed->transposed.empty() ? &packed->groups : nullptr,
                           bias.defined() ? bias.data<float>() : nullptr,
                           y32.data<float>(),
                           activation.clamp_min,
                           activation.clamp_max,
                           use_winograd ? winograd : nullptr,
                           z.defined() ? z.data<float>() : nullptr,
                           use_packed && !packed->transposed.empty() ? &packed->transposed : nullptr,
                           y_holds_z};
    conv::conv_f32(args, ctx.parallelism());
  }
  conv::apply_fused_activation(activation, y32.data<float>(), y32.element_count(), ctx.parallelism());
  if (y.dtype() != DType::kFloat) ctx.set_output(0, linalg::from_float32(y32, y.dtype()));
}

// FusedConv's float32 Z set as Y, the convolution to add into it, when the convolution runs on an f32 GEMM that
// accumulates (conv::conv_f32_accumulates; not on the Winograd or bf16 weights) and Z can be written over
// (KernelContext::output_over_input: nothing else needs its memory, it has Y's shape); else nullptr.
Tensor* z_as_output(KernelContext& ctx, const ConvGeometry& g, const conv::WinogradWeights* winograd,
                    const conv::Bf16ConvWeights* bf16, const std::vector<int64_t>& y_shape) {
  if (ctx.node().domain != kMicrosoftDomain || !ctx.has_input(3) || ctx.input(0).dtype() != DType::kFloat ||
      winograd != nullptr || bf16 != nullptr || !conv::conv_f32_accumulates(g) || shape_element_count(y_shape) == 0) {
    return nullptr;
  }
  return ctx.output_over_input(0, 3, DType::kFloat, y_shape);
}

void conv_double(KernelContext& ctx, const ConvGeometry& g, Tensor& y) {
  const double* x = ctx.input(0).data<double>();
  const double* w = ctx.input(1).data<double>();
  const double* bias = ctx.has_input(2) ? ctx.input(2).data<double>() : nullptr;
  double* out = y.data<double>();
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  const int64_t depth = cg * g.kernel_size;
  std::vector<double> col(static_cast<size_t>(depth * g.out_size));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      conv::im2col<double>(g, x + (n * g.in_channels + grp * cg) * g.in_size, cg, 0.0, col.data());
      double* yg = out + (n * g.out_channels + grp * mg) * g.out_size;
      linalg::matmul_plain<double>(mg, g.out_size, depth, w + grp * mg * depth, col.data(), yg);
      for (int64_t m = 0; m < mg && bias != nullptr; ++m) {
        for (int64_t o = 0; o < g.out_size; ++o) yg[m * g.out_size + o] += bias[grp * mg + m];
      }
    }
  }
}

// Conv, and com.microsoft FusedConv: activation(Conv(X, W, B) + Z), Z optional (float types only).
std::unique_ptr<Kernel> make_conv(const KernelInfo& info) {
  const ConvAttributes attrs = conv::parse_conv_attributes(info.node, false);
  const std::shared_ptr<const conv::Bf16ConvWeights> bf16 = bf16_weights(info, attrs);
  const std::shared_ptr<const conv::WinogradWeights> winograd = bf16 ? nullptr : winograd_weights(info, attrs);
  std::shared_ptr<const PackedWeights> packed = winograd || bf16 ? nullptr : pack_constant_weights(info, attrs);
  const conv::FusedActivation activation = conv::parse_fused_activation(info.node);
  // Every float run uses the bf16, Winograd or packed copy of a constant W, so the original is handed over (the
  // plan releases it); its dtype and shape are kept for the checks.
  ConsumedWeights consumed;
  if (bf16 || winograd || packed) {
    consumed.dtype = info.constant_input(1)->dtype();
    consumed.shape = info.constant_input(1)->shape();
    info.consume_constant_input(1);
  }
  return make_kernel([attrs, packed, winograd, bf16, activation, consumed](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor* w = ctx.has_input(1) || consumed.shape.empty() ? &ctx.input(1) : nullptr;
    const DType dtype = x.dtype();
    const DType w_dtype = w != nullptr ? w->dtype() : consumed.dtype;
    const std::vector<int64_t>& w_shape = w != nullptr ? w->shape() : consumed.shape;
    check_argument(dtype == DType::kFloat || dtype == DType::kDouble || linalg::is_staged_float(dtype),
                   "Conv does not support X ", tensor_text(x));
    check_argument(w_dtype == dtype, "Conv W ", dtype_name(w_dtype), shape_text(w_shape),
                   " must have the dtype of X ", tensor_text(x));
    const ConvGeometry g = conv::conv_geometry(attrs, x.shape(), w_shape, "Conv");
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      check_argument(b.dtype() == dtype && b.rank() == 1 && b.dim(0) == g.out_channels, "Conv bias B ", tensor_text(b),
                     " must be 1-D with ", g.out_channels, " elements of X's dtype");
    }
    std::vector<int64_t> y_shape{g.batch, g.out_channels};
    y_shape.insert(y_shape.end(), g.out_dims.begin(), g.out_dims.end());
    if (Tensor* y = z_as_output(ctx, g, winograd.get(), bf16.get(), y_shape)) {
      // Y takes over Z's memory: the convolution adds into it (ResNet's residual blocks), one stream of memory
      // read and written instead of Z read and Y written apart.
      conv_float(ctx, g, w, packed.get(), winograd.get(), nullptr, activation, *y, true);
      return;
    }
    // The float path writes every output element (bias or beta = 0 first); the double path accumulates.
    Tensor& y = dtype == DType::kDouble ? ctx.allocate_output(0, dtype, y_shape)
                                        : ctx.allocate_output_uninitialized(0, dtype, y_shape);
    if (y.element_count() == 0) return;
    if (dtype == DType::kDouble) {
      const bool has_sum = ctx.node().domain == kMicrosoftDomain && ctx.has_input(3);
      check_argument(activation.kind == conv::FusedActivation::Kind::kNone && !has_sum, "FusedConv does not support X ",
                     tensor_text(x), " (float types only)");
      conv_double(ctx, g, y);
    } else {
      conv_float(ctx, g, w, packed.get(), winograd.get(), bf16.get(), activation, y, false);
    }
  });
}

void infer_conv(InferenceContext& context) { conv::infer_conv_output(context, 1, DType::kUndefined); }

const RegisterOp kConv{
    {.op_type = "Conv", .since_version = 1, .last_version = INT_MAX, .factory = make_conv, .infer = infer_conv}};
// ONNX Runtime's contrib op (what its optimizer writes, and what Tessera's conv_activation_fusion pass makes).
const RegisterOp kFusedConv{{.domain = "com.microsoft",
                             .op_type = "FusedConv",
                             .since_version = 1,
                             .last_version = INT_MAX,
                             .factory = make_conv,
                             .infer = infer_conv}};

}  // namespace
}  // namespace tessera

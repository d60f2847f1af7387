// com.tessera NhwcConv: FusedConv (Conv + bias + optional sum Z + activation, com.microsoft FusedConv's attributes)
// on channels-last tensors: X [N, H, W, C], Z and Y [N, OH, OW, M]; W keeps ONNX's [M, C/group, kH, kW]. With
// nchw_input = 1, X is [N, C, H, W]; with nchw_output = 1, Y and Z are [N, M, OH, OW] (a chain's edges). The
// optimizer's nhwc_layout pass writes it for chains of pointwise and depthwise convolutions on small planes, with
// Transposes only at the chain's edges. float32 only.
//   - pointwise (1x1, group 1, no pads): one GEMM, Y [N*OH*OW, M] = X [N*OH*OW, C] * W^T, X read in place (strided
//     positions gathered first), W^T packed once at creation, bias, Z and a clamp in the GEMM epilogue; under
//     MatMulPrecision::kBFloat16, with a channels-last X and at least conv::kBf16ConvMinDepth input and
//     conv::kBf16ConvMinChannels output channels, on the bf16 GEMM instead (W^T packed for it; with an NCHW Y and
//     unit strides, conv_bf16 with W as A and X's rows packed as B);
//   - depthwise (group = C = M): kernels/f32-dwconv-nhwc, weights repacked once to [kH, kW, C];
//   - anything else: through NCHW (X transposed, the Conv engine, Y transposed back), for completeness.
#include <algorithm>
#include <climits>
#include <memory>

#include "base/lazy_text.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/conv/bf16_conv.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/conv_kernels.h"
#include "ops/conv/fused_activation.h"
#include "ops/pool/pool_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using conv::ConvAttributes;
using conv::ConvGeometry;

// [N, H, W, C] -> [N, C, H, W] and back, on shapes.
std::vector<int64_t> to_channels_first(const std::vector<int64_t>& s) {
  std::vector<int64_t> r{s[0], s.back()};
  r.insert(r.end(), s.begin() + 1, s.end() - 1);
  return r;
}
std::vector<Dim> dims_to_channels_first(const std::vector<Dim>& s) {
  std::vector<Dim> r{s[0], s.back()};
  r.insert(r.end(), s.begin() + 1, s.end() - 1);
  return r;
}
std::vector<Dim> dims_to_channels_last(const std::vector<Dim>& s) {
  std::vector<Dim> r{s[0]};
  r.insert(r.end(), s.begin() + 2, s.end());
  r.push_back(s[1]);
  return r;
}

// What the constant W became at creation.
struct NhwcWeights {
  enum class Kind { kPointwise, kDepthwise, kGeneral } kind = Kind::kGeneral;
  PackedGemmF32 packed_t;      // pointwise: W^T [C x M] packed as the GEMM's B (unless bf16_t is)
  PackedBf16GemmB bf16_t;      // pointwise, both sides channels-last, on the bf16 GEMM: W^T packed for it
  // pointwise, channels-last X to NCHW Y (a chain's last edge), on the bf16 GEMM: W packed as its A (conv_bf16)
  std::shared_ptr<const conv::Bf16ConvWeights> bf16_a;
  std::vector<float> taps;     // depthwise: [kH, kW, C]
  std::vector<int64_t> shape;  // W's shape
};

// The NCHW sides of a pointwise NhwcConv at a chain's edge (attributes nchw_input / nchw_output, 0 or 1): X, or Y
// and Z, channels-first, so the chain needs no Transpose there.
struct Layouts {
  bool nchw_input = false;
  bool nchw_output = false;
};

bool is_pointwise(const ConvAttributes& attrs, const std::vector<int64_t>& w_shape) {
  if (attrs.group != 1 || (attrs.auto_pad != conv::AutoPad::kNotSet && attrs.auto_pad != conv::AutoPad::kValid)) {
    return false;
  }
  for (size_t i = 2; i < w_shape.size(); ++i) {
    if (w_shape[i] != 1) return false;
  }
  return std::all_of(attrs.pads.begin(), attrs.pads.end(), [](int64_t v) { return v == 0; });
}

std::shared_ptr<const NhwcWeights> prepare_weights(const KernelInfo& info, const ConvAttributes& attrs,
                                                   const Layouts& layouts) {
  const Tensor* w = info.constant_input(1);
  if (w == nullptr || w->dtype() != DType::kFloat || w->rank() != 4) return nullptr;
  auto prepared = std::make_shared<NhwcWeights>();
  prepared->shape = w->shape();
  const int64_t m = w->dim(0), c = w->dim(1), kh = w->dim(2), kw = w->dim(3);
  if (is_pointwise(attrs, w->shape())) {
    prepared->kind = NhwcWeights::Kind::kPointwise;
    const bool bf16 = info.matmul_precision == MatMulPrecision::kBFloat16 && c >= conv::kBf16ConvMinDepth &&
                      m >= conv::kBf16ConvMinChannels && !layouts.nchw_input;
    if (bf16 && !layouts.nchw_output) {
      prepared->bf16_t = pack_bf16_gemm_b_f32(true, c, m, w->data<float>(), c);
    } else if (bf16) {
      prepared->bf16_a = conv::make_bf16_conv_weights(*w);
      prepared->packed_t = pack_gemm_b_f32(true, c, m, w->data<float>(), c);  // for strided ones (gathered x)
    } else {
      prepared->packed_t = pack_gemm_b_f32(true, c, m, w->data<float>(), c);
    }
    return prepared;
  }
  if (c == 1 && attrs.group == m) {
    prepared->kind = NhwcWeights::Kind::kDepthwise;
    prepared->taps.resize(static_cast<size_t>(kh * kw * m));
    const float* src = w->data<float>();
    for (int64_t ch = 0; ch < m; ++ch) {
      for (int64_t t = 0; t < kh * kw; ++t) prepared->taps[static_cast<size_t>(t * m + ch)] = src[ch * kh * kw + t];
    }
    return prepared;
  }
  return nullptr;  // the general path reads W as given
}

// Pointwise: one GEMM over every position of every image when both sides are channels-last; per image when one
// side is NCHW (`nchw_input`: A read transposed, as the NCHW Conv's transposed pointwise path does; `nchw_output`:
// the tiles stored transposed, and Z read so).
// With `accumulate`, y holds Z on entry (taken over in place) and the GEMM adds into it.
void run_pointwise(KernelContext& ctx, const ConvGeometry& g, const NhwcWeights& weights, const Layouts& layouts,
                   const float* bias, const float* z, const conv::FusedActivation& activation, float* y,
                   bool accumulate) {
  const float* x = ctx.input(0).data<float>();
  const int64_t c = g.in_channels, m = g.out_channels;
  const bool strided = g.in_size != g.out_size;
  thread_local std::vector<float> gathered;
  if (strided) {
    // 1x1 kernel, no pads: output (oh, ow) reads input (oh * sh, ow * sw); gathered in the input's layout.
    gathered.resize(static_cast<size_t>(g.batch * g.out_size * c));
    // The calling thread's buffer, by pointer: inside the lambda `gathered` would name each pool thread's own.
    float* const gathered_data = gathered.data();
    const int64_t in_h = g.in_dims[0], in_w = g.in_dims[1], out_h = g.out_dims[0], out_w = g.out_dims[1];
    const int64_t sh = g.strides[0], sw = g.strides[1];
    if (layouts.nchw_input) {
      conv::gather_strided_positions(g, x, g.batch * c, gathered_data, ctx.parallelism());
    } else {
      ctx.parallelism().parallel_for(g.batch * out_h, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t n = r / out_h, oh = r % out_h;
          const float* src = x + ((n * in_h + oh * sh) * in_w) * c;
          float* dst = gathered_data + r * out_w * c;
          for (int64_t ow = 0; ow < out_w; ++ow) std::copy_n(src + ow * sw * c, c, dst + ow * c);
        }
      });
    }
    x = gathered_data;
  }
  if (weights.bf16_a != nullptr && !strided) {
    // Channels-last X, NCHW Y: conv_bf16's NCHW orientation, W as A, each image's positions packed as B from X's
    // rows (transposed strips); Z (or y itself, holding Z) added in the epilogue.
    conv::conv_bf16(g, *weights.bf16_a, x, bias, accumulate ? y : z, activation.clamp_min, activation.clamp_max, y,
                    ctx.parallelism(), true);
    return;
  }
  if (!weights.bf16_t.empty()) {
    // Both sides channels-last (prepare_weights packs bf16_t only then): one bf16 GEMM over every position, x rounded
    // to bfloat16 as it is packed, Z (or y itself, holding Z) added in the epilogue.
    Bf16GemmEpilogue epilogue;
    epilogue.column_bias = bias;
    epilogue.min = activation.clamp_min;
    epilogue.max = activation.clamp_max;
    epilogue.sum = accumulate ? y : z;
    epilogue.sum_ld = m;
    bf16_gemm(g.batch * g.out_size, m, c, Bf16GemmA{nullptr, x, c}, weights.bf16_t, y, m, epilogue, &ctx.parallelism());
    return;
  }
  GemmEpilogueF32 epilogue;
  epilogue.column_bias = bias;
  epilogue.min = activation.clamp_min;
  epilogue.max = activation.clamp_max;
  epilogue.store_transposed = layouts.nchw_output;
  epilogue.sum_ld = layouts.nchw_output ? g.out_size : m;
  const GemmOperandF32 b{&weights.packed_t, nullptr, 0, false, nullptr};
  const int64_t image_in = (strided ? g.out_size : g.in_size) * c, image_out = g.out_size * m;
  const bool per_image = layouts.nchw_input || layouts.nchw_output;
  const int64_t images = per_image ? g.batch : 1;
  const int64_t rows = per_image ? g.out_size : g.batch * g.out_size;
  for (int64_t n = 0; n < images; ++n) {
    const GemmOperandF32 a =
        layouts.nchw_input ? GemmOperandF32{nullptr, x + n * image_in, strided ? g.out_size : g.in_size, true, nullptr}
                           : GemmOperandF32{nullptr, x + n * image_in, c, false, nullptr};
    epilogue.sum = z != nullptr ? z + n * image_out : nullptr;
    gemm_f32_packed(rows, m, c, 1.0f, a, b, accumulate ? 1.0f : 0.0f, y + n * image_out,
                    layouts.nchw_output ? g.out_size : m, &ctx.parallelism(), &epilogue);
  }
}

// Depthwise: rows x channel blocks of every image, split over the threads.
void run_depthwise(KernelContext& ctx, const ConvGeometry& g, const NhwcWeights& weights, const float* bias,
                   const float* z, const conv::FusedActivation& activation, float* y) {
  DwConvNhwcF32Params p;
  static_cast<Window2d&>(p) = window2d(g.in_dims, g.out_dims, g.kernel, g.strides, g.dilations, g.pad_begin);
  p.channels = g.in_channels;
  p.output_min = activation.clamp_min;
  p.output_max = activation.clamp_max;
  const float* x = ctx.input(0).data<float>();
  // Channel blocks of 64 floats: whole registers on every variant, and a block's rows stay in L1.
  constexpr int64_t kChannelBlock = 64;
  const int64_t channel_blocks = (p.channels + kChannelBlock - 1) / kChannelBlock;
  const int64_t in_image = g.in_size * g.in_channels, out_image = g.out_size * g.out_channels;
  const int64_t items = g.batch * p.out_h * channel_blocks;
  // Items ordered (image, channel block, row): a piece's consecutive rows of one block go in one call.
  ctx.parallelism().parallel_for_balanced(items, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end;) {
      const int64_t row = item % p.out_h;
      const int64_t block = item / p.out_h % channel_blocks;
      const int64_t n = item / p.out_h / channel_blocks;
      const int64_t rows = std::min(end - item, p.out_h - row);
      const int64_t c0 = block * kChannelBlock, c1 = std::min(p.channels, c0 + kChannelBlock);
      dwconv_nhwc_f32(p, x + n * in_image, weights.taps.data(), bias, z ? z + n * out_image : nullptr,
                      y + n * out_image, row, row + rows, c0, c1);
      item += rows;
    }
  });
}

// Any other convolution (or a depthwise one with an NCHW side): through NCHW with the Conv engine, then the sum
// and activation on the result in its own layout.
void run_general(KernelContext& ctx, const ConvGeometry& g, const Tensor& w, const Layouts& layouts, const float* bias,
                 const float* z, const conv::FusedActivation& activation, Tensor& y) {
  const Tensor x_nchw = layouts.nchw_input ? ctx.input(0) : channels_last_to_first(ctx.input(0), ctx.parallelism());
  Tensor y_nchw(DType::kFloat, {g.batch, g.out_channels, g.out_dims[0], g.out_dims[1]});
  conv::ConvF32Args args{g, x_nchw.data<float>(), w.data<float>(), nullptr, bias, y_nchw.data<float>()};
  conv::conv_f32(args, ctx.parallelism());
  const Tensor y_conv = layouts.nchw_output ? y_nchw : channels_first_to_last(y_nchw, ctx.parallelism());
  const float* src = y_conv.data<float>();
  float* out = y.data<float>();
  const int64_t count = y.element_count();
  for (int64_t i = 0; i < count; ++i) {
    const float r = src[i] + (z ? z[i] : 0.0f);
    out[i] = r < activation.clamp_min ? activation.clamp_min : (r > activation.clamp_max ? activation.clamp_max : r);
  }
}

std::unique_ptr<Kernel> make_nhwc_conv(const KernelInfo& info) {
  const ConvAttributes attrs = conv::parse_conv_attributes(info.node, false);
  const conv::FusedActivation activation = conv::parse_fused_activation(info.node);
  const Layouts layouts{info.node.attr_int("nchw_input", 0) != 0, info.node.attr_int("nchw_output", 0) != 0};
  std::shared_ptr<const NhwcWeights> prepared = prepare_weights(info, attrs, layouts);
  // A depthwise convolution with an NCHW side runs the general path, which reads W as given.
  if (prepared && prepared->kind == NhwcWeights::Kind::kDepthwise && (layouts.nchw_input || layouts.nchw_output)) {
    prepared = nullptr;
  }
  if (prepared) info.consume_constant_input(1);
  return make_kernel([attrs, activation, prepared, layouts](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const std::string& name = ctx.node().name;
    check_argument(x.dtype() == DType::kFloat && x.rank() == 4, "NhwcConv '", name, "': X ", tensor_text(x),
                   " must be a 4-D float32 tensor ", layouts.nchw_input ? "[N, C, H, W]" : "[N, H, W, C]");
    const Tensor* w = ctx.has_input(1) ? &ctx.input(1) : nullptr;
    const std::vector<int64_t>& w_shape = w ? w->shape() : prepared->shape;
    if (w != nullptr) {
      check_argument(w->dtype() == DType::kFloat, "NhwcConv '", name, "': W ", tensor_text(*w), " must be float32");
    }
    const ConvGeometry g =
        conv::conv_geometry(attrs, layouts.nchw_input ? x.shape() : to_channels_first(x.shape()), w_shape, "NhwcConv");
    const float* bias = nullptr;
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      check_argument(b.dtype() == DType::kFloat && b.rank() == 1 && b.dim(0) == g.out_channels, "NhwcConv '", name,
                     "': bias B ", tensor_text(b), " must be 1-D float32 with ", g.out_channels, " elements");
      bias = b.data<float>();
    }
    const std::vector<int64_t> y_shape =
        layouts.nchw_output ? std::vector<int64_t>{g.batch, g.out_channels, g.out_dims[0], g.out_dims[1]}
                            : std::vector<int64_t>{g.batch, g.out_dims[0], g.out_dims[1], g.out_channels};
    const bool use_prepared = prepared != nullptr && (w == nullptr || w->shape() == prepared->shape);
    const bool pointwise = use_prepared && prepared->kind == NhwcWeights::Kind::kPointwise;
    Tensor* over_z = pointwise && ctx.has_input(3) && shape_element_count(y_shape) > 0
                         ? ctx.output_over_input(0, 3, DType::kFloat, y_shape)
                         : nullptr;
    if (over_z != nullptr) {
      // Y takes over Z's memory and the GEMM adds into it (as Conv's FusedConv does; MobileNetV2's residuals).
      run_pointwise(ctx, g, *prepared, layouts, bias, nullptr, activation, over_z->data<float>(), true);
      conv::apply_fused_activation(activation, over_z->data<float>(), over_z->element_count(), ctx.parallelism());
      return;
    }
    const float* z = nullptr;
    if (ctx.has_input(3)) {
      const Tensor& zt = ctx.input(3);
      check_argument(zt.dtype() == DType::kFloat && zt.shape() == y_shape, "NhwcConv '", name, "': Z ", tensor_text(zt),
                     " must be float32 of the output's shape ", shape_text(y_shape));
      z = zt.data<float>();
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, y_shape);
    if (y.element_count() == 0) return;
    if (pointwise) {
      run_pointwise(ctx, g, *prepared, layouts, bias, z, activation, y.data<float>(), false);
    } else if (use_prepared && prepared->kind == NhwcWeights::Kind::kDepthwise) {
      run_depthwise(ctx, g, *prepared, bias, z, activation, y.data<float>());
    } else {
      check_argument(w != nullptr, "NhwcConv '", name, "': X ", tensor_text(x), " does not fit the weights ",
                     shape_text(w_shape), " prepared at creation");
      run_general(ctx, g, *w, layouts, bias, z, activation, y);
    }
    conv::apply_fused_activation(activation, y.data<float>(), y.element_count(), ctx.parallelism());
  });
}

// Y [N, OH, OW, M] from X [N, H, W, C]: Conv's inference on the channels-first view.
void infer_nhwc_conv(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  std::vector<const TypeInfo*> types;
  std::vector<const Tensor*> constants;
  TypeInfo x_first;
  const bool nchw_input = context.node().attr_int("nchw_input", 0) != 0;
  const bool nchw_output = context.node().attr_int("nchw_output", 0) != 0;
  if (!nchw_input && x != nullptr && x->shape && x->shape->size() == 4) {
    x_first = TypeInfo::tensor(x->elem_type, dims_to_channels_first(*x->shape));
    types.push_back(&x_first);
  } else {
    types.push_back(x);
  }
  constants.push_back(nullptr);  // X's layout differs; only W's and B's values matter to Conv's inference
  for (size_t i = 1; i < context.input_count(); ++i) {
    types.push_back(context.input_type(i));
    constants.push_back(context.input_constant(i));
  }
  InferenceContext first(context.node(), types, constants);
  conv::infer_conv_output(first, 1, DType::kUndefined);
  TypeInfo out = first.output_types().empty() ? TypeInfo() : first.output_types()[0];
  if (!nchw_output && out.shape && out.shape->size() == 4)
    out.shape = dims_to_channels_last(*out.shape);
  else if (x != nullptr && x->shape && x->shape->size() != 4)
    out.shape.reset();
  context.set_output_type(0, out);
}

const RegisterOp kNhwcConv{{.domain = "com.tessera",
                            .op_type = "NhwcConv",
                            .since_version = 1,
                            .last_version = INT_MAX,
                            .factory = make_nhwc_conv,
                            .infer = infer_nhwc_conv}};

}  // namespace
}  // namespace tessera

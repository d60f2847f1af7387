// ConvTranspose (opsets 1, 11, 22; one semantics here): N-D transposed convolution with groups, strides,
// dilations, pads, output_padding, output_shape and auto_pad, and an optional bias. float32 runs as the packed
// f32 GEMM (W^T x X, weights packed at kernel creation when W is a constant) followed by col2im;
// float16/bfloat16 compute through float32, double on plain loops.
#include <algorithm>
#include <climits>
#include <memory>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/conv_kernels.h"
#include "ops/linalg/linalg_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using conv::ConvAttributes;
using conv::ConvGeometry;

struct PackedWeights {
  std::vector<PackedGemmF32> groups;
  std::vector<int64_t> shape;
  const void* source = nullptr;
};

std::shared_ptr<const PackedWeights> pack_constant_weights(const KernelInfo& info, const ConvAttributes& attrs) {
  const Tensor* w = info.constant_input(1);
  if (w == nullptr || w->rank() < 3 || !(w->dtype() == DType::kFloat || linalg::is_staged_float(w->dtype()))) {
    return nullptr;
  }
  const int64_t in_channels = w->dim(0);
  if (in_channels % attrs.group != 0) return nullptr;
  const int64_t cg = in_channels / attrs.group;
  const int64_t rows = in_channels == 0 ? 0 : w->element_count() / in_channels;  // M/group * kernel size
  const Tensor values = linalg::to_float32(*w);
  auto packed = std::make_shared<PackedWeights>();
  for (int64_t g = 0; g < attrs.group; ++g) {
    packed->groups.push_back(pack_gemm_a_f32(true, rows, cg, values.data<float>() + g * cg * rows, rows));
  }
  packed->shape = w->shape();
  packed->source = w->raw_data();
  return packed;
}

// double has no f64 GEMM; ConvTranspose in double is rare, so it runs on plain loops.
void conv_transpose_double(KernelContext& ctx, const ConvGeometry& g, Tensor& y) {
  const double* x = ctx.input(0).data<double>();
  const double* w = ctx.input(1).data<double>();
  const double* bias = ctx.has_input(2) ? ctx.input(2).data<double>() : nullptr;
  double* out = y.data<double>();
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  const int64_t rows = mg * g.kernel_size;
  std::vector<double> col(static_cast<size_t>(rows * g.in_size));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      std::fill(col.begin(), col.end(), 0.0);
      for (int64_t c = 0; c < cg; ++c) {
        const double* xc = x + (n * g.in_channels + grp * cg + c) * g.in_size;
        const double* wc = w + (grp * cg + c) * rows;
        for (int64_t r = 0; r < rows; ++r) {
          double* col_row = col.data() + r * g.in_size;
          for (int64_t i = 0; i < g.in_size; ++i) col_row[i] += wc[r] * xc[i];
        }
      }
      double* yg = out + (n * g.out_channels + grp * mg) * g.out_size;
      for (int64_t m = 0; m < mg; ++m) {
        std::fill(yg + m * g.out_size, yg + (m + 1) * g.out_size, bias ? bias[grp * mg + m] : 0.0);
      }
      conv::col2im_add<double>(g, col.data(), mg, yg);
    }
  }
}

std::unique_ptr<Kernel> make_conv_transpose(const KernelInfo& info) {
  const ConvAttributes attrs = conv::parse_conv_attributes(info.node, true);
  std::shared_ptr<const PackedWeights> packed = pack_constant_weights(info, attrs);
  return make_kernel([attrs, packed](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const DType dtype = x.dtype();
    check_argument(dtype == DType::kFloat || dtype == DType::kDouble || linalg::is_staged_float(dtype),
                   "ConvTranspose does not support X ", tensor_text(x));
    check_argument(w.dtype() == dtype, "ConvTranspose W ", tensor_text(w), " must have the dtype of X ",
                   tensor_text(x));
    const ConvGeometry g = conv::conv_transpose_geometry(attrs, x.shape(), w.shape());
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      check_argument(b.dtype() == dtype && b.rank() == 1 && b.dim(0) == g.out_channels, "ConvTranspose bias B ",
                     tensor_text(b), " must be 1-D with ", g.out_channels, " elements of X's dtype");
    }
    std::vector<int64_t> y_shape{g.batch, g.out_channels};
    y_shape.insert(y_shape.end(), g.out_dims.begin(), g.out_dims.end());
    Tensor& y = ctx.allocate_output(0, dtype, y_shape);
    if (y.element_count() == 0) return;
    if (dtype == DType::kDouble) {
      conv_transpose_double(ctx, g, y);
      return;
    }
    const Tensor x32 = linalg::to_float32(x);
    const bool use_packed = packed != nullptr && packed->source == w.raw_data() && packed->shape == w.shape();
    const Tensor w32 = use_packed ? w : linalg::to_float32(w);
    const Tensor bias = ctx.has_input(2) ? linalg::to_float32(ctx.input(2)) : Tensor();
    Tensor y32 = dtype == DType::kFloat ? y : Tensor(DType::kFloat, y.shape());
    const conv::ConvF32Args args{g,
                                 x32.data<float>(),
                                 use_packed ? nullptr : w32.data<float>(),
                                 use_packed ? &packed->groups : nullptr,
                                 bias.defined() ? bias.data<float>() : nullptr,
                                 y32.data<float>()};
    conv::conv_transpose_f32(args, ctx.parallelism());
    if (dtype != DType::kFloat) ctx.set_output(0, linalg::from_float32(y32, dtype));
  });
}

void infer_conv_transpose(InferenceContext& context) { conv::infer_conv_transpose_output(context); }

const RegisterOp kConvTranspose{{.op_type = "ConvTranspose", .since_version = 1, .last_version = INT_MAX,
                                 .factory = make_conv_transpose, .infer = infer_conv_transpose}};

}  // namespace
}  // namespace tessera

// ConvInteger (opset 10) and QLinearConv (opset 10): convolution of 8-bit integer tensors with zero points (per
// tensor for x; per tensor or per output channel for w), accumulated exactly in int32 through im2col and an
// integer GEMM loop. QLinearConv adds the int32 bias, rescales by x_scale * w_scale / y_scale, rounds half to
// even and saturates to the output type.
#include <algorithm>
#include <climits>

#include "ops/conv/conv_common.h"
#include "ops/linalg/linalg_common.h"
#include "ops/linalg/quant_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using conv::ConvAttributes;
using conv::ConvGeometry;

// The int32 convolution of (x - x_zero_point) by (w - w_zero_point[m]) plus bias[m], as [N, M, out_size].
std::vector<int32_t> accumulate(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                                const std::vector<double>& w_zero_points, const int32_t* bias) {
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  const int64_t depth = cg * g.kernel_size;
  const std::vector<int32_t> xs = linalg::widen_minus_zero_point(x, {x_zero_point}, 1);
  const std::vector<int32_t> ws = linalg::widen_minus_zero_point(w, w_zero_points, std::max<int64_t>(depth, 1));
  std::vector<int32_t> col(static_cast<size_t>(depth * g.out_size));
  std::vector<int32_t> acc(static_cast<size_t>(g.batch * g.out_channels * g.out_size));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      conv::im2col<int32_t>(g, xs.data() + (n * g.in_channels + grp * cg) * g.in_size, cg, 0, col.data());
      int32_t* yg = acc.data() + (n * g.out_channels + grp * mg) * g.out_size;
      linalg::matmul_plain<int32_t>(mg, g.out_size, depth, ws.data() + grp * mg * depth, col.data(), yg);
      if (bias == nullptr) continue;
      for (int64_t m = 0; m < mg; ++m) {
        for (int64_t o = 0; o < g.out_size; ++o) {
          int32_t& v = yg[m * g.out_size + o];
          v = static_cast<int32_t>(static_cast<uint32_t>(v) + static_cast<uint32_t>(bias[grp * mg + m]));
        }
      }
    }
  }
  return acc;
}

std::vector<int64_t> output_shape(const ConvGeometry& g) {
  std::vector<int64_t> shape{g.batch, g.out_channels};
  shape.insert(shape.end(), g.out_dims.begin(), g.out_dims.end());
  return shape;
}

const Tensor* optional_input(KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

double scalar_parameter(const Tensor* tensor, const char* what) {
  const std::vector<double> values = linalg::tensor_values(tensor);
  check_argument(values.size() == 1, what, " must hold one value, got ", tensor ? tensor->description() : "");
  return values[0];
}

std::unique_ptr<Kernel> make_conv_integer(const KernelInfo& info) {
  const ConvAttributes attrs = conv::parse_conv_attributes(info.node, false);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    check_argument(linalg::is_int8_type(x.dtype()) && linalg::is_int8_type(w.dtype()),
                   "ConvInteger needs int8/uint8 inputs, got x ", x.description(), " and w ", w.description());
    const ConvGeometry g = conv::conv_geometry(attrs, x.shape(), w.shape(), "ConvInteger");
    const double x_zp = scalar_parameter(optional_input(ctx, 2), "ConvInteger x_zero_point");
    const std::vector<double> w_zp = linalg::expand_parameter(linalg::tensor_values(optional_input(ctx, 3)),
                                                              g.out_channels, "ConvInteger w_zero_point");
    Tensor& y = ctx.allocate_output(0, DType::kInt32, output_shape(g));
    if (y.element_count() == 0) return;
    const std::vector<int32_t> acc = accumulate(g, x, x_zp, w, w_zp, nullptr);
    std::copy(acc.begin(), acc.end(), y.data<int32_t>());
  });
}

std::unique_ptr<Kernel> make_qlinear_conv(const KernelInfo& info) {
  const ConvAttributes attrs = conv::parse_conv_attributes(info.node, false);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(3);
    check_argument(linalg::is_int8_type(x.dtype()) && linalg::is_int8_type(w.dtype()),
                   "QLinearConv needs int8/uint8 inputs, got x ", x.description(), " and w ", w.description());
    const ConvGeometry g = conv::conv_geometry(attrs, x.shape(), w.shape(), "QLinearConv");
    const double x_scale = scalar_parameter(&ctx.input(1), "QLinearConv x_scale");
    const double x_zp = scalar_parameter(optional_input(ctx, 2), "QLinearConv x_zero_point");
    const std::vector<double> w_scale =
        linalg::expand_parameter(linalg::tensor_values(&ctx.input(4)), g.out_channels, "QLinearConv w_scale");
    const std::vector<double> w_zp = linalg::expand_parameter(linalg::tensor_values(optional_input(ctx, 5)),
                                                              g.out_channels, "QLinearConv w_zero_point");
    const double y_scale = scalar_parameter(&ctx.input(6), "QLinearConv y_scale");
    const double y_zp = scalar_parameter(optional_input(ctx, 7), "QLinearConv y_zero_point");
    const DType out_dtype = ctx.has_input(7) ? ctx.input(7).dtype() : x.dtype();
    check_argument(linalg::is_int8_type(out_dtype), "QLinearConv y_zero_point must be int8 or uint8");
    const int32_t* bias = nullptr;
    if (ctx.has_input(8)) {
      const Tensor& b = ctx.input(8);
      check_argument(b.dtype() == DType::kInt32 && b.element_count() == g.out_channels, "QLinearConv bias B ",
                     b.description(), " must be int32 with ", g.out_channels, " elements");
      bias = b.data<int32_t>();
    }
    Tensor& y = ctx.allocate_output(0, out_dtype, output_shape(g));
    if (y.element_count() == 0) return;
    const std::vector<int32_t> acc = accumulate(g, x, x_zp, w, w_zp, bias);
    const DType scale_dtype = ctx.input(1).dtype();
    for (int64_t index = 0; index < y.element_count(); ++index) {
      const size_t m = static_cast<size_t>((index / g.out_size) % g.out_channels);
      const double scale = linalg::round_to_dtype(
          linalg::round_to_dtype(x_scale * w_scale[m], scale_dtype) / y_scale, scale_dtype);
      linalg::store_quantized(acc[static_cast<size_t>(index)] * scale, y_zp, y, index);
    }
  });
}

void infer_conv_integer(InferenceContext& context) { conv::infer_conv_output(context, 1, DType::kInt32); }

void infer_qlinear_conv(InferenceContext& context) {
  const TypeInfo* zp = context.input_type(7);
  const TypeInfo* x = context.input_type(0);
  const DType dtype = zp != nullptr && zp->is_tensor() ? zp->elem_type : (x ? x->elem_type : DType::kUndefined);
  conv::infer_conv_output(context, 3, dtype);
}

const RegisterOp kConvInteger{{.op_type = "ConvInteger", .since_version = 10, .last_version = INT_MAX,
                               .factory = make_conv_integer, .infer = infer_conv_integer}};
const RegisterOp kQLinearConv{{.op_type = "QLinearConv", .since_version = 10, .last_version = INT_MAX,
                               .factory = make_qlinear_conv, .infer = infer_qlinear_conv}};

}  // namespace
}  // namespace tessera

// com.microsoft QLinearGlobalAveragePool and QLinearConcat over int8/uint8, as ONNX Runtime computes them.
//   QLinearGlobalAveragePool(X, x_scale, x_zero_point, y_scale, y_zero_point), channels_last 0 ([N, C, spatial...])
//   or 1 ([N, spatial..., C]): per image and channel the exact int32 sum S of the plane's n values, then
//   Y = saturate(round_half_even(float(S - n * x_zero_point) * (x_scale / (y_scale * n))) + y_zero_point); the
//   spatial dims become 1.
//   QLinearConcat(Y_scale, Y_zero_point, X0, X0_scale, X0_zero_point, X1, ...) along `axis`: an input with Y's
//   scale and zero point is copied, any other requantized value by value (dequantize, then quantize with Y's).
#include <climits>
#include <cmath>
#include <cstring>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/quantization/quant_params.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using qlinear::QuantParam;

template <typename T>
void global_average(const T* x, T* y, int64_t batch, int64_t channels, int64_t plane, bool channels_last,
                    const QuantParam& in, const QuantParam& out, Parallelism& parallelism) {
  const float scale = in.scale / (out.scale * static_cast<float>(plane));
  const int32_t zero_sum = static_cast<int32_t>(in.zero_point) * static_cast<int32_t>(plane);
  parallelism.parallel_for(batch * channels, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      const int64_t n = index / channels, c = index % channels;
      int32_t sum = 0;
      if (channels_last) {
        const T* image = x + n * plane * channels + c;
        for (int64_t i = 0; i < plane; ++i) sum += image[i * channels];
      } else {
        const T* image = x + index * plane;
        for (int64_t i = 0; i < plane; ++i) sum += image[i];
      }
      const float q = std::nearbyint(static_cast<float>(sum - zero_sum) * scale) + out.zero_point;
      y[index] = static_cast<T>(qlinear::saturate_q8(q, std::is_same_v<T, int8_t>));
    }
  });
}

std::unique_ptr<Kernel> make_qlinear_global_average_pool(const KernelInfo& info) {
  const bool channels_last = info.node.attr_int("channels_last", 0) != 0;
  return make_kernel([channels_last](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(qlinear::is_q8(x.dtype()) && x.rank() >= 3, "QLinearGlobalAveragePool: input X ", tensor_text(x),
                   " must be int8 or uint8 of rank >= 3");
    const QuantParam in = qlinear::read_param(ctx, 1, 2, x.dtype(), "X");
    const QuantParam out = qlinear::read_param(ctx, 3, 4, x.dtype(), "Y");
    const size_t channel_axis = channels_last ? x.rank() - 1 : 1;
    std::vector<int64_t> shape = x.shape();
    int64_t plane = 1;
    for (size_t i = 1; i < x.rank(); ++i) {
      if (i == channel_axis) continue;
      plane *= shape[i];
      shape[i] = 1;
    }
    check_argument(plane > 0, "QLinearGlobalAveragePool: input X ", tensor_text(x), " has an empty spatial size");
    Tensor& y = ctx.allocate_output_uninitialized(0, x.dtype(), shape);
    const int64_t batch = x.dim(0), channels = x.dim(channel_axis);
    if (x.dtype() == DType::kInt8) {
      global_average(x.data<int8_t>(), y.data<int8_t>(), batch, channels, plane, channels_last, in, out,
                     ctx.parallelism());
    } else {
      global_average(x.data<uint8_t>(), y.data<uint8_t>(), batch, channels, plane, channels_last, in, out,
                     ctx.parallelism());
    }
  });
}

void infer_qlinear_global_average_pool(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  TypeInfo out = TypeInfo::tensor(x->elem_type);
  const bool channels_last = context.node().attr_int("channels_last", 0) != 0;
  if (x->shape && x->shape->size() >= 3) {
    std::vector<Dim> dims = *x->shape;
    const size_t channel_axis = channels_last ? dims.size() - 1 : 1;
    for (size_t i = 1; i < dims.size(); ++i) {
      if (i != channel_axis) dims[i] = Dim::known(1);
    }
    out.shape = dims;
  }
  context.set_output_type(0, out);
}

std::unique_ptr<Kernel> make_qlinear_concat(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", 0);
  return make_kernel([axis_attr](KernelContext& ctx) {
    check_argument(ctx.input_count() >= 5 && (ctx.input_count() - 2) % 3 == 0,
                   "QLinearConcat takes Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples, got ",
                   ctx.input_count(), " inputs");
    const Tensor& y_zero = ctx.input(1);
    check_argument(qlinear::is_q8(y_zero.dtype()), "QLinearConcat: Y_zero_point ", tensor_text(y_zero),
                   " must be int8 or uint8");
    const DType dtype = y_zero.dtype();
    const bool is_signed = dtype == DType::kInt8;
    const QuantParam out = qlinear::read_param(ctx, 0, 1, dtype, "Y");
    const size_t count = (ctx.input_count() - 2) / 3;
    const Tensor& first = ctx.input(2);
    const int64_t axis = normalize_axis(axis_attr, static_cast<int64_t>(first.rank()));
    std::vector<int64_t> shape = first.shape();
    shape[static_cast<size_t>(axis)] = 0;
    for (size_t i = 0; i < count; ++i) {
      const Tensor& x = ctx.input(2 + 3 * i);
      check_argument(x.dtype() == dtype && x.rank() == first.rank(), "QLinearConcat: input ", i, " ", tensor_text(x),
                     " must be ", dtype_name(dtype), " of rank ", first.rank());
      for (size_t d = 0; d < x.rank(); ++d) {
        check_argument(static_cast<int64_t>(d) == axis || x.dim(d) == first.dim(d), "QLinearConcat: input ", i, " ",
                       tensor_text(x), " does not match input 0 ", tensor_text(first), " outside axis ", axis);
      }
      shape[static_cast<size_t>(axis)] += x.dim(static_cast<size_t>(axis));
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, dtype, shape);
    const int64_t outer = tensor_ops::product(shape, 0, static_cast<size_t>(axis));
    const int64_t inner = tensor_ops::product(shape, static_cast<size_t>(axis) + 1, shape.size());
    const int64_t out_row = shape[static_cast<size_t>(axis)] * inner;
    uint8_t* dst = static_cast<uint8_t*>(y.raw_data());
    int64_t offset = 0;
    for (size_t i = 0; i < count; ++i) {
      const Tensor& x = ctx.input(2 + 3 * i);
      const QuantParam in = qlinear::read_param(ctx, 3 + 3 * i, 4 + 3 * i, dtype, "X");
      const bool same = in.scale == out.scale && in.zero_point == out.zero_point;
      uint8_t table[256];
      if (!same)
        qlinear::build_lookup_table(
            in, out, is_signed, [](float v) { return v; }, table);
      const int64_t row = x.dim(static_cast<size_t>(axis)) * inner;
      const uint8_t* src = static_cast<const uint8_t*>(x.raw_data());
      for (int64_t o = 0; o < outer; ++o) {
        uint8_t* to = dst + o * out_row + offset;
        const uint8_t* from = src + o * row;
        if (same) {
          std::memcpy(to, from, static_cast<size_t>(row));
        } else {
          for (int64_t j = 0; j < row; ++j) to[j] = table[from[j]];
        }
      }
      offset += row;
    }
  });
}

void infer_qlinear_concat(InferenceContext& context) {
  const TypeInfo* zero = context.input_type(1);
  if (zero == nullptr || !zero->is_tensor()) return;
  context.set_output_type(0, TypeInfo::tensor(zero->elem_type));
}

const RegisterOp kQLinearGlobalAveragePool{{.domain = kMicrosoftDomain,
                                            .op_type = "QLinearGlobalAveragePool",
                                            .since_version = 1,
                                            .last_version = INT_MAX,
                                            .factory = make_qlinear_global_average_pool,
                                            .infer = infer_qlinear_global_average_pool}};
const RegisterOp kQLinearConcat{{.domain = kMicrosoftDomain,
                                 .op_type = "QLinearConcat",
                                 .since_version = 1,
                                 .last_version = INT_MAX,
                                 .factory = make_qlinear_concat,
                                 .infer = infer_qlinear_concat}};

}  // namespace
}  // namespace tessera

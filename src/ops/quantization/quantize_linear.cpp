// QuantizeLinear, DequantizeLinear (per-tensor, per-axis and blocked; integer, float8 and 4/2-bit types) and
// DynamicQuantizeLinear. float32 <-> int8/uint8 with float32 scales, per tensor or per axis (what static INT8
// models in the QDQ format run between their fused groups) takes the q8-convert kernels, in parallel blocks for
// large tensors; every other combination takes the general path, which widens through double. Both give the same
// bytes: x / scale in float, rounded half to even, plus the zero point, saturated; a NaN quotient becomes the zero
// point (the reference's cast of NaN is undefined).
#include <algorithm>
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "base/parallel.h"
#include "kernels/q8-convert/q8-convert.h"
#include "kernels/qu8-quantize/qu8-quantize.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Maps each element of x to the index of its scale / zero point.
struct ScaleIndexer {
  enum class Mode { kPerTensor, kPerAxis, kBlocked } mode = Mode::kPerTensor;
  int64_t axis_dim = 1, inner = 1, block = 1, scale_axis_dim = 1;

  ScaleIndexer(const Tensor& x, const Tensor& scale, int64_t axis_attr, int64_t block_size) {
    if (scale.element_count() == 1 && scale.rank() <= 1 && block_size == 0) return;
    const int64_t rank = static_cast<int64_t>(x.rank());
    const int64_t axis = normalize_axis(axis_attr, rank);
    axis_dim = x.dim(axis);
    for (int64_t i = axis + 1; i < rank; ++i) inner *= x.dim(i);
    if (block_size > 0) {
      check_argument(scale.rank() == x.rank(), "blocked quantization needs a scale of rank ", x.rank(), ", got ",
                     tensor_text(scale));
      mode = Mode::kBlocked;
      block = block_size;
      scale_axis_dim = scale.dim(axis);
      check_argument(scale_axis_dim * block >= axis_dim, "scale ", tensor_text(scale), " with block_size ", block_size,
                     " does not cover dimension ", axis_dim);
      return;
    }
    check_argument(scale.rank() == 1 && scale.dim(0) == axis_dim, "per-axis scale must be 1-D of length ", axis_dim,
                   ", got ", tensor_text(scale));
    mode = Mode::kPerAxis;
  }

  int64_t operator()(int64_t i) const {
    if (mode == Mode::kPerTensor) return 0;
    const int64_t a = (i / inner) % axis_dim;
    if (mode == Mode::kPerAxis) return a;
    const int64_t outer = i / (inner * axis_dim);
    return (outer * scale_axis_dim + a / block) * inner + i % inner;
  }
};

std::vector<double> read_as_double(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.element_count()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::complex<float>> ||
                  std::is_same_v<T, std::complex<double>>) {
      fail(ErrorCode::kInvalidArgument, "cannot quantize ", t.description());
    } else {
      for (int64_t i = 0; i < t.element_count(); ++i) out[i] = element_to_double(t.data<T>()[i]);
    }
  });
  return out;
}

bool is_q8(DType d) { return d == DType::kInt8 || d == DType::kUint8; }

// The float32 scales and int8/uint8 zero points of a per-tensor or per-axis q8 conversion, laid out for the
// q8-convert kernels: one value per channel, or, where a channel's runs are short (per-axis along an inner axis,
// such as the columns of a MatMul weight), expanded to one value per element of a run of axis_dim * inner elements
// (`row`), so each row is one kernel call.
struct Q8Parameters {
  int64_t run = 0;  // elements per kernel call at most (the tensor, a channel's run, or a row)
  bool row = false;
  std::vector<float> scale, zero_point;

  Q8Parameters(const ScaleIndexer& index, int64_t n, const Tensor& scales, const Tensor* zps) {
    const int64_t count = scales.element_count();
    std::vector<float> zp(static_cast<size_t>(count), 0.0f);
    for (int64_t i = 0; zps != nullptr && i < count; ++i) {
      zp[i] = zps->dtype() == DType::kInt8 ? zps->data<int8_t>()[i] : zps->data<uint8_t>()[i];
    }
    const float* s = scales.data<float>();
    constexpr int64_t kShortRun = 64;
    if (index.mode == ScaleIndexer::Mode::kPerTensor) {
      run = n;
    } else if (index.inner >= kShortRun) {
      run = index.inner;
    } else {
      run = index.axis_dim * index.inner;
      row = true;
      for (int64_t c = 0; c < index.axis_dim; ++c) {
        scale.insert(scale.end(), static_cast<size_t>(index.inner), s[c]);
        zero_point.insert(zero_point.end(), static_cast<size_t>(index.inner), zp[c]);
      }
      return;
    }
    scale.assign(s, s + count);
    zero_point = std::move(zp);
  }
};

// Calls fn(begin, end, scale, zero_point, row) over the elements [0, n) in runs of one parameter layout: scale and
// zero_point point at one value for the run, or (row) at one value per element; tensors of more than one block go
// over the thread pool in blocks.
template <typename Fn>
void for_each_scale_run(const ScaleIndexer& index, const Q8Parameters& p, int64_t n, Parallelism& parallelism,
                        const Fn& fn) {
  if (n == 0) return;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end;) {
      const int64_t run_end = std::min(end, (i / p.run + 1) * p.run);
      const size_t k = static_cast<size_t>(p.row ? i % p.run : (i / p.run) % index.axis_dim);
      fn(i, run_end, p.scale.data() + k, p.zero_point.data() + k, p.row);
      i = run_end;
    }
  };
  constexpr int64_t kBlock = int64_t{1} << 15;
  if (n <= kBlock || parallelism.thread_count() <= 1) {
    body(0, n);
    return;
  }
  parallelism.parallel_for((n + kBlock - 1) / kBlock,
                           [&](int64_t b, int64_t e) { body(b * kBlock, std::min(n, e * kBlock)); });
}

// Integer range of a quantized integer type.
std::pair<double, double> integer_range(DType d) {
  switch (d) {
    case DType::kUint8:
      return {0, 255};
    case DType::kInt8:
      return {-128, 127};
    case DType::kUint16:
      return {0, 65535};
    case DType::kInt16:
      return {-32768, 32767};
    case DType::kInt32:
      return {-2147483648.0, 2147483647.0};
    case DType::kUint4:
      return {0, 15};
    case DType::kInt4:
      return {-8, 7};
    case DType::kUint2:
      return {0, 3};
    case DType::kInt2:
      return {-2, 1};
    default:
      return {0, 0};
  }
}

std::unique_ptr<Kernel> make_quantize(const KernelInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 1);
  const int64_t block_size = info.opset >= 21 ? info.node.attr_int("block_size", 0) : 0;
  const bool saturate = info.node.attr_int("saturate", 1) != 0;
  const int64_t output_dtype = info.node.attr_int("output_dtype", 0);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& scale = ctx.input(1);
    DType out_type = output_dtype != 0 ? static_cast<DType>(output_dtype) : DType::kUint8;
    std::vector<double> zero_points(static_cast<size_t>(scale.element_count()), 0.0);
    if (ctx.has_input(2)) {
      const Tensor& zp = ctx.input(2);
      out_type = zp.dtype();
      check_argument(zp.element_count() == scale.element_count(), "zero point ", tensor_text(zp), " must match scale ",
                     tensor_text(scale));
      zero_points = read_as_double(zp);
    }
    const ScaleIndexer index(x, scale, axis, block_size);
    if (x.dtype() == DType::kFloat && scale.dtype() == DType::kFloat && is_q8(out_type) &&
        index.mode != ScaleIndexer::Mode::kBlocked) {
      const Q8Parameters p(index, x.element_count(), scale, ctx.has_input(2) ? &ctx.input(2) : nullptr);
      Tensor& y = ctx.allocate_output_uninitialized(0, out_type, x.shape());
      const float* in = x.data<float>();
      const bool is_signed = out_type == DType::kInt8;
      void* out = y.raw_data();
      for_each_scale_run(index, p, x.element_count(), ctx.parallelism(),
                         [&](int64_t b, int64_t e, const float* s, const float* z, bool row) {
                           if (is_signed) {
                             int8_t* o = static_cast<int8_t*>(out) + b;
                             row ? q8_quantize_s8_row(in + b, e - b, s, z, o)
                                 : q8_quantize_s8(in + b, e - b, *s, static_cast<int32_t>(*z), o);
                           } else {
                             uint8_t* o = static_cast<uint8_t*>(out) + b;
                             row ? q8_quantize_u8_row(in + b, e - b, s, z, o)
                                 : q8_quantize_u8(in + b, e - b, *s, static_cast<int32_t>(*z), o);
                           }
                         });
      return;
    }
    const std::vector<double> scales = read_as_double(scale);
    const std::vector<double> values = read_as_double(x);
    Tensor& y = ctx.allocate_output(0, out_type, x.shape());
    const bool to_float = dtype_is_float(out_type);
    // Plain variables, not a structured binding: clang 14 (the fuzz build) cannot capture those in lambdas.
    const std::pair<double, double> range = integer_range(out_type);
    const double lo = range.first, hi = range.second;
    check_argument(to_float || hi > lo, "cannot quantize to ", dtype_name(out_type));
    visit_dtype(out_type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsNarrowFloat<T>) {
        for (int64_t i = 0; i < x.element_count(); ++i) {
          const int64_t s = index(i);
          const float q =
              static_cast<float>(static_cast<float>(values[i]) / static_cast<float>(scales[s]) + zero_points[s]);
          T out;
          out.bits = float_to_narrow_float(out_type, q, saturate);
          y.data<T>()[i] = out;
        }
      } else if constexpr (std::is_integral_v<T> || kIsSubByteInt<T>) {
        for (int64_t i = 0; i < x.element_count(); ++i) {
          const int64_t s = index(i);
          const float scaled = static_cast<float>(values[i]) / static_cast<float>(scales[s]);
          // A NaN quotient becomes the zero point, as on the q8-convert path.
          const double q =
              std::isnan(scaled) ? zero_points[s] : std::nearbyint(static_cast<double>(scaled)) + zero_points[s];
          y.data<T>()[i] = element_from_double<T>(std::clamp(q, lo, hi));
        }
      }
    });
  });
}

std::unique_ptr<Kernel> make_dequantize(const KernelInfo& info) {
  const int64_t axis = info.node.attr_int("axis", 1);
  const int64_t block_size = info.opset >= 21 ? info.node.attr_int("block_size", 0) : 0;
  const int64_t output_dtype = info.node.attr_int("output_dtype", 0);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& scale = ctx.input(1);
    std::vector<double> zero_points(static_cast<size_t>(scale.element_count()), 0.0);
    if (ctx.has_input(2)) {
      check_argument(ctx.input(2).element_count() == scale.element_count(), "zero point ", tensor_text(ctx.input(2)),
                     " must match scale ", tensor_text(scale));
      zero_points = read_as_double(ctx.input(2));
    }
    const ScaleIndexer index(x, scale, axis, block_size);
    const bool zp_matches = !ctx.has_input(2) || ctx.input(2).dtype() == x.dtype();
    if (is_q8(x.dtype()) && zp_matches && scale.dtype() == DType::kFloat &&
        (output_dtype == 0 || output_dtype == static_cast<int64_t>(DType::kFloat)) &&
        index.mode != ScaleIndexer::Mode::kBlocked) {
      const Q8Parameters p(index, x.element_count(), scale, ctx.has_input(2) ? &ctx.input(2) : nullptr);
      Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, x.shape());
      const bool is_signed = x.dtype() == DType::kInt8;
      const void* in = x.raw_data();
      float* out = y.data<float>();
      for_each_scale_run(index, p, x.element_count(), ctx.parallelism(),
                         [&](int64_t b, int64_t e, const float* s, const float* z, bool row) {
                           if (is_signed) {
                             const int8_t* i8 = static_cast<const int8_t*>(in) + b;
                             row ? q8_dequantize_s8_row(i8, e - b, s, z, out + b)
                                 : q8_dequantize_s8(i8, e - b, *s, static_cast<int32_t>(*z), out + b);
                           } else {
                             const uint8_t* u8 = static_cast<const uint8_t*>(in) + b;
                             row ? q8_dequantize_u8_row(u8, e - b, s, z, out + b)
                                 : q8_dequantize_u8(u8, e - b, *s, static_cast<int32_t>(*z), out + b);
                           }
                         });
      return;
    }
    const std::vector<double> scales = read_as_double(scale);
    const std::vector<double> values = read_as_double(x);
    const DType out_type = output_dtype != 0 ? static_cast<DType>(output_dtype)
                           : x.dtype() == DType::kInt32 && scale.dtype() != DType::kFloat8E8M0 ? scale.dtype()
                           : scale.dtype() == DType::kFloat8E8M0                               ? DType::kFloat
                                                                                               : scale.dtype();
    Tensor& y = ctx.allocate_output(0, out_type, x.shape());
    visit_dtype(out_type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
        for (int64_t i = 0; i < x.element_count(); ++i) {
          const int64_t s = index(i);
          const float v = static_cast<float>(values[i] - zero_points[s]) * static_cast<float>(scales[s]);
          y.data<T>()[i] = element_from_double<T>(v);
        }
      } else {
        fail(ErrorCode::kInvalidArgument, "cannot dequantize to ", dtype_name(out_type));
      }
    });
  });
}

std::unique_ptr<Kernel> make_dynamic_quantize(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() == DType::kFloat, "x must be float, got ", tensor_text(x));
    const DynamicQuantU8 q = dynamic_quant_u8_params(x.data<float>(), x.element_count(), &ctx.parallelism());
    Tensor& y = ctx.allocate_output(0, DType::kUint8, x.shape());
    quantize_u8(x.data<float>(), x.element_count(), q, y.data<uint8_t>(), &ctx.parallelism());
    ctx.set_output(1, Tensor::scalar<float>(DType::kFloat, q.scale));
    ctx.set_output(2, Tensor::scalar<uint8_t>(DType::kUint8, q.zero_point));
  });
}

const RegisterOp kQuantizeLinear{{.op_type = "QuantizeLinear", .since_version = 10, .factory = make_quantize}};
const RegisterOp kDequantizeLinear{{.op_type = "DequantizeLinear", .since_version = 10, .factory = make_dequantize}};
const RegisterOp kDynamicQuantizeLinear{
    {.op_type = "DynamicQuantizeLinear", .since_version = 11, .factory = make_dynamic_quantize}};

}  // namespace
}  // namespace tessera

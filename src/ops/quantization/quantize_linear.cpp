// QuantizeLinear, DequantizeLinear (per-tensor, per-axis and blocked; integer, float8 and 4/2-bit types) and
// DynamicQuantizeLinear.
#include <algorithm>
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
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
      check_argument(scale.rank() == x.rank(), "blocked quantization needs a scale of rank ", x.rank(), ", got ", scale.description());
      mode = Mode::kBlocked;
      block = block_size;
      scale_axis_dim = scale.dim(axis);
      check_argument(scale_axis_dim * block >= axis_dim, "scale ", scale.description(), " with block_size ", block_size,
                     " does not cover dimension ", axis_dim);
      return;
    }
    check_argument(scale.rank() == 1 && scale.dim(0) == axis_dim, "per-axis scale must be 1-D of length ", axis_dim,
                   ", got ", scale.description());
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

// Integer range of a quantized integer type.
std::pair<double, double> integer_range(DType d) {
  switch (d) {
    case DType::kUint8: return {0, 255};
    case DType::kInt8: return {-128, 127};
    case DType::kUint16: return {0, 65535};
    case DType::kInt16: return {-32768, 32767};
    case DType::kInt32: return {-2147483648.0, 2147483647.0};
    case DType::kUint4: return {0, 15};
    case DType::kInt4: return {-8, 7};
    case DType::kUint2: return {0, 3};
    case DType::kInt2: return {-2, 1};
    default: return {0, 0};
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
      check_argument(zp.element_count() == scale.element_count(), "zero point ", zp.description(),
                     " must match scale ", scale.description());
      zero_points = read_as_double(zp);
    }
    const ScaleIndexer index(x, scale, axis, block_size);
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
          const float q = static_cast<float>(static_cast<float>(values[i]) / static_cast<float>(scales[s]) + zero_points[s]);
          T out;
          out.bits = float_to_narrow_float(out_type, q, saturate);
          y.data<T>()[i] = out;
        }
      } else if constexpr (std::is_integral_v<T> || kIsSubByteInt<T>) {
        for (int64_t i = 0; i < x.element_count(); ++i) {
          const int64_t s = index(i);
          const float scaled = static_cast<float>(values[i]) / static_cast<float>(scales[s]);
          const double q = std::nearbyint(static_cast<double>(scaled)) + zero_points[s];
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
      check_argument(ctx.input(2).element_count() == scale.element_count(), "zero point ", ctx.input(2).description(),
                     " must match scale ", scale.description());
      zero_points = read_as_double(ctx.input(2));
    }
    const ScaleIndexer index(x, scale, axis, block_size);
    const std::vector<double> scales = read_as_double(scale);
    const std::vector<double> values = read_as_double(x);
    const DType out_type = output_dtype != 0 ? static_cast<DType>(output_dtype)
                           : x.dtype() == DType::kInt32 && scale.dtype() != DType::kFloat8E8M0 ? scale.dtype()
                           : scale.dtype() == DType::kFloat8E8M0 ? DType::kFloat : scale.dtype();
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
    check_argument(x.dtype() == DType::kFloat, "x must be float, got ", x.description());
    const DynamicQuantU8 q = dynamic_quant_u8_params(x.data<float>(), x.element_count());
    Tensor& y = ctx.allocate_output(0, DType::kUint8, x.shape());
    quantize_u8(x.data<float>(), x.element_count(), q, y.data<uint8_t>());
    ctx.set_output(1, Tensor::scalar<float>(DType::kFloat, q.scale));
    ctx.set_output(2, Tensor::scalar<uint8_t>(DType::kUint8, q.zero_point));
  });
}

const RegisterOp kQuantizeLinear{{.op_type = "QuantizeLinear", .since_version = 10, .factory = make_quantize}};
const RegisterOp kDequantizeLinear{{.op_type = "DequantizeLinear", .since_version = 10, .factory = make_dequantize}};
const RegisterOp kDynamicQuantizeLinear{{.op_type = "DynamicQuantizeLinear", .since_version = 11, .factory = make_dynamic_quantize}};

}  // namespace
}  // namespace tessera

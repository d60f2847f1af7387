#include "ops/linalg/quant_common.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/dtype_dispatch.h"
#include "kernels/q8-gemm/q8_gemm.h"

namespace tessera::linalg {

bool is_int8_type(DType dtype) { return dtype == DType::kInt8 || dtype == DType::kUint8; }

bool is_qlinear_type(DType dtype) {
  return is_int8_type(dtype) || dtype == DType::kFloat8E4M3FN || dtype == DType::kFloat8E4M3FNUZ ||
         dtype == DType::kFloat8E5M2 || dtype == DType::kFloat8E5M2FNUZ;
}

std::vector<double> tensor_values(const Tensor* tensor) {
  if (tensor == nullptr) return {0.0};
  std::vector<double> values(static_cast<size_t>(tensor->element_count()));
  visit_dtype(tensor->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::complex<float>> ||
                  std::is_same_v<T, std::complex<double>>) {
      fail(ErrorCode::kInvalidArgument, "expected a numeric tensor, got ", tensor->description());
    } else {
      const T* data = tensor->data<T>();
      for (size_t i = 0; i < values.size(); ++i) values[i] = element_to_double(data[i]);
    }
  });
  return values;
}

std::vector<double> expand_parameter(const std::vector<double>& values, int64_t count, const char* what) {
  if (values.size() == 1) return std::vector<double>(static_cast<size_t>(count), values[0]);
  check_argument(static_cast<int64_t>(values.size()) == count, what, " has ", values.size(),
                 " values; expected 1 or ", count);
  return values;
}

std::vector<int32_t> widen_minus_zero_point(const Tensor& tensor, const std::vector<double>& zero_points,
                                            int64_t inner) {
  const int64_t count = tensor.element_count();
  std::vector<int32_t> out(static_cast<size_t>(count));
  std::vector<int32_t> zp(zero_points.begin(), zero_points.end());
  const int64_t blocks = static_cast<int64_t>(zp.size());
  auto widen = [&](auto* data) {
    for (int64_t i = 0; i < count; ++i) {
      const int32_t z = blocks == 1 ? zp[0] : zp[static_cast<size_t>((i / inner) % blocks)];
      out[static_cast<size_t>(i)] = static_cast<int32_t>(data[i]) - z;
    }
  };
  if (tensor.dtype() == DType::kUint8) widen(tensor.data<uint8_t>());
  else if (tensor.dtype() == DType::kInt8) widen(tensor.data<int8_t>());
  else fail(ErrorCode::kInvalidArgument, "expected an int8 or uint8 tensor, got ", tensor.description());
  return out;
}

void store_quantized(double value, double zero_point, Tensor& out, int64_t index) {
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
      const double rounded = std::nearbyint(value) + zero_point;
      const double clamped = std::clamp(rounded, static_cast<double>(std::numeric_limits<T>::min()),
                                        static_cast<double>(std::numeric_limits<T>::max()));
      out.data<T>()[index] = static_cast<T>(clamped);
    } else if constexpr (kIsNarrowFloat<T>) {
      out.data<T>()[index] = element_from_double<T>(value + zero_point);
    } else {
      fail(ErrorCode::kInvalidArgument, "cannot quantize to ", out.description());
    }
  });
}

bool runs_always_take_q8_gemm(const KernelInfo& info, size_t zp_index) {
  const DType dtype = info.input_types.empty() ? DType::kUndefined : info.input_types[0].elem_type;
  const Tensor* zero_point = info.constant_input(zp_index);
  return is_int8_type(dtype) && (!info.node.has_input(zp_index) ||
                                 (zero_point != nullptr && fit_in_8bit_type(tensor_values(zero_point), dtype)));
}

int64_t WeightsInput::element_count() const {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

std::string WeightsInput::description() const {
  return tensor != nullptr ? tensor->description() : dtype_name(dtype) + shape_to_string(shape);
}

WeightsInput weights_input(KernelContext& ctx, size_t index, DType packed_dtype,
                           const std::vector<int64_t>* packed_shape) {
  if (packed_shape != nullptr && !ctx.has_input(index)) return {nullptr, packed_dtype, *packed_shape};
  const Tensor& w = ctx.input(index);
  return {&w, w.dtype(), w.shape()};
}

bool fit_in_8bit_type(const std::vector<double>& values, DType dtype) {
  const double low = dtype == DType::kInt8 ? -128 : 0, high = dtype == DType::kInt8 ? 127 : 255;
  return std::all_of(values.begin(), values.end(), [&](double v) { return v >= low && v <= high; });
}

void requantize(const int32_t* values, int64_t count, const double* scales, int64_t scale_stride, double zero_point,
                Tensor& out, int64_t offset) {
  if (is_int8_type(out.dtype()) && std::nearbyint(zero_point) == zero_point &&
      fit_in_8bit_type({zero_point}, out.dtype())) {
    q8_requantize(values, count, scales, scale_stride, zero_point, out.dtype() == DType::kInt8,
                  static_cast<uint8_t*>(out.raw_data()) + offset);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    store_quantized(static_cast<double>(values[i]) * scales[i * scale_stride], zero_point, out, offset + i);
  }
}

double round_to_dtype(double value, DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return half_to_float(float_to_half(static_cast<float>(value)));
    case DType::kBFloat16: return bfloat16_to_float(float_to_bfloat16(static_cast<float>(value)));
    case DType::kDouble: return value;
    default: return static_cast<float>(value);
  }
}

}  // namespace tessera::linalg

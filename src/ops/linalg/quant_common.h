// Helpers for the integer and quantized linear-algebra and convolution operators (MatMulInteger,
// QLinearMatMul, ConvInteger, QLinearConv): zero points, scales, and requantization.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "ops/kernel.h"

namespace tessera::linalg {

// True for int8 and uint8.
bool is_int8_type(DType dtype);
// True for int8, uint8 and the four float8 types (QLinearMatMul-21's T1/T2/T3).
bool is_qlinear_type(DType dtype);

// The values of a zero-point or scale tensor as doubles (any numeric dtype, narrow floats decoded). An absent
// tensor (nullptr) reads as {0}.
std::vector<double> tensor_values(const Tensor* tensor);

// Per-block values for a quantization parameter: `values` must hold 1 value (per tensor) or `count` values
// (one per row, column or channel); the result always holds `count`. Throws kInvalidArgument naming `what`.
std::vector<double> expand_parameter(const std::vector<double>& values, int64_t count, const char* what);

// Widens an 8-bit tensor to int32, subtracting zero_points[(i / inner) % zero_points.size()] from element i
// (one zero point per block of `inner` consecutive elements, cycling).
std::vector<int32_t> widen_minus_zero_point(const Tensor& tensor, const std::vector<double>& zero_points,
                                            int64_t inner);

// Quantizes `value` (already divided by the output scale) into element `index` of `out`: for int8/uint8, rounds
// to nearest (ties to even), then adds `zero_point` and saturates, as the spec orders it; for float8 types,
// adds `zero_point` and converts with saturation.
void store_quantized(double value, double zero_point, Tensor& out, int64_t index);

// True when every value lies in the range of `dtype` (int8 or uint8): zero points the q8 GEMM takes as they are.
bool fit_in_8bit_type(const std::vector<double>& values, DType dtype);

// True when the node's input 0 is known to be int8/uint8 with its zero point (input zp_index) absent or a
// constant in range: every run then takes the q8 GEMM, so a kernel holding packed constant weights may consume
// them (KernelInfo::consume_constant_input).
bool runs_always_take_q8_gemm(const KernelInfo& info, size_t zp_index);

// A weights input as a run sees it: the tensor, or only the dtype and shape of the packed copy standing for it
// when the kernel consumed the constant (tensor == nullptr).
struct WeightsInput {
  const Tensor* tensor = nullptr;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  int64_t element_count() const;
  std::string description() const;
};
// Input `index`, or (absent, with `packed_shape` set) the packed copy's dtype and shape.
WeightsInput weights_input(KernelContext& ctx, size_t index, DType packed_dtype,
                           const std::vector<int64_t>* packed_shape);

// Requantizes count int32 values into elements [offset, offset + count) of `out`: element i gets
// store_quantized(values[i] * scales[i * scale_stride], zero_point) (scale_stride 0: one scale for all), bit for
// bit, in a loop the compiler vectorises for int8/uint8 outputs.
void requantize(const int32_t* values, int64_t count, const double* scales, int64_t scale_stride, double zero_point,
                Tensor& out, int64_t offset);

// The scale a/b scale product is computed in: the scales' own dtype (float, float16 or bfloat16), as NumPy
// would, so results match the reference bit for bit.
double round_to_dtype(double value, DType dtype);

}  // namespace tessera::linalg

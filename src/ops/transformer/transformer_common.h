// Helpers shared by the transformer operators (Attention, LinearAttention, RotaryEmbedding, RMSNormalization,
// SwiGLU, CausalConvWithState, TensorScatter): staging float-family tensors as float, writing float results back,
// and rounding intermediate results the way the reference arithmetic in a narrow float type does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "ir/type_info.h"

namespace tessera::transformer {

// The element precision an intermediate result is rounded to. kFloat and kDouble round nothing in a float buffer;
// kFloat16 and kBFloat16 round each value to the nearest value of that type (ties to even).
enum class Precision { kFloat, kDouble, kFloat16, kBFloat16 };

// The precision of a float-family dtype (float, double, float16, bfloat16); throws kInvalidArgument otherwise.
Precision precision_of(DType dtype);

// `value` rounded to precision `p` (returned as float).
float round_to(Precision p, float value);

// Rounds data[0, n) in place to precision `p`; a no-op for kFloat and kDouble.
void round_span(Precision p, float* data, int64_t n);

// True for the dtypes these operators compute on: float, double, float16, bfloat16.
bool is_float_family(DType dtype);

// Throws kInvalidArgument unless `t` has one of float, float16, bfloat16 (and double when `allow_double`),
// naming `op`, the input `name` and its description.
void check_float_input(const Tensor& t, const char* op, const char* name, bool allow_double = true);

// Converts `count` elements of `t` starting at element `offset` into float (t must be float-family).
void load_floats(const Tensor& t, int64_t offset, int64_t count, float* out);

// Converts the whole of `t` into a float vector.
std::vector<float> to_floats(const Tensor& t);

// Converts `count` floats into elements of `t` (float-family) starting at element `offset` (round to nearest even).
void store_floats(const float* values, int64_t count, Tensor& t, int64_t offset);

// A tensor of `dtype` and `shape` holding `values` (converted).
Tensor tensor_from_floats(const std::vector<float>& values, DType dtype, std::vector<int64_t> shape);

// Symbolic-dimension helpers for shape inference: the product of two dims (unknown unless both known), and
// `d / divisor` (unknown unless d is known and divisible).
Dim dim_product(const Dim& a, const Dim& b);
Dim dim_quotient(const Dim& d, int64_t divisor);
Dim dim_sum(const Dim& a, const Dim& b);

// The dims of input type `t` when it is a tensor of rank `rank`, else nullopt.
std::optional<std::vector<Dim>> dims_of_rank(const TypeInfo* t, size_t rank);

}  // namespace tessera::transformer

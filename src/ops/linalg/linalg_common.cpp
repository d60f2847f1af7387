#include "ops/linalg/linalg_common.h"

#include <algorithm>

#include "base/float_types.h"
#include "base/lazy_text.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "ops/common/op_utils.h"

namespace tessera::linalg {

bool is_staged_float(DType dtype) { return dtype == DType::kFloat16 || dtype == DType::kBFloat16; }

Tensor to_float32(const Tensor& tensor) {
  if (!is_staged_float(tensor.dtype())) return tensor;
  Tensor out(DType::kFloat, tensor.shape());
  const uint16_t* in = static_cast<const uint16_t*>(tensor.raw_data());
  float* dst = out.data<float>();
  const int64_t count = tensor.element_count();
  if (tensor.dtype() == DType::kFloat16) {
    for (int64_t i = 0; i < count; ++i) dst[i] = half_to_float(in[i]);
  } else {
    for (int64_t i = 0; i < count; ++i) dst[i] = bfloat16_to_float(in[i]);
  }
  return out;
}

Tensor from_float32(const Tensor& values, DType dtype) {
  if (dtype == DType::kFloat) return values;
  Tensor out(dtype, values.shape());
  const float* src = values.data<float>();
  uint16_t* dst = static_cast<uint16_t*>(out.raw_data());
  const int64_t count = values.element_count();
  if (dtype == DType::kFloat16) {
    for (int64_t i = 0; i < count; ++i) dst[i] = float_to_half(src[i]);
  } else {
    for (int64_t i = 0; i < count; ++i) dst[i] = float_to_bfloat16(src[i]);
  }
  return out;
}

void round_into(const Tensor& values, Tensor& out) {
  const float* src = values.data<float>();
  uint16_t* dst = static_cast<uint16_t*>(out.raw_data());
  const int64_t count = values.element_count();
  if (out.dtype() == DType::kBFloat16) {
    bf16_round_f32(src, count, dst);
  } else {
    for (int64_t i = 0; i < count; ++i) dst[i] = float_to_half(src[i]);
  }
}

MatMulDims matmul_dims(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape) {
  check_argument(!a_shape.empty() && !b_shape.empty(), "MatMul operands must have rank >= 1, got A ",
                 shape_text(a_shape), " and B ", shape_text(b_shape));
  MatMulDims dims;
  const bool a_vector = a_shape.size() == 1;
  const bool b_vector = b_shape.size() == 1;
  const int64_t a_k = a_shape.back();
  const int64_t b_k = b_vector ? b_shape[0] : b_shape[b_shape.size() - 2];
  check_argument(a_k == b_k, "MatMul inner dimensions differ: A ", shape_text(a_shape), " and B ", shape_text(b_shape));
  dims.k = a_k;
  dims.m = a_vector ? 1 : a_shape[a_shape.size() - 2];
  dims.n = b_vector ? 1 : b_shape.back();
  const std::vector<int64_t> a_batch(a_shape.begin(), a_shape.end() - (a_vector ? 1 : 2));
  const std::vector<int64_t> b_batch(b_shape.begin(), b_shape.end() - (b_vector ? 1 : 2));
  try {
    dims.batch = broadcast_shape(a_batch, b_batch);
  } catch (const Error&) {
    fail(ErrorCode::kInvalidArgument, "MatMul batch dimensions do not broadcast: A ", shape_to_string(a_shape),
         " and B ", shape_to_string(b_shape));
  }
  dims.output_shape = dims.batch;
  if (!a_vector) dims.output_shape.push_back(dims.m);
  if (!b_vector) dims.output_shape.push_back(dims.n);
  const int64_t batch_count = shape_element_count(dims.batch);
  dims.a_offsets.assign(static_cast<size_t>(batch_count), 0);
  dims.b_offsets.assign(static_cast<size_t>(batch_count), 0);
  const std::vector<int64_t> a_strides = broadcast_strides(a_batch, dims.batch);
  const std::vector<int64_t> b_strides = broadcast_strides(b_batch, dims.batch);
  const std::vector<int64_t> strides[2] = {a_strides, b_strides};
  const int64_t a_matrix = dims.m * dims.k;
  const int64_t b_matrix = dims.k * dims.n;
  for_each_broadcast<2>(dims.batch, strides, [&](int64_t out, const int64_t* offsets) {
    dims.a_offsets[static_cast<size_t>(out)] = offsets[0] * a_matrix;
    dims.b_offsets[static_cast<size_t>(out)] = offsets[1] * b_matrix;
  });
  dims.b_is_shared = std::all_of(b_batch.begin(), b_batch.end(), [](int64_t d) { return d == 1; });
  return dims;
}

void infer_matmul_output(InferenceContext& context, size_t a_index, size_t b_index, DType out_dtype) {
  const TypeInfo* a = context.input_type(a_index);
  const TypeInfo* b = context.input_type(b_index);
  if (a == nullptr || !a->is_tensor()) return;
  const DType dtype = out_dtype == DType::kUndefined ? a->elem_type : out_dtype;
  if (b == nullptr || !b->is_tensor() || !a->shape || !b->shape || a->shape->empty() || b->shape->empty()) {
    context.set_output_type(0, TypeInfo::tensor(dtype));
    return;
  }
  const std::vector<Dim>& as = *a->shape;
  const std::vector<Dim>& bs = *b->shape;
  const bool a_vector = as.size() == 1;
  const bool b_vector = bs.size() == 1;
  const Dim& a_k = as.back();
  const Dim& b_k = b_vector ? bs[0] : bs[bs.size() - 2];
  if (a_k.is_known() && b_k.is_known() && a_k.value != b_k.value) {
    fail(ErrorCode::kInvalidModel, "MatMul inner dimensions differ: ", a->to_string(), " and ", b->to_string());
  }
  std::vector<Dim> out = broadcast_dims(std::vector<Dim>(as.begin(), as.end() - (a_vector ? 1 : 2)),
                                        std::vector<Dim>(bs.begin(), bs.end() - (b_vector ? 1 : 2)));
  if (!a_vector) out.push_back(as[as.size() - 2]);
  if (!b_vector) out.push_back(bs.back());
  context.set_output_type(0, TypeInfo::tensor(dtype, out));
}

}  // namespace tessera::linalg

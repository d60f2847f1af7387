#include "ops/common/op_utils.h"

#include <algorithm>

#include "base/error.h"

namespace tessera {

int64_t normalize_axis(int64_t axis, int64_t rank) {
  const int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= std::max<int64_t>(rank, 1)) {
    fail(ErrorCode::kInvalidArgument, "axis ", axis, " is out of range for rank ", rank);
  }
  return normalized;
}

std::vector<int64_t> broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else fail(ErrorCode::kInvalidArgument, "shapes ", shape_to_string(a), " and ", shape_to_string(b), " cannot be broadcast");
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t in_axis = in.size() - 1 - k;
    const size_t out_axis = out.size() - 1 - k;
    strides[out_axis] = in[in_axis] == 1 ? 0 : stride;
    stride *= in[in_axis];
  }
  return strides;
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

std::vector<int64_t> tensor_to_int64s(const Tensor& tensor) {
  std::vector<int64_t> values(static_cast<size_t>(tensor.element_count()));
  if (tensor.dtype() == DType::kInt64) {
    std::copy_n(tensor.data<int64_t>(), values.size(), values.begin());
  } else if (tensor.dtype() == DType::kInt32) {
    std::copy_n(tensor.data<int32_t>(), values.size(), values.begin());
  } else {
    fail(ErrorCode::kInvalidArgument, "expected an int32 or int64 tensor, got ", tensor.description());
  }
  return values;
}

void infer_same_as_input(InferenceContext& context) {
  if (const TypeInfo* t = context.input_type(0)) context.set_output_type(0, *t);
}

namespace {
void infer_broadcast(InferenceContext& context, bool to_bool) {
  std::vector<Dim> dims;
  DType dtype = DType::kUndefined;
  for (size_t i = 0; i < context.input_count(); ++i) {
    const TypeInfo* t = context.input_type(i);
    if (t == nullptr || !t->is_tensor() || !t->shape) return;
    if (i == 0) dtype = t->elem_type;
    dims = i == 0 ? *t->shape : broadcast_dims(dims, *t->shape);
  }
  if (context.input_count() == 0) return;
  context.set_output_type(0, TypeInfo::tensor(to_bool ? DType::kBool : dtype, dims));
}
}  // namespace

void infer_broadcast_inputs(InferenceContext& context) { infer_broadcast(context, false); }
void infer_broadcast_to_bool(InferenceContext& context) { infer_broadcast(context, true); }

void check_window_attribute(const Node& node, const char* name, const std::vector<int64_t>& values, int64_t minimum) {
  for (int64_t v : values) {
    if (v < minimum || v > kMaxWindowAttribute) {
      fail(ErrorCode::kInvalidModel, node.label(), ": attribute '", name, "' value ", v, " is outside [", minimum,
           ", 2^31)");
    }
  }
}

}  // namespace tessera

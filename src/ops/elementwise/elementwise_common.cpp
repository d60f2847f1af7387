#include "ops/elementwise/elementwise_common.h"

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"

namespace tessera::elementwise {

std::vector<int64_t> merge_broadcast_dims(const std::vector<int64_t>& out_shape,
                                          std::vector<std::vector<int64_t>>& input_strides) {
  const size_t n = input_strides.size();
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> merged(n);
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] == 1) continue;
    bool joins = !dims.empty();
    for (size_t k = 0; k < n && joins; ++k) joins = merged[k].back() == input_strides[k][d] * out_shape[d];
    if (joins) {
      dims.back() *= out_shape[d];
      for (size_t k = 0; k < n; ++k) merged[k].back() = input_strides[k][d];
    } else {
      dims.push_back(out_shape[d]);
      for (size_t k = 0; k < n; ++k) merged[k].push_back(input_strides[k][d]);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    for (size_t k = 0; k < n; ++k) merged[k].push_back(0);
  }
  input_strides = std::move(merged);
  return dims;
}

std::vector<int64_t> broadcast_shapes(const std::vector<const Tensor*>& tensors) {
  std::vector<int64_t> shape;
  bool ok = true;
  for (size_t i = 0; i < tensors.size() && ok; ++i) {
    const std::vector<int64_t>& s = tensors[i]->shape();
    if (i == 0) {
      shape = s;
      continue;
    }
    const size_t rank = std::max(shape.size(), s.size());
    std::vector<int64_t> next(rank);
    for (size_t d = 0; d < rank && ok; ++d) {
      const int64_t x = d < rank - shape.size() ? 1 : shape[d - (rank - shape.size())];
      const int64_t y = d < rank - s.size() ? 1 : s[d - (rank - s.size())];
      if (x == y || y == 1)
        next[d] = x;
      else if (x == 1)
        next[d] = y;
      else
        ok = false;
    }
    shape = std::move(next);
  }
  if (!ok) {
    std::string shapes;
    for (const Tensor* t : tensors) shapes += (shapes.empty() ? "" : ", ") + t->description();
    fail(ErrorCode::kInvalidArgument, "inputs ", shapes, " cannot be broadcast together");
  }
  return shape;
}

std::vector<int64_t> legacy_broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                            bool broadcast, bool has_axis, int64_t axis) {
  if (!broadcast || a == b) return b;
  const int64_t rank_a = static_cast<int64_t>(a.size());
  const int64_t rank_b = static_cast<int64_t>(b.size());
  // A scalar or one-element B broadcasts anywhere.
  if (shape_element_count(b) == 1) return std::vector<int64_t>(a.size(), 1);
  check_argument(rank_b <= rank_a, "legacy broadcast: B ", shape_text(b), " has a higher rank than A ", shape_text(a));
  int64_t start = rank_a - rank_b;
  if (has_axis) {
    start = axis < 0 ? axis + rank_a : axis;
    check_argument(start >= 0 && start + rank_b <= rank_a, "legacy broadcast: axis ", axis, " does not fit B ",
                   shape_text(b), " into A ", shape_text(a));
  }
  std::vector<int64_t> padded(a.size(), 1);
  for (int64_t i = 0; i < rank_b; ++i) {
    const int64_t dim = b[static_cast<size_t>(i)];
    check_argument(dim == a[static_cast<size_t>(start + i)] || dim == 1, "legacy broadcast: B ", shape_text(b),
                   " does not match A ", shape_text(a), " at axis ", start);
    padded[static_cast<size_t>(start + i)] = dim;
  }
  return padded;
}

LegacyBroadcast read_legacy_broadcast(const KernelInfo& info) {
  LegacyBroadcast legacy;
  if (info.opset >= 7) return legacy;
  legacy.enabled = true;
  legacy.broadcast = info.node.attr_int("broadcast", 0) != 0;
  legacy.has_axis = info.node.has_attribute("axis");
  legacy.axis = info.node.attr_int("axis", 0);
  return legacy;
}

Tensor legacy_operand_b(const LegacyBroadcast& legacy, const Tensor& a, const Tensor& b) {
  if (!legacy.enabled) return b;
  return b.reshaped(legacy_broadcast_shape(a.shape(), b.shape(), legacy.broadcast, legacy.has_axis, legacy.axis));
}

void infer_shape_of_input0(InferenceContext& context, DType dtype) {
  const TypeInfo* t = context.input_type(0);
  if (t == nullptr || !t->is_tensor()) return;
  TypeInfo out = *t;
  if (dtype != DType::kUndefined) out.elem_type = dtype;
  context.set_output_type(0, out);
}

void infer_legacy_binary(InferenceContext& context) { infer_shape_of_input0(context, DType::kUndefined); }
void infer_legacy_binary_to_bool(InferenceContext& context) { infer_shape_of_input0(context, DType::kBool); }

}  // namespace tessera::elementwise

#include "ops/loss/loss_common.h"

#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"

namespace tessera {

LossAttributes parse_loss_attributes(const Node& node) {
  LossAttributes attrs;
  const std::string reduction = node.attr_string("reduction", "mean");
  if (reduction == "none")
    attrs.reduction = LossReduction::kNone;
  else if (reduction == "sum")
    attrs.reduction = LossReduction::kSum;
  else if (reduction == "mean")
    attrs.reduction = LossReduction::kMean;
  else
    fail(ErrorCode::kInvalidModel, node.label(), ": attribute 'reduction' must be none, sum or mean, got '", reduction,
         "'");
  if (node.has_attribute("ignore_index")) {
    attrs.has_ignore_index = true;
    attrs.ignore_index = node.attr_int("ignore_index", 0);
  }
  return attrs;
}

LossGeometry check_loss_inputs(const Tensor& input, const Tensor& target, const Tensor* weight, const char* input_name,
                               const char* target_name) {
  check_argument(dtype_is_common_float(input.dtype()), "input '", input_name, "' ", tensor_text(input),
                 " must be float16, bfloat16, float or double");
  check_argument(input.rank() >= 2, "input '", input_name, "' ", tensor_text(input),
                 " must have shape (N, C, d1, ..., dk)");
  check_argument(target.dtype() == DType::kInt32 || target.dtype() == DType::kInt64, "input '", target_name, "' ",
                 tensor_text(target), " must be int32 or int64");
  bool target_ok = target.rank() + 1 == input.rank() && target.dim(0) == input.dim(0);
  for (size_t i = 1; target_ok && i < target.rank(); ++i) target_ok = target.dim(i) == input.dim(i + 1);
  check_argument(target_ok, "input '", target_name, "' ", tensor_text(target),
                 " must have shape (N, d1, ..., dk) matching input '", input_name, "' ", tensor_text(input));
  if (weight != nullptr) {
    check_argument(weight->dtype() == input.dtype() && weight->rank() == 1 && weight->dim(0) == input.dim(1),
                   "input 'weight' ", tensor_text(*weight), " must be a 1-D tensor of C = ", input.dim(1),
                   " elements of the type of input '", input_name, "' ", tensor_text(input));
  }
  LossGeometry g;
  g.batch = input.dim(0);
  g.classes = input.dim(1);
  for (size_t i = 2; i < input.rank(); ++i) g.inner *= input.dim(i);
  return g;
}

Tensor compute_nll_loss(const std::vector<double>& log_prob, const LossGeometry& geometry, const Tensor& target,
                        const Tensor* weight, const LossAttributes& attrs, DType dtype) {
  const std::vector<int64_t> targets = tensor_to_int64s(target);
  std::vector<double> weights;
  if (weight != nullptr) weights = tensor_to_doubles(*weight, "input 'weight'");
  const int64_t n = geometry.batch, c = geometry.classes, d = geometry.inner;
  std::vector<double> losses(targets.size(), 0.0);
  double loss_sum = 0.0;
  double weight_sum = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < d; ++i) {
      const size_t k = static_cast<size_t>(b * d + i);
      const int64_t t = targets[k];
      if (attrs.has_ignore_index && t == attrs.ignore_index) continue;
      check_argument(t >= 0 && t < c, "input 'target' ", tensor_text(target), " holds ", t, " at flat index ", k,
                     ", outside the class range [0, ", c, ")");
      const double w = weights.empty() ? 1.0 : weights[static_cast<size_t>(t)];
      losses[k] = -log_prob[static_cast<size_t>((b * c + t) * d + i)] * w;
      loss_sum += losses[k];
      weight_sum += w;
    }
  }
  if (attrs.reduction == LossReduction::kNone) {
    Tensor out(dtype, target.shape());
    store_doubles(losses.data(), out);
    return out;
  }
  double result = loss_sum;
  if (attrs.reduction == LossReduction::kMean) {
    // Without weights or ignore_index the divisor is the sample count, which weight_sum equals then;
    // 0 / 0 (every sample ignored) gives NaN as in NumPy.
    result = loss_sum / weight_sum;
  }
  Tensor out(dtype, {});
  store_doubles(&result, out);
  return out;
}

void infer_loss(InferenceContext& context) {
  const TypeInfo* input = context.input_type(0);
  const TypeInfo* target = context.input_type(1);
  if (input == nullptr || !input->is_tensor()) return;
  const LossAttributes attrs = parse_loss_attributes(context.node());
  if (attrs.reduction != LossReduction::kNone) {
    context.set_output_type(0, TypeInfo::tensor(input->elem_type, std::vector<Dim>{}));
  } else if (target != nullptr && target->is_tensor()) {
    context.set_output_type(0, TypeInfo::tensor(input->elem_type, target->shape));
  } else {
    context.set_output_type(0, TypeInfo::tensor(input->elem_type));
  }
  if (context.output_count() > 1) context.set_output_type(1, *input);
}

}  // namespace tessera

#include "ops/ml/ml_common.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/lazy_text.h"
#include "kernels/f32-vunary/f32-vunary.h"

namespace tessera::ml {

PostTransform parse_post_transform(const std::string& name) {
  if (name == "NONE") return PostTransform::kNone;
  if (name == "SOFTMAX") return PostTransform::kSoftmax;
  if (name == "LOGISTIC") return PostTransform::kLogistic;
  if (name == "SOFTMAX_ZERO") return PostTransform::kSoftmaxZero;
  if (name == "PROBIT") return PostTransform::kProbit;
  fail(ErrorCode::kInvalidModel, "attribute 'post_transform' = '", name,
       "' is not one of NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT");
}

PostTransform post_transform_from_int(int64_t value) {
  check_model(value >= 0 && value <= 4, "attribute 'post_transform' = ", value, " is not in [0, 4]");
  static constexpr PostTransform kByValue[] = {PostTransform::kNone, PostTransform::kSoftmax, PostTransform::kLogistic,
                                               PostTransform::kSoftmaxZero, PostTransform::kProbit};
  return kByValue[value];
}

PostTransform read_post_transform(const Node& node) {
  return parse_post_transform(node.attr_string("post_transform", "NONE"));
}

float logistic(float x) {
  const float v = 1.0f / (1.0f + std::exp(-std::fabs(x)));
  return x < 0 ? 1.0f - v : v;
}

// Winitzki's approximation of erfinv, as ONNX Runtime computes it (erfinv(+-1) = +-inf).
static float erf_inv(float x) {
  const float sign = x < 0 ? -1.0f : 1.0f;
  x = (1 - x) * (1 + x);
  const float log = std::log(x);
  const float v = 2 / (3.14159265f * 0.147f) + 0.5f * log;
  const float v2 = 1 / 0.147f * log;
  const float v3 = -v + std::sqrt(v * v - v2);
  return sign * std::sqrt(v3);
}

float probit(float p) { return 1.41421356f * erf_inv(p * 2 - 1); }

void softmax(float* scores, int64_t n) {
  if (n <= 0) return;
  float max = scores[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, scores[i]);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    scores[i] = std::exp(scores[i] - max);
    sum += scores[i];
  }
  for (int64_t i = 0; i < n; ++i) scores[i] /= sum;
}

void softmax_zero(float* scores, int64_t n) {
  if (n <= 0) return;
  float max = -std::numeric_limits<float>::max();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, scores[i]);
  const float exp_neg_max = std::exp(-max);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = scores[i];
    scores[i] = (v > 0.0000001f || v < -0.0000001f) ? std::exp(v - max) : v * exp_neg_max;
    sum += scores[i];
  }
  for (int64_t i = 0; i < n; ++i) scores[i] = sum == 0 ? 0.5f : scores[i] / sum;
}

void apply_post_transform(PostTransform transform, float* scores, int64_t n) {
  switch (transform) {
    case PostTransform::kNone:
      return;
    case PostTransform::kSoftmax:
      softmax(scores, n);
      return;
    case PostTransform::kSoftmaxZero:
      softmax_zero(scores, n);
      return;
    case PostTransform::kLogistic:
      for (int64_t i = 0; i < n; ++i) scores[i] = logistic(scores[i]);
      return;
    case PostTransform::kProbit:
      for (int64_t i = 0; i < n; ++i) scores[i] = probit(scores[i]);
      return;
  }
}

void apply_post_transform_rows(PostTransform transform, float* scores, int64_t rows, int64_t n) {
  if (rows <= 0 || n <= 0) return;
  if (transform == PostTransform::kSoftmax) {
    for (int64_t r = 0; r < rows; ++r) {
      float* row = scores + r * n;
      const float max = *std::max_element(row, row + n);
      for (int64_t i = 0; i < n; ++i) row[i] -= max;
    }
    vunary_f32(VUnaryOpF32::kExp, scores, scores, rows * n);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = scores + r * n;
      float sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += row[i];
      for (int64_t i = 0; i < n; ++i) row[i] /= sum;
    }
  } else if (transform == PostTransform::kLogistic) {
    vunary_f32(VUnaryOpF32::kSigmoid, scores, scores, rows * n);
  } else {
    for (int64_t r = 0; r < rows; ++r) apply_post_transform(transform, scores + r * n, n);
  }
}

FeatureShape feature_shape(const Tensor& x, const char* what) {
  check_argument(x.rank() >= 1, what, " ", tensor_text(x), " must have rank 1 ([F]) or 2 ([N, F])");
  if (x.rank() == 1) return {1, x.dim(0)};
  return {x.dim(0), x.dim(0) == 0 ? 0 : x.element_count() / x.dim(0)};
}

Dim feature_rows_dim(const TypeInfo* x) {
  if (x == nullptr || !x->shape || x->shape->empty()) return Dim{};
  return x->shape->size() == 1 ? Dim::known(1) : (*x->shape)[0];
}

bool is_ml_numeric(DType dtype) {
  return dtype == DType::kFloat || dtype == DType::kDouble || dtype == DType::kInt32 || dtype == DType::kInt64;
}

std::vector<double> tensor_attr_doubles(const Node& node, const std::string& name) {
  const Tensor* t = node.attr_tensor(name);
  if (t == nullptr) return {};
  std::vector<double> out(static_cast<size_t>(t->element_count()));
  visit_dtype(t->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Float16> ||
                  std::is_same_v<T, BFloat16>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = element_to_double(t->data<T>()[i]);
    } else {
      fail(ErrorCode::kInvalidModel, "attribute '", name, "' ", t->description(), " must be a float tensor");
    }
  });
  return out;
}

std::vector<double> attr_doubles_or_tensor(const Node& node, const std::string& name) {
  if (node.has_attribute(name + "_as_tensor")) return tensor_attr_doubles(node, name + "_as_tensor");
  const std::vector<float> floats = node.attr_floats(name);
  return std::vector<double>(floats.begin(), floats.end());
}

void check_attr_size(const std::string& name, size_t size, size_t expected) {
  check_model(size == expected, "attribute '", name, "' has ", size, " values, expected ", expected);
}

OpRegistration ml_registration(const char* op_type, int64_t since_version, int64_t last_version, KernelFactory factory,
                               ShapeInferenceFn infer) {
  return {.domain = kOnnxMlDomain,
          .op_type = op_type,
          .since_version = since_version,
          .last_version = last_version,
          .factory = std::move(factory),
          .infer = std::move(infer)};
}

}  // namespace tessera::ml

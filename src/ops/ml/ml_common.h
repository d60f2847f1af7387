// Helpers shared by the ai.onnx.ml operators: score post-transforms (with ONNX Runtime's exact formulas, which
// the ONNX test data and exported scikit-learn models are checked against), reading the numeric feature matrix,
// and reading attributes that come either as a float list or as a `*_as_tensor` double tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/tensor.h"
#include "ir/graph.h"
#include "ops/registry.h"

namespace tessera::ml {

// The transform a classifier or regressor applies to its scores.
enum class PostTransform { kNone, kSoftmax, kLogistic, kSoftmaxZero, kProbit };

// Parses 'NONE', 'SOFTMAX', 'LOGISTIC', 'SOFTMAX_ZERO', 'PROBIT'; throws kInvalidModel otherwise.
PostTransform parse_post_transform(const std::string& name);
// Maps TreeEnsemble's integer encoding (0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO, 4 PROBIT).
PostTransform post_transform_from_int(int64_t value);
// Reads the node's string attribute 'post_transform' (default NONE).
PostTransform read_post_transform(const Node& node);

// 1 / (1 + e^-x), computed without overflow.
float logistic(float x);
// sqrt(2) * erfinv(2p - 1) with the approximation ONNX Runtime uses.
float probit(float p);
// In-place softmax of scores[0, n).
void softmax(float* scores, int64_t n);
// In-place softmax that keeps zero scores at zero (ONNX's SOFTMAX_ZERO); all-zero input gives 0.5 everywhere.
void softmax_zero(float* scores, int64_t n);
// Applies `transform` to a row of n >= 2 scores (or any n for the elementwise transforms).
void apply_post_transform(PostTransform transform, float* scores, int64_t n);
// Applies `transform` to `rows` rows of n scores each (row r at scores + r * n), as apply_post_transform on each
// row, with SOFTMAX's and LOGISTIC's exponentials computed by the vector kernels over all rows at once (within a
// few ulp of the scalar formulas).
void apply_post_transform_rows(PostTransform transform, float* scores, int64_t rows, int64_t n);

// Rows and columns of a feature input: [N, F] as (N, F), [F] as (1, F), higher ranks as (dim 0, the rest).
struct FeatureShape {
  int64_t rows = 0;
  int64_t columns = 0;
};
// Throws kInvalidArgument for rank 0 naming `what` (e.g. "input 'X'").
FeatureShape feature_shape(const Tensor& x, const char* what);

// The row count of a feature input's type ([N, F] -> N, [F] -> 1), unknown when the shape is.
Dim feature_rows_dim(const TypeInfo* x);

// True for the element types the ml operators take as numeric input (float, double, int32, int64).
bool is_ml_numeric(DType dtype);

// The elements of a float, double, int32 or int64 tensor converted to C; throws kInvalidArgument naming `what`
// for other element types.
template <typename C>
std::vector<C> numeric_values(const Tensor& x, const char* what) {
  std::vector<C> out(static_cast<size_t>(x.element_count()));
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                  std::is_same_v<T, int64_t>) {
      const T* data = x.data<T>();
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<C>(data[i]);
    } else {
      fail(ErrorCode::kInvalidArgument, what, " ", x.description(),
           ": element type must be float, double, int32 or int64");
    }
  });
  return out;
}

// The values of attribute `name` (a float list) or, when present, of `name`_as_tensor (a float or double
// tensor) as doubles; empty when neither is set.
std::vector<double> attr_doubles_or_tensor(const Node& node, const std::string& name);
// The elements of a float or double (or float16) tensor attribute as doubles; throws kInvalidModel otherwise.
std::vector<double> tensor_attr_doubles(const Node& node, const std::string& name);

// Throws kInvalidModel naming the attribute unless `size` equals `expected`.
void check_attr_size(const std::string& name, size_t size, size_t expected);

// A registration in the ai.onnx.ml domain for opsets [since_version, last_version].
OpRegistration ml_registration(const char* op_type, int64_t since_version, int64_t last_version, KernelFactory factory,
                               ShapeInferenceFn infer);

}  // namespace tessera::ml

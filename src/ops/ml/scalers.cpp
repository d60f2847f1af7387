// Elementwise ai.onnx.ml preprocessors (opset 1): Binarizer, Scaler, Normalizer and Imputer.
#include <climits>
#include <cmath>
#include <limits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

template <typename T>
inline constexpr bool kMlNumeric =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;

// Binarizer: y = (x > threshold) ? 1 : 0 in x's type (NaN gives 0).
std::unique_ptr<Kernel> make_binarizer(const KernelInfo& info) {
  const double threshold = info.node.attr_float("threshold", 0.0f);
  return make_kernel([threshold](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kMlNumeric<T>) {
        const T* in = x.data<T>();
        T* out = y.data<T>();
        for (int64_t i = 0; i < x.element_count(); ++i) out[i] = static_cast<double>(in[i]) > threshold ? T(1) : T(0);
      } else {
        fail(ErrorCode::kInvalidArgument, "input 'X' ", x.description(), ": element type must be numeric");
      }
    });
  });
}

// Scaler: y = (x - offset) * scale as float, offset/scale of length 1 or the size of the last dimension; float
// input in float arithmetic, other types in double.
std::unique_ptr<Kernel> make_scaler(const KernelInfo& info) {
  const std::vector<float> offset = info.node.attr_floats("offset");
  const std::vector<float> scale = info.node.attr_floats("scale");
  check_model(!offset.empty() && !scale.empty(), "attributes 'offset' and 'scale' must be set");
  check_model(offset.size() == scale.size() || offset.size() == 1 || scale.size() == 1, "attributes 'offset' (",
              offset.size(), " values) and 'scale' (", scale.size(), " values) must have the same length");
  return make_kernel([offset, scale](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t features = x.rank() == 0 ? 1 : x.dim(x.rank() - 1);
    for (const auto* values : {&offset, &scale}) {
      check_argument(values->size() == 1 || static_cast<int64_t>(values->size()) == features, "input 'X' ",
                     tensor_text(x), " has ", features, " features but 'offset'/'scale' have ", values->size(),
                     " values");
    }
    Tensor& y = ctx.allocate_output(0, DType::kFloat, x.shape());
    float* out = y.data<float>();
    if (x.dtype() == DType::kFloat && features > 0) {
      // Float input in float arithmetic (as ONNX Runtime computes it), row by row over per-feature vectors.
      std::vector<float> o(static_cast<size_t>(features)), sc(static_cast<size_t>(features));
      for (int64_t f = 0; f < features; ++f) {
        o[static_cast<size_t>(f)] = offset[offset.size() == 1 ? 0 : static_cast<size_t>(f)];
        sc[static_cast<size_t>(f)] = scale[scale.size() == 1 ? 0 : static_cast<size_t>(f)];
      }
      const float* in = x.data<float>();
      for (int64_t i = 0; i < x.element_count(); i += features) {
        for (int64_t f = 0; f < features; ++f)
          out[i + f] = (in[i + f] - o[static_cast<size_t>(f)]) * sc[static_cast<size_t>(f)];
      }
      return;
    }
    const std::vector<double> in = numeric_values<double>(x, "input 'X'");
    for (size_t i = 0; i < in.size(); ++i) {
      const size_t f = features > 0 ? i % static_cast<size_t>(features) : 0;
      const double o = offset[offset.size() == 1 ? 0 : f];
      const double s = scale[scale.size() == 1 ? 0 : f];
      out[i] = static_cast<float>((in[i] - o) * s);
    }
  });
}

enum class NormKind { kMax, kL1, kL2 };

// Normalizer: each row of an [N, C] (or [C]) input divided by its max, L1 or L2 norm, as float; a row whose
// divisor is zero is copied unchanged. MAX divides by the largest value (not magnitude), as ONNX Runtime does.
std::unique_ptr<Kernel> make_normalizer(const KernelInfo& info) {
  const std::string norm = info.node.attr_string("norm", "MAX");
  NormKind kind;
  if (norm == "MAX")
    kind = NormKind::kMax;
  else if (norm == "L1")
    kind = NormKind::kL1;
  else if (norm == "L2")
    kind = NormKind::kL2;
  else
    fail(ErrorCode::kInvalidModel, "attribute 'norm' = '", norm, "' is not one of MAX, L1, L2");
  return make_kernel([kind](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.rank() == 1 || x.rank() == 2, "input 'X' ", tensor_text(x), " must be [C] or [N, C]");
    const FeatureShape fs = feature_shape(x, "input 'X'");
    const std::vector<float> in = numeric_values<float>(x, "input 'X'");
    Tensor& y = ctx.allocate_output(0, DType::kFloat, x.shape());
    float* out = y.data<float>();
    for (int64_t r = 0; r < fs.rows; ++r) {
      const float* row = in.data() + r * fs.columns;
      float* out_row = out + r * fs.columns;
      float divisor = 0;
      if (kind == NormKind::kMax) {
        divisor = std::numeric_limits<float>::lowest();
        for (int64_t c = 0; c < fs.columns; ++c) divisor = std::max(divisor, row[c]);
      } else if (kind == NormKind::kL1) {
        for (int64_t c = 0; c < fs.columns; ++c) divisor += std::fabs(row[c]);
      } else {
        for (int64_t c = 0; c < fs.columns; ++c) divisor += row[c] * row[c];
        divisor = std::sqrt(divisor);
      }
      for (int64_t c = 0; c < fs.columns; ++c) out_row[c] = divisor != 0 ? row[c] / divisor : row[c];
    }
  });
}

// Imputer: replaces elements equal to the replaced value (NaN matches NaN) by the imputed value of their
// feature (last dimension), or the single imputed value.
std::unique_ptr<Kernel> make_imputer(const KernelInfo& info) {
  const std::vector<float> imputed_floats = info.node.attr_floats("imputed_value_floats");
  const std::vector<int64_t> imputed_ints = info.node.attr_ints("imputed_value_int64s");
  const float replaced_float = info.node.attr_float("replaced_value_float", 0.0f);
  const int64_t replaced_int = info.node.attr_int("replaced_value_int64", 0);
  check_model(imputed_floats.empty() != imputed_ints.empty(),
              "exactly one of 'imputed_value_floats' and 'imputed_value_int64s' must be set");
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t features = x.rank() == 0 ? 1 : x.dim(x.rank() - 1);
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    const auto impute = [&](auto* out, const auto* in, const auto& values, auto matches) {
      check_argument(values.size() == 1 || static_cast<int64_t>(values.size()) == features, "input 'X' ",
                     tensor_text(x), " has ", features, " features but the imputed values are ", values.size());
      for (int64_t i = 0; i < x.element_count(); ++i) {
        const size_t f = values.size() == 1 ? 0 : static_cast<size_t>(i % features);
        out[i] = matches(in[i]) ? static_cast<std::remove_reference_t<decltype(*out)>>(values[f]) : in[i];
      }
    };
    if (x.dtype() == DType::kFloat || x.dtype() == DType::kDouble) {
      check_argument(!imputed_floats.empty(), "input 'X' ", tensor_text(x),
                     " holds floats but the node imputes 'imputed_value_int64s'");
      const bool replace_nan = std::isnan(replaced_float);
      const auto matches = [&](double v) { return replace_nan ? std::isnan(v) : v == replaced_float; };
      if (x.dtype() == DType::kFloat)
        impute(y.data<float>(), x.data<float>(), imputed_floats, matches);
      else
        impute(y.data<double>(), x.data<double>(), imputed_floats, matches);
    } else if (x.dtype() == DType::kInt64 || x.dtype() == DType::kInt32) {
      check_argument(!imputed_ints.empty(), "input 'X' ", tensor_text(x),
                     " holds integers but the node imputes 'imputed_value_floats'");
      const auto matches = [&](int64_t v) { return v == replaced_int; };
      if (x.dtype() == DType::kInt64)
        impute(y.data<int64_t>(), x.data<int64_t>(), imputed_ints, matches);
      else
        impute(y.data<int32_t>(), x.data<int32_t>(), imputed_ints, matches);
    } else {
      fail(ErrorCode::kInvalidArgument, "input 'X' ", x.description(), ": element type must be numeric");
    }
  });
}

void infer_float_same_shape(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  ctx.set_output_type(0, TypeInfo::tensor(DType::kFloat, x && x->is_tensor() ? x->shape : std::nullopt));
}

const RegisterOp kBinarizer{ml_registration("Binarizer", 1, INT_MAX, make_binarizer, infer_same_as_input)};
const RegisterOp kScaler{ml_registration("Scaler", 1, INT_MAX, make_scaler, infer_float_same_shape)};
const RegisterOp kNormalizer{ml_registration("Normalizer", 1, INT_MAX, make_normalizer, infer_float_same_shape)};
const RegisterOp kImputer{ml_registration("Imputer", 1, INT_MAX, make_imputer, infer_same_as_input)};

}  // namespace
}  // namespace tessera

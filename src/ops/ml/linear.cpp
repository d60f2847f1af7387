// LinearClassifier and LinearRegressor (ai.onnx.ml opset 1): scores = X * coefficients^T + intercepts, one
// coefficient row per class / target (float input on the float GEMM), then the post transform. Binary classifiers
// (one coefficient row, two labels) report [1 - score, score], as ONNX Runtime does.
#include <climits>

#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/common/op_utils.h"
#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

// Scores of every row: [rows, targets] floats. Float input goes through the float GEMM (scores = X W^T: X read in
// place as A, the coefficient rows as a transposed B, the intercepts as the column bias), as ONNX Runtime computes
// them in float; double and integer input is accumulated in double.
struct LinearScores {
  FeatureShape shape;
  int64_t targets = 0;
  std::vector<float> values;
};

LinearScores linear_scores(const Tensor& x, const std::vector<float>& coefficients,
                           const std::vector<float>& intercepts, Parallelism& parallelism) {
  LinearScores s;
  s.shape = feature_shape(x, "input 'X'");
  const int64_t features = s.shape.columns;
  const auto coefficient_count = static_cast<int64_t>(coefficients.size());
  check_argument(features > 0 && coefficient_count % features == 0, "input 'X' ", tensor_text(x), " has ", features,
                 " features, which does not divide the ", coefficient_count, " coefficients");
  s.targets = coefficient_count / features;
  check_argument(intercepts.empty() || static_cast<int64_t>(intercepts.size()) == s.targets, "the node has ",
                 intercepts.size(), " intercepts for ", s.targets, " coefficient rows (X ", tensor_text(x), ")");
  s.values.resize(static_cast<size_t>(s.shape.rows * s.targets));
  if (s.shape.rows == 0) return s;
  if (x.dtype() == DType::kFloat) {
    GemmEpilogueF32 epilogue;
    epilogue.column_bias = intercepts.empty() ? nullptr : intercepts.data();
    gemm_f32_packed(s.shape.rows, s.targets, features, 1.0f, GemmOperandF32{nullptr, x.data<float>(), features},
                    GemmOperandF32{nullptr, coefficients.data(), features, true}, 0.0f, s.values.data(), s.targets,
                    &parallelism, &epilogue);
    return s;
  }
  const std::vector<double> in = numeric_values<double>(x, "input 'X'");
  for (int64_t r = 0; r < s.shape.rows; ++r) {
    const double* row = in.data() + r * features;
    for (int64_t t = 0; t < s.targets; ++t) {
      const float* w = coefficients.data() + t * features;
      double sum = intercepts.empty() ? 0.0 : intercepts[static_cast<size_t>(t)];
      for (int64_t f = 0; f < features; ++f) sum += row[f] * w[f];
      s.values[static_cast<size_t>(r * s.targets + t)] = static_cast<float>(sum);
    }
  }
  return s;
}

struct LinearClassifierParams {
  std::vector<float> coefficients;
  std::vector<float> intercepts;
  std::vector<int64_t> int_labels;
  std::vector<std::string> string_labels;
  PostTransform post_transform = PostTransform::kNone;
};

std::unique_ptr<Kernel> make_linear_classifier(const KernelInfo& info) {
  LinearClassifierParams p;
  p.coefficients = info.node.required_attribute("coefficients").floats;
  p.intercepts = info.node.attr_floats("intercepts");
  p.int_labels = info.node.attr_ints("classlabels_ints");
  p.string_labels = info.node.attr_strings("classlabels_strings");
  p.post_transform = read_post_transform(info.node);
  check_model(p.int_labels.empty() != p.string_labels.empty(),
              "exactly one of 'classlabels_ints' and 'classlabels_strings' must be set");
  return make_kernel([p](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    LinearScores s = linear_scores(x, p.coefficients, p.intercepts, ctx.parallelism());
    const bool strings = !p.string_labels.empty();
    const auto labels = static_cast<int64_t>(strings ? p.string_labels.size() : p.int_labels.size());
    const bool binary = s.targets == 1;
    check_argument(binary ? labels == 2 : labels == s.targets, "the node has ", labels, " class labels for ", s.targets,
                   " coefficient rows (one row needs two labels)");
    const int64_t rows = s.shape.rows;
    const int64_t columns = binary ? 2 : s.targets;
    Tensor& y = ctx.allocate_output(0, strings ? DType::kString : DType::kInt64, {rows});
    Tensor& z = ctx.allocate_output(1, DType::kFloat, {rows, columns});
    float* out = z.data<float>();
    std::string* string_out = strings ? y.data<std::string>() : nullptr;
    int64_t* int_out = strings ? nullptr : y.data<int64_t>();
    // Labels from the raw scores; then the probabilities, the exponentials over all rows at once.
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = s.values.data() + r * s.targets;
      int64_t best = 0;
      if (binary) {
        best = row[0] > 0 ? 1 : 0;
        // ONNX Runtime's layout for one score: [1 - s, s], or the logistic of -s and s.
        const float score = row[0];
        if (p.post_transform == PostTransform::kLogistic) {
          out[r * 2] = -score;
          out[r * 2 + 1] = score;
        } else {
          const float v = p.post_transform == PostTransform::kProbit ? probit(score) : score;
          out[r * 2] = 1.0f - v;
          out[r * 2 + 1] = v;
        }
      } else {
        for (int64_t t = 1; t < s.targets; ++t)
          if (row[t] > row[best]) best = t;
        std::copy(row, row + s.targets, out + r * columns);
      }
      if (strings)
        string_out[r] = p.string_labels[static_cast<size_t>(best)];
      else
        int_out[r] = p.int_labels[static_cast<size_t>(best)];
    }
    if (!binary || p.post_transform == PostTransform::kLogistic)
      apply_post_transform_rows(p.post_transform, out, rows, columns);
  });
}

// LinearRegressor: one target only takes PROBIT (ONNX Runtime applies no other transform to a single score).
std::unique_ptr<Kernel> make_linear_regressor(const KernelInfo& info) {
  const std::vector<float> coefficients = info.node.attr_floats("coefficients");
  const std::vector<float> intercepts = info.node.attr_floats("intercepts");
  const int64_t targets = info.node.attr_int("targets", 1);
  const PostTransform transform = read_post_transform(info.node);
  check_model(targets >= 1 && !coefficients.empty() && coefficients.size() % static_cast<size_t>(targets) == 0,
              "attribute 'coefficients' (", coefficients.size(), " values) must hold 'targets' = ", targets, " rows");
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    LinearScores s = linear_scores(x, coefficients, intercepts, ctx.parallelism());
    check_argument(s.targets == targets, "input 'X' ", tensor_text(x), " has ", s.shape.columns,
                   " features, but the coefficients hold ", targets, " rows of ", coefficients.size() / targets);
    Tensor& y = ctx.allocate_output(0, DType::kFloat, {s.shape.rows, targets});
    float* out = y.data<float>();
    std::copy(s.values.begin(), s.values.end(), out);
    if (targets > 1) {
      apply_post_transform_rows(transform, out, s.shape.rows, targets);
    } else if (transform == PostTransform::kProbit) {
      for (int64_t r = 0; r < s.shape.rows; ++r) out[r] = probit(out[r]);
    }
  });
}

void infer_linear_classifier(InferenceContext& ctx) {
  const bool strings = ctx.node().has_attribute("classlabels_strings");
  const Dim rows = feature_rows_dim(ctx.input_type(0));
  const size_t labels =
      ctx.node().attr_ints("classlabels_ints").size() + ctx.node().attr_strings("classlabels_strings").size();
  ctx.set_output_type(0, TypeInfo::tensor(strings ? DType::kString : DType::kInt64, std::vector<Dim>{rows}));
  ctx.set_output_type(
      1, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{rows, Dim::known(static_cast<int64_t>(labels))}));
}

void infer_linear_regressor(InferenceContext& ctx) {
  const Dim rows = feature_rows_dim(ctx.input_type(0));
  ctx.set_output_type(
      0, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{rows, Dim::known(ctx.node().attr_int("targets", 1))}));
}

const RegisterOp kLinearClassifier{
    ml_registration("LinearClassifier", 1, INT_MAX, make_linear_classifier, infer_linear_classifier)};
const RegisterOp kLinearRegressor{
    ml_registration("LinearRegressor", 1, INT_MAX, make_linear_regressor, infer_linear_regressor)};

}  // namespace
}  // namespace tessera

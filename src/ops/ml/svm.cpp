// SVMClassifier and SVMRegressor (ai.onnx.ml opset 1): libsvm-style support vector machines (one-vs-one voting,
// Platt probabilities coupled pairwise) and liblinear-style linear models (no support vectors), with ONNX
// Runtime's conventions for the score layout, binary labels and post transforms.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "base/lazy_text.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "ops/common/op_utils.h"
#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

enum class SvmKernel { kLinear, kPoly, kRbf, kSigmoid };

struct SvmKernelParams {
  SvmKernel type = SvmKernel::kLinear;
  double gamma = 0;
  double coef0 = 0;
  double degree = 0;

  // K(x, v) over `features` values.
  double apply(const double* x, const float* v, int64_t features) const {
    double sum = 0;
    if (type == SvmKernel::kRbf) {
      for (int64_t f = 0; f < features; ++f) {
        const double d = x[f] - v[f];
        sum += d * d;
      }
      return finish(sum);
    }
    for (int64_t f = 0; f < features; ++f) sum += x[f] * v[f];
    return finish(sum);
  }
  // K from its sum: of squared differences (RBF) or of products (the others).
  double finish(double sum) const {
    switch (type) {
      case SvmKernel::kRbf:
        return std::exp(-gamma * sum);
      case SvmKernel::kPoly:
        return std::pow(gamma * sum + coef0, degree);
      case SvmKernel::kSigmoid:
        return std::tanh(gamma * sum + coef0);
      default:
        return sum;
    }
  }
};

// Support vectors per chunk of kernel_rows: the chunk's sums of a row stay in registers through every feature.
constexpr int64_t kChunk = 8;

// Support vectors laid out for kernel_rows, widened to double once: chunks of kChunk vectors, each chunk
// [features][kChunk] (feature f of its vectors side by side), the last chunk padded with zeros.
std::vector<double> chunked_vectors(const std::vector<float>& support_vectors, int64_t vectors, int64_t features) {
  const int64_t chunks = (vectors + kChunk - 1) / kChunk;
  std::vector<double> t(static_cast<size_t>(chunks * features * kChunk), 0.0);
  for (int64_t v = 0; v < vectors; ++v)
    for (int64_t f = 0; f < features; ++f)
      t[static_cast<size_t>((v / kChunk) * features * kChunk + f * kChunk + v % kChunk)] =
          support_vectors[static_cast<size_t>(v * features + f)];
  return t;
}

// Rows whose kernel values are computed at once (16 rows x 2000 vectors of doubles: 256 KB).
constexpr int64_t kSvmBlockRows = 16;

// Kernel values finished (exp, pow, tanh) per call: a buffer of floats for the vector exp.
constexpr int64_t kVectorBlock = 256;

// Two doubles in a register of the build's baseline (SSE2); the compiler lowers the chunk loops to it directly.
typedef double Double2 __attribute__((vector_size(16)));
constexpr int kChunkRegisters = kChunk / 2;

// The sums of R rows of x (stride `features`) against one chunk of vectors: acc[r][j] = sum over f, in order, of
// (x_f - v_f)^2 (RBF) or x_f v_f, each row's kChunk sums in registers.
template <int R, bool kRbf>
inline void chunk_sums(const double* x, int64_t features, const double* chunk, double (&out)[2][kChunk]) {
  Double2 acc[R][kChunkRegisters];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kChunkRegisters; ++j) acc[r][j] = Double2{0.0, 0.0};
  for (int64_t f = 0; f < features; ++f) {
    Double2 column[kChunkRegisters];
    std::memcpy(column, chunk + f * kChunk, sizeof column);
    for (int r = 0; r < R; ++r) {
      const double xf = x[r * features + f];
      const Double2 xv = {xf, xf};
      for (int j = 0; j < kChunkRegisters; ++j) {
        if constexpr (kRbf) {
          const Double2 d = xv - column[j];
          acc[r][j] += d * d;
        } else {
          acc[r][j] += xv * column[j];
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) std::memcpy(out[r], acc[r], sizeof acc[r]);
}

// out [rows, vectors] = K(x row r, vector v) for rows [0, rows) of x ([rows, features], double) and the vectors of
// support_c (chunked_vectors). Each sum is apply()'s to the bit (its features add up in the same order); RBF's
// exponential is taken in float (within a float rounding of apply()'s), the other kernels as apply() does. Two
// rows at a time against a chunk of 8 vectors, the 16 sums in registers through all features (summed in memory
// feature by feature, the loop had been bound by loads and stores): scikit-learn's SVC (RBF, 40 features, 1603
// support vectors) on 1000 rows, one thread, AMD EPYC Zen 3: 79 -> 44 ms (ONNX Runtime 50) when the vectors first
// ran along the inner loop, then see docs/BENCHMARKS.md (thirty-first session).
void kernel_rows(const SvmKernelParams& k, const double* x, int64_t rows, int64_t features, const double* support_c,
                 int64_t vectors, double* out) {
  const bool rbf = k.type == SvmKernel::kRbf;
  const int64_t chunks = (vectors + kChunk - 1) / kChunk;
  for (int64_t r0 = 0; r0 < rows; r0 += 2) {
    const int64_t pair = std::min<int64_t>(2, rows - r0);
    const double* xr = x + r0 * features;
    for (int64_t c = 0; c < chunks; ++c) {
      const double* chunk = support_c + c * features * kChunk;
      double acc[2][kChunk];
      if (pair == 2)
        rbf ? chunk_sums<2, true>(xr, features, chunk, acc) : chunk_sums<2, false>(xr, features, chunk, acc);
      else
        rbf ? chunk_sums<1, true>(xr, features, chunk, acc) : chunk_sums<1, false>(xr, features, chunk, acc);
      const int64_t n = std::min(kChunk, vectors - c * kChunk);
      for (int64_t r = 0; r < pair; ++r) std::copy_n(acc[r], n, out + (r0 + r) * vectors + c * kChunk);
    }
  }
  if (k.type == SvmKernel::kLinear) return;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t v0 = 0; v0 < vectors; v0 += kVectorBlock) {
      const int64_t n = std::min(kVectorBlock, vectors - v0);
      double* sums = out + r * vectors + v0;
      if (rbf) {
        // exp(-gamma sum) by the vector exp in float (ONNX Runtime computes the whole kernel in float), the sums and
        // the decision values in double: the scalar double exp had taken a third of SVC's time.
        float arguments[kVectorBlock];
        for (int64_t j = 0; j < n; ++j) arguments[j] = static_cast<float>(-k.gamma * sums[j]);
        vunary_f32(VUnaryOpF32::kExp, arguments, arguments, n);
        for (int64_t j = 0; j < n; ++j) sums[j] = arguments[j];
      } else {
        for (int64_t j = 0; j < n; ++j) sums[j] = k.finish(sums[j]);
      }
    }
  }
}

// Rows [begin, end) of x ([rows, features]) in blocks of kSvmBlockRows: each block's kernel values against the
// `vectors` support vectors (none: no kernel values) through kernel_rows into one buffer, then row(r, row r's
// kernel values) for each of its rows. The classifier and the regressor share it.
template <typename Row>
void for_rows_with_kernels(const SvmKernelParams& k, const double* x, int64_t begin, int64_t end, int64_t features,
                           const double* support_c, int64_t vectors, Row&& row) {
  std::vector<double> kernels(static_cast<size_t>(std::min(kSvmBlockRows, end - begin) * vectors));
  for (int64_t r0 = begin; r0 < end; r0 += kSvmBlockRows) {
    const int64_t rows = std::min(kSvmBlockRows, end - r0);
    if (vectors > 0) kernel_rows(k, x + r0 * features, rows, features, support_c, vectors, kernels.data());
    for (int64_t r = r0; r < r0 + rows; ++r) row(r, kernels.data() + (r - r0) * vectors);
  }
}

// Adds c[v] k[v] for v < n into four partial sums (partial[v % 4] for the whole groups of four, the rest into
// partial[0]): the decision values' dot products, which as one chain of dependent adds had bound their loops.
inline void add_products(const float* c, const double* k, int64_t n, double (&partial)[4]) {
  int64_t v = 0;
  for (; v + 4 <= n; v += 4) {
    for (int q = 0; q < 4; ++q) partial[q] += c[v + q] * k[v + q];
  }
  for (; v < n; ++v) partial[0] += c[v] * k[v];
}

inline double total(const double (&partial)[4]) { return (partial[0] + partial[1]) + (partial[2] + partial[3]); }

SvmKernelParams read_kernel(const Node& node) {
  SvmKernelParams k;
  const std::string type = node.attr_string("kernel_type", "LINEAR");
  if (type == "LINEAR")
    k.type = SvmKernel::kLinear;
  else if (type == "POLY")
    k.type = SvmKernel::kPoly;
  else if (type == "RBF")
    k.type = SvmKernel::kRbf;
  else if (type == "SIGMOID")
    k.type = SvmKernel::kSigmoid;
  else
    fail(ErrorCode::kInvalidModel, "attribute 'kernel_type' = '", type, "' is not LINEAR, POLY, RBF or SIGMOID");
  const std::vector<float> params = node.attr_floats("kernel_params");
  check_model(params.empty() || params.size() == 3, "attribute 'kernel_params' must hold gamma, coef0, degree");
  if (!params.empty()) {
    k.gamma = params[0];
    k.coef0 = params[1];
    k.degree = params[2];
  }
  return k;
}

// Pairwise coupling of one-vs-one probabilities r (k x k) into class probabilities p (libsvm's method 2 of Wu,
// Lin and Weng, 2004), in float as ONNX Runtime computes it.
void multiclass_probability(int64_t k, const std::vector<float>& r, float* p) {
  const auto n = static_cast<size_t>(k);
  std::vector<float> q(n * n, 0.0f);
  std::vector<float> qp(n, 0.0f);
  const float eps = 0.005f / static_cast<float>(k);
  for (size_t i = 0; i < n; ++i) {
    p[i] = 1.0f / static_cast<float>(k);
    for (size_t j = 0; j < i; ++j) {
      q[i * n + i] += r[j * n + i] * r[j * n + i];
      q[i * n + j] = q[j * n + i];
    }
    for (size_t j = i + 1; j < n; ++j) {
      q[i * n + i] += r[j * n + i] * r[j * n + i];
      q[i * n + j] = -r[j * n + i] * r[i * n + j];
    }
  }
  for (int iteration = 0; iteration < 100; ++iteration) {
    float pqp = 0;
    for (size_t i = 0; i < n; ++i) {
      qp[i] = 0;
      for (size_t j = 0; j < n; ++j) qp[i] += q[i * n + j] * p[j];
      pqp += p[i] * qp[i];
    }
    float max_error = 0;
    for (size_t i = 0; i < n; ++i) max_error = std::max(max_error, std::fabs(qp[i] - pqp));
    if (max_error < eps) break;
    for (size_t i = 0; i < n; ++i) {
      const float diff = (-qp[i] + pqp) / q[i * n + i];
      p[i] += diff;
      pqp = (pqp + diff * (diff * q[i * n + i] + 2 * qp[i])) / (1 + diff) / (1 + diff);
      for (size_t j = 0; j < n; ++j) {
        qp[j] = (qp[j] + diff * q[i * n + j]) / (1 + diff);
        p[j] /= (1 + diff);
      }
    }
  }
}

struct SvmClassifierModel {
  SvmKernelParams kernel;
  std::vector<int64_t> vectors_per_class;
  std::vector<int64_t> first_vector;
  std::vector<float> support_vectors;
  std::vector<double> support_c;  // chunked_vectors(support_vectors)
  std::vector<float> coefficients;
  std::vector<float> rho;
  std::vector<float> prob_a;
  std::vector<float> prob_b;
  std::vector<int64_t> int_labels;
  std::vector<std::string> string_labels;
  PostTransform post_transform = PostTransform::kNone;
  int64_t classes = 0;
  int64_t vectors = 0;
  int64_t features = 0;
  bool svc = false;  // support vectors given (else liblinear coefficients per class)
  bool weights_all_positive = true;

  int64_t classifiers() const { return classes * (classes - 1) / 2; }
  int64_t score_columns() const {
    if (svc && prob_a.empty()) return classes > 2 ? classifiers() : 2;
    return classes;
  }
};

SvmClassifierModel read_svm_classifier(const Node& node) {
  SvmClassifierModel m;
  m.kernel = read_kernel(node);
  m.vectors_per_class = node.attr_ints("vectors_per_class");
  m.support_vectors = node.attr_floats("support_vectors");
  m.coefficients = node.attr_floats("coefficients");
  m.rho = node.attr_floats("rho");
  m.prob_a = node.attr_floats("prob_a");
  m.prob_b = node.attr_floats("prob_b");
  m.int_labels = node.attr_ints("classlabels_ints");
  m.string_labels = node.attr_strings("classlabels_strings");
  m.post_transform = read_post_transform(node);
  check_model(m.int_labels.empty() != m.string_labels.empty(),
              "exactly one of 'classlabels_ints' and 'classlabels_strings' must be set");
  check_model(m.prob_a.size() == m.prob_b.size(), "attributes 'prob_a' and 'prob_b' must have the same length");
  check_model(!m.coefficients.empty() && !m.rho.empty(), "attributes 'coefficients' and 'rho' must be set");
  m.classes = static_cast<int64_t>(m.int_labels.size() + m.string_labels.size());
  for (int64_t count : m.vectors_per_class) {
    check_model(count >= 0, "attribute 'vectors_per_class' holds a negative count");
    m.first_vector.push_back(m.vectors);
    m.vectors += count;
  }
  for (float c : m.coefficients) m.weights_all_positive = m.weights_all_positive && c >= 0;
  m.svc = m.vectors > 0;
  if (m.svc) {
    check_model(static_cast<int64_t>(m.vectors_per_class.size()) == m.classes, "attribute 'vectors_per_class' has ",
                m.vectors_per_class.size(), " counts for ", m.classes, " classes");
    check_model(m.support_vectors.size() % static_cast<size_t>(m.vectors) == 0, "attribute 'support_vectors' (",
                m.support_vectors.size(), " values) does not hold ", m.vectors, " vectors");
    m.features = static_cast<int64_t>(m.support_vectors.size()) / m.vectors;
    m.support_c = chunked_vectors(m.support_vectors, m.vectors, m.features);
    check_model(static_cast<int64_t>(m.coefficients.size()) >= (m.classes - 1) * m.vectors,
                "attribute 'coefficients' needs (classes - 1) x vectors = ", (m.classes - 1) * m.vectors, " values");
    check_model(static_cast<int64_t>(m.rho.size()) >= m.classifiers(),
                "attribute 'rho' needs one value per class pair");
    check_model(m.prob_a.empty() || static_cast<int64_t>(m.prob_a.size()) >= m.classifiers(),
                "attribute 'prob_a' needs one value per class pair");
  } else {
    check_model(m.classes > 0 && m.coefficients.size() % static_cast<size_t>(m.classes) == 0,
                "attribute 'coefficients' (", m.coefficients.size(), " values) does not hold one row per class");
    m.features = static_cast<int64_t>(m.coefficients.size()) / m.classes;
    m.kernel = SvmKernelParams{};  // liblinear models are linear whatever kernel_type says
  }
  return m;
}

// The label index of ONNX Runtime's binary rule (max_weight is 0 for support-vector models).
int64_t binary_choice(const SvmClassifierModel& m, float max_weight, int64_t max_class) {
  if (!m.prob_a.empty()) return max_class;
  if (m.weights_all_positive && max_weight >= 0.5f) return 1;
  if (max_weight > 0 && !m.weights_all_positive) return 1;
  return max_class;
}

// One row: writes the score columns and returns the chosen class index. `kernels`: the row's kernel values against
// every support vector (kernel_rows), when the model has support vectors.
int64_t classify_row(const SvmClassifierModel& m, const double* x, const double* kernels, float* z) {
  const int64_t columns = m.score_columns();
  if (!m.svc) {
    for (int64_t c = 0; c < m.classes; ++c) {
      z[c] = static_cast<float>(m.kernel.apply(x, m.coefficients.data() + c * m.features, m.features) + m.rho[0]);
    }
    const int64_t best = std::max_element(z, z + m.classes) - z;
    const float max_weight = z[best];
    if (m.classes > 1)
      apply_post_transform(m.post_transform, z, m.classes);
    else if (m.post_transform == PostTransform::kProbit)
      z[0] = probit(z[0]);
    return m.classes == 2 ? binary_choice(m, max_weight, best) : best;
  }
  std::vector<float> pair_scores;
  std::vector<int64_t> votes(static_cast<size_t>(m.classes), 0);
  int64_t pair = 0;
  for (int64_t i = 0; i < m.classes - 1; ++i) {
    for (int64_t j = i + 1; j < m.classes; ++j, ++pair) {
      double partial[4] = {0.0, 0.0, 0.0, 0.0};
      const auto add_block = [&](int64_t row, int64_t cls) {
        const int64_t first = m.first_vector[static_cast<size_t>(cls)];
        add_products(m.coefficients.data() + row * m.vectors + first, kernels + first,
                     m.vectors_per_class[static_cast<size_t>(cls)], partial);
      };
      add_block(j - 1, i);
      add_block(i, j);
      const double sum = m.rho[static_cast<size_t>(pair)] + total(partial);
      pair_scores.push_back(static_cast<float>(sum));
      ++votes[static_cast<size_t>(sum > 0 ? i : j)];
    }
  }
  const int64_t best = std::max_element(votes.begin(), votes.end()) - votes.begin();
  if (!m.prob_a.empty()) {
    const auto n = static_cast<size_t>(m.classes);
    std::vector<float> pairwise(n * n, 0.0f);
    size_t index = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      for (size_t j = i + 1; j < n; ++j, ++index) {
        const float value = 1.0f - logistic(pair_scores[index] * m.prob_a[index] + m.prob_b[index]);
        const float clipped = std::min(std::max(value, 1.0e-7f), 1.0f - 1.0e-7f);
        pairwise[i * n + j] = clipped;
        pairwise[j * n + i] = 1.0f - clipped;
      }
    }
    multiclass_probability(m.classes, pairwise, z);
    if (m.classes > 1) apply_post_transform(m.post_transform, z, m.classes);
    return best;
  }
  if (pair_scores.size() == 1) {
    const float s = pair_scores[0];
    if (m.post_transform == PostTransform::kProbit) {
      z[0] = probit(s);
      z[1] = 0.0f;
    } else if (m.post_transform == PostTransform::kNone) {
      z[0] = -s;
      z[1] = s;
    } else if (m.post_transform == PostTransform::kLogistic) {
      z[0] = logistic(-s);
      z[1] = logistic(s);
    } else {
      z[0] = 1.0f - s;
      z[1] = s;
    }
    return binary_choice(m, 0.0f, best);
  }
  std::copy(pair_scores.begin(), pair_scores.end(), z);
  apply_post_transform(m.post_transform, z, columns);
  return best;
}

std::unique_ptr<Kernel> make_svm_classifier(const KernelInfo& info) {
  auto model = std::make_shared<const SvmClassifierModel>(read_svm_classifier(info.node));
  return make_kernel([model](KernelContext& ctx) {
    const SvmClassifierModel& m = *model;
    const Tensor& x = ctx.input(0);
    const FeatureShape fs = feature_shape(x, "input 'X'");
    check_argument(fs.columns == m.features, "input 'X' ", tensor_text(x), " has ", fs.columns,
                   " features, the model expects ", m.features);
    const std::vector<double> in = numeric_values<double>(x, "input 'X'");
    const bool strings = !m.string_labels.empty();
    const int64_t columns = m.score_columns();
    Tensor& y = ctx.allocate_output(0, strings ? DType::kString : DType::kInt64, {fs.rows});
    Tensor& z = ctx.allocate_output(1, DType::kFloat, {fs.rows, columns});
    std::vector<int64_t> chosen(static_cast<size_t>(fs.rows));
    const auto run_rows = [&](int64_t begin, int64_t end) {
      for_rows_with_kernels(m.kernel, in.data(), begin, end, fs.columns, m.support_c.data(), m.svc ? m.vectors : 0,
                            [&](int64_t r, const double* kernels) {
                              chosen[static_cast<size_t>(r)] =
                                  classify_row(m, in.data() + r * fs.columns, kernels, z.data<float>() + r * columns);
                            });
    };
    if (fs.rows > 1 && fs.rows * std::max<int64_t>(m.vectors, m.classes) * fs.columns >= (1 << 15)) {
      ctx.parallelism().parallel_for(fs.rows, run_rows);
    } else {
      run_rows(0, fs.rows);
    }
    for (int64_t r = 0; r < fs.rows; ++r) {
      const auto k = static_cast<size_t>(chosen[static_cast<size_t>(r)]);
      if (strings)
        y.data<std::string>()[r] = m.string_labels[k];
      else
        y.data<int64_t>()[r] = m.int_labels[k];
    }
  });
}

// SVMRegressor: Y [N, 1] = sum_v coefficients[v] * K(x, v) + rho[0] (or x . coefficients + rho[0] without
// support vectors); one_class maps the score to +1 / -1. ONNX Runtime ignores post_transform here, and so
// does Tessera.
std::unique_ptr<Kernel> make_svm_regressor(const KernelInfo& info) {
  const SvmKernelParams kernel = read_kernel(info.node);
  const std::vector<float> support_vectors = info.node.attr_floats("support_vectors");
  const std::vector<float> coefficients = info.node.attr_floats("coefficients");
  const std::vector<float> rho = info.node.attr_floats("rho");
  const int64_t vectors = info.node.attr_int("n_supports", 0);
  const bool one_class = info.node.attr_int("one_class", 0) != 0;
  check_model(!coefficients.empty() && !rho.empty(), "attributes 'coefficients' and 'rho' must be set");
  check_model(vectors >= 0, "attribute 'n_supports' must not be negative");
  int64_t features = static_cast<int64_t>(coefficients.size());
  if (vectors > 0) {
    check_model(support_vectors.size() % static_cast<size_t>(vectors) == 0 &&
                    static_cast<int64_t>(coefficients.size()) >= vectors,
                "attributes 'support_vectors' (", support_vectors.size(), ") and 'coefficients' (", coefficients.size(),
                ") do not match n_supports = ", vectors);
    features = static_cast<int64_t>(support_vectors.size()) / vectors;
  }
  const SvmKernelParams row_kernel = vectors > 0 ? kernel : SvmKernelParams{};
  const auto support_c = std::make_shared<const std::vector<double>>(
      vectors > 0 ? chunked_vectors(support_vectors, vectors, features) : std::vector<double>{});
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const FeatureShape fs = feature_shape(x, "input 'X'");
    check_argument(fs.columns == features, "input 'X' ", tensor_text(x), " has ", fs.columns,
                   " features, the model expects ", features);
    const std::vector<double> in = numeric_values<double>(x, "input 'X'");
    Tensor& y = ctx.allocate_output(0, DType::kFloat, {fs.rows, 1});
    float* out = y.data<float>();
    for_rows_with_kernels(row_kernel, in.data(), 0, fs.rows, features, support_c->data(), vectors,
                          [&](int64_t r, const double* kernels) {
                            double sum = rho[0];
                            if (vectors > 0) {
                              double partial[4] = {0.0, 0.0, 0.0, 0.0};
                              add_products(coefficients.data(), kernels, vectors, partial);
                              sum += total(partial);
                            } else {
                              sum += row_kernel.apply(in.data() + r * features, coefficients.data(), features);
                            }
                            out[r] = one_class ? (sum > 0 ? 1.0f : -1.0f) : static_cast<float>(sum);
                          });
  });
}

void infer_svm_classifier(InferenceContext& ctx) {
  const bool strings = ctx.node().has_attribute("classlabels_strings");
  ctx.set_output_type(0, TypeInfo::tensor(strings ? DType::kString : DType::kInt64,
                                          std::vector<Dim>{feature_rows_dim(ctx.input_type(0))}));
  ctx.set_output_type(1, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{feature_rows_dim(ctx.input_type(0)), Dim{}}));
}

void infer_svm_regressor(InferenceContext& ctx) {
  ctx.set_output_type(
      0, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{feature_rows_dim(ctx.input_type(0)), Dim::known(1)}));
}

const RegisterOp kSvmClassifier{
    ml_registration("SVMClassifier", 1, INT_MAX, make_svm_classifier, infer_svm_classifier)};
const RegisterOp kSvmRegressor{ml_registration("SVMRegressor", 1, INT_MAX, make_svm_regressor, infer_svm_regressor)};

}  // namespace
}  // namespace tessera

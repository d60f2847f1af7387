// Random generators: RandomUniform, RandomUniformLike, RandomNormal, RandomNormalLike (opset 1+), Bernoulli (15+),
// Multinomial (7+).
//
// Each node owns one generator (64-bit Mersenne Twister), seeded from its `seed` attribute when it has one (so a
// session's sequence of outputs is reproducible) and from std::random_device otherwise; the generator advances
// from run to run, as ONNX Runtime's does, and is guarded by a mutex (concurrent runs draw in turn). Values are
// drawn in row-major order. The ONNX backend tests of these ops compare against NumPy's generator, which no
// runtime reproduces; their distributions are checked statistically in tests/ops/random_test.cpp.
#include <algorithm>
#include <climits>
#include <cmath>
#include <mutex>
#include <random>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// The generator of one node: seeded once, advanced by every draw.
class NodeGenerator {
 public:
  explicit NodeGenerator(const Node& node) {
    if (node.has_attribute("seed")) {
      // The seed is a float attribute; its value (not its bits) seeds, as in ONNX Runtime.
      engine_.seed(static_cast<uint64_t>(static_cast<int64_t>(node.attr_float("seed", 0.0f))));
    } else {
      std::random_device device;
      engine_.seed((static_cast<uint64_t>(device()) << 32) ^ device());
    }
  }

  // `count` draws, in order, uniform in [a, b) or (`normal`) normal with mean a and deviation b.
  std::vector<double> draw(size_t count, double a, double b, bool normal = false) const {
    std::vector<double> values(count);
    std::lock_guard<std::mutex> lock(mutex_);
    if (normal) {
      std::normal_distribution<double> distribution(a, b);
      for (double& v : values) v = distribution(engine_);
    } else {
      std::uniform_real_distribution<double> distribution(a, b);
      for (double& v : values) v = distribution(engine_);
    }
    return values;
  }

 private:
  mutable std::mt19937_64 engine_;
  mutable std::mutex mutex_;
};

// The element type an op produces: its `dtype` attribute, else `fallback`; refused unless `allowed`.
DType output_dtype(const Node& node, DType fallback, std::initializer_list<DType> allowed) {
  const DType dtype = node.has_attribute("dtype") ? static_cast<DType>(node.attr_int("dtype", 0)) : fallback;
  check_model(std::find(allowed.begin(), allowed.end(), dtype) != allowed.end(), node.label(), ": output type ",
              dtype_name(dtype), " is not supported by ", node.op_type);
  return dtype;
}

const std::initializer_list<DType> kFloatTypes = {DType::kFloat16, DType::kFloat, DType::kDouble, DType::kBFloat16};

// RandomUniform / RandomNormal (the shape from the `shape` attribute) and their *Like forms (the input's shape).
std::unique_ptr<Kernel> make_random(const KernelInfo& info, bool normal, bool like) {
  const Node& node = info.node;
  const double a = normal ? node.attr_float("mean", 0.0f) : node.attr_float("low", 0.0f);
  const double b = normal ? node.attr_float("scale", 1.0f) : node.attr_float("high", 1.0f);
  check_model(normal ? b >= 0.0 : a <= b, node.label(), normal ? ": scale must be >= 0, got " : ": low ", a,
              normal ? "" : " must not exceed high ", normal ? "" : std::to_string(b));
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat;
  if (!like) {
    check_model(node.has_attribute("shape"), node.label(), ": the shape attribute is required");
    shape = node.attr_ints("shape");
    for (int64_t d : shape) check_model(d >= 0, node.label(), ": shape ", shape_text(shape), " has a negative dim");
    dtype = output_dtype(node, DType::kFloat, kFloatTypes);
  } else if (node.has_attribute("dtype")) {
    dtype = output_dtype(node, DType::kFloat, kFloatTypes);
  }
  const bool dtype_from_input = like && !node.has_attribute("dtype");
  auto generator = std::make_shared<NodeGenerator>(node);
  return make_kernel([=](KernelContext& ctx) {
    const DType type = dtype_from_input ? ctx.input(0).dtype() : dtype;
    if (!dtype_is_common_float(type)) {
      fail(ErrorCode::kInvalidArgument, ctx.node().label(), ": output type ", dtype_name(type), " (from input 0, ",
           ctx.input(0).description(), ") is not a float type");
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, type, like ? ctx.input(0).shape() : shape);
    const std::vector<double> values = generator->draw(static_cast<size_t>(y.element_count()), a, b, normal);
    store_doubles(values.data(), y);
  });
}

void infer_random(InferenceContext& ctx) {
  const Node& node = ctx.node();
  const DType dtype = node.has_attribute("dtype") ? static_cast<DType>(node.attr_int("dtype", 0)) : DType::kFloat;
  ctx.set_output_type(0, TypeInfo::tensor_of_shape(dtype, node.attr_ints("shape")));
}

void infer_random_like(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const Node& node = ctx.node();
  const DType dtype = node.has_attribute("dtype") ? static_cast<DType>(node.attr_int("dtype", 0)) : x->elem_type;
  ctx.set_output_type(0, TypeInfo::tensor(dtype, x->shape));
}

// Bernoulli: 1 with the input's probability p, else 0, per element.
std::unique_ptr<Kernel> make_bernoulli(const KernelInfo& info) {
  const Node& node = info.node;
  const bool has_dtype = node.has_attribute("dtype");
  const DType dtype = has_dtype
                          ? output_dtype(node, DType::kFloat,
                                         {DType::kFloat16, DType::kFloat, DType::kDouble, DType::kBFloat16,
                                          DType::kUint8, DType::kUint16, DType::kUint32, DType::kUint64, DType::kInt8,
                                          DType::kInt16, DType::kInt32, DType::kInt64, DType::kBool})
                          : DType::kFloat;
  auto generator = std::make_shared<NodeGenerator>(node);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (!dtype_is_common_float(x.dtype())) {
      fail(ErrorCode::kInvalidArgument, ctx.node().label(), ": input 0 must hold float probabilities, got ",
           x.description());
    }
    const std::vector<double> p = tensor_to_doubles(x, "input 0");
    const double* probability = p.data();
    for (int64_t i = 0; i < x.element_count(); ++i) {
      if (!(probability[i] >= 0.0 && probability[i] <= 1.0)) {
        fail(ErrorCode::kInvalidArgument, ctx.node().label(), ": input 0 (", x.description(), ") element ", i, " is ",
             probability[i], ", not a probability in [0, 1]");
      }
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, has_dtype ? dtype : x.dtype(), x.shape());
    std::vector<double> ones = generator->draw(static_cast<size_t>(x.element_count()), 0.0, 1.0);
    for (size_t i = 0; i < ones.size(); ++i) ones[i] = ones[i] < probability[i] ? 1.0 : 0.0;
    store_doubles(ones.data(), y);
  });
}

void infer_bernoulli(InferenceContext& ctx) { infer_random_like(ctx); }

// Multinomial: sample_size class indices per batch row, drawn from the softmax of the row's unnormalized log
// probabilities.
std::unique_ptr<Kernel> make_multinomial(const KernelInfo& info) {
  const Node& node = info.node;
  const int64_t samples = node.attr_int("sample_size", 1);
  check_model(samples >= 1, node.label(), ": sample_size must be >= 1, got ", samples);
  const DType dtype = output_dtype(node, DType::kInt32, {DType::kInt32, DType::kInt64});
  auto generator = std::make_shared<NodeGenerator>(node);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 2 || x.dim(1) == 0 || !dtype_is_common_float(x.dtype())) {
      fail(ErrorCode::kInvalidArgument, ctx.node().label(),
           ": input 0 must be float [batch_size, class_size] with class_size > 0, got ", x.description());
    }
    const std::vector<double> logits = tensor_to_doubles(x, "input 0");
    const int64_t batch = x.dim(0), classes = x.dim(1);
    // Per row, the cumulative distribution of softmax(row).
    std::vector<double> cdf(static_cast<size_t>(batch * classes));
    for (int64_t r = 0; r < batch; ++r) {
      const double* row = logits.data() + r * classes;
      const double top = *std::max_element(row, row + classes);
      double sum = 0.0;
      for (int64_t c = 0; c < classes; ++c) cdf[static_cast<size_t>(r * classes + c)] = sum += std::exp(row[c] - top);
    }
    std::vector<double> classes_drawn = generator->draw(static_cast<size_t>(batch * samples), 0.0, 1.0);
    for (size_t i = 0; i < classes_drawn.size(); ++i) {
      const double* row = cdf.data() + static_cast<int64_t>(i) / samples * classes;
      const double target = classes_drawn[i] * row[classes - 1];
      classes_drawn[i] = static_cast<double>(std::upper_bound(row, row + classes - 1, target) - row);
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, dtype, {batch, samples});
    store_doubles(classes_drawn.data(), y);
  });
}

void infer_multinomial(InferenceContext& ctx) {
  const Node& node = ctx.node();
  const DType dtype = static_cast<DType>(node.attr_int("dtype", static_cast<int64_t>(DType::kInt32)));
  const TypeInfo* x = ctx.input_type(0);
  Dim batch;
  if (x != nullptr && x->is_tensor() && x->shape && x->shape->size() == 2) batch = (*x->shape)[0];
  ctx.set_output_type(0, TypeInfo::tensor(dtype, std::vector<Dim>{batch, Dim::known(node.attr_int("sample_size", 1))}));
}

std::unique_ptr<Kernel> make_random_uniform(const KernelInfo& info) { return make_random(info, false, false); }
std::unique_ptr<Kernel> make_random_normal(const KernelInfo& info) { return make_random(info, true, false); }
std::unique_ptr<Kernel> make_random_uniform_like(const KernelInfo& info) { return make_random(info, false, true); }
std::unique_ptr<Kernel> make_random_normal_like(const KernelInfo& info) { return make_random(info, true, true); }

const RegisterOp kRandomUniform{{.domain = "",
                                 .op_type = "RandomUniform",
                                 .since_version = 1,
                                 .last_version = INT_MAX,
                                 .factory = make_random_uniform,
                                 .infer = infer_random}};
const RegisterOp kRandomNormal{{.domain = "",
                                .op_type = "RandomNormal",
                                .since_version = 1,
                                .last_version = INT_MAX,
                                .factory = make_random_normal,
                                .infer = infer_random}};
const RegisterOp kRandomUniformLike{{.domain = "",
                                     .op_type = "RandomUniformLike",
                                     .since_version = 1,
                                     .last_version = INT_MAX,
                                     .factory = make_random_uniform_like,
                                     .infer = infer_random_like}};
const RegisterOp kRandomNormalLike{{.domain = "",
                                    .op_type = "RandomNormalLike",
                                    .since_version = 1,
                                    .last_version = INT_MAX,
                                    .factory = make_random_normal_like,
                                    .infer = infer_random_like}};
const RegisterOp kBernoulli{{.domain = "",
                             .op_type = "Bernoulli",
                             .since_version = 15,
                             .last_version = INT_MAX,
                             .factory = make_bernoulli,
                             .infer = infer_bernoulli}};
const RegisterOp kMultinomial{{.domain = "",
                               .op_type = "Multinomial",
                               .since_version = 7,
                               .last_version = INT_MAX,
                               .factory = make_multinomial,
                               .infer = infer_multinomial}};

}  // namespace
}  // namespace tessera

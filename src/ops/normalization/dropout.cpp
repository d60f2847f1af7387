// Dropout (opsets 1, 6, 7, 10, 12, 13, 22). Inference (every opset before 12; from 12 unless training_mode is
// true): the output is the input and the mask is all ones. Training (12+, training_mode true, ratio > 0): a
// random mask keeps each element with probability 1 - ratio and scales kept elements by 1 / (1 - ratio);
// with a seed the mask is NumPy's for that seed, as in the ONNX reference.
#include <climits>
#include <mutex>
#include <optional>
#include <random>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// The random source of one node without a seed: one engine advancing across runs.
struct DropoutRandom {
  std::mutex mutex;
  std::mt19937 engine;
};

// A uniform double in [0, 1) from two 32-bit draws, as NumPy's legacy RandomState makes it, so a seeded
// Dropout reproduces np.random.seed(seed); np.random.uniform(0, 1, shape) (the ONNX reference).
double numpy_uniform(std::mt19937& engine) {
  const uint32_t a = engine() >> 5, b = engine() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

bool is_dropout_float(DType d) {
  return d == DType::kFloat || d == DType::kDouble || d == DType::kFloat16 || d == DType::kBFloat16 ||
         d == DType::kFloat8E4M3FN || d == DType::kFloat8E4M3FNUZ || d == DType::kFloat8E5M2 ||
         d == DType::kFloat8E5M2FNUZ;
}

// A mask of ones: bool from opset 10, the data's own type before.
Tensor ones_mask(const Tensor& data, int64_t opset) {
  if (opset >= 10) {
    Tensor mask(DType::kBool, data.shape());
    std::fill_n(mask.data<bool>(), mask.element_count(), true);
    return mask;
  }
  Tensor mask(data.dtype(), data.shape());
  visit_dtype(data.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || kIsNarrowFloat<T>) {
      std::fill_n(mask.data<T>(), mask.element_count(), element_from_double<T>(1.0));
    }
  });
  return mask;
}

double read_ratio(const KernelContext& ctx) {
  if (!ctx.has_input(1)) return 0.5;
  const Tensor& r = ctx.input(1);
  check_argument(r.element_count() == 1 && is_dropout_float(r.dtype()), "Dropout: ratio must be a float scalar, got ",
                 tensor_text(r));
  double ratio = 0;
  visit_dtype(r.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || kIsNarrowFloat<T>) {
      ratio = element_to_double(r.data<T>()[0]);
    }
  });
  check_argument(ratio >= 0 && ratio < 1, "Dropout: ratio must be in [0, 1), got ", ratio);
  return ratio;
}

bool read_training_mode(const KernelContext& ctx) {
  if (!ctx.has_input(2)) return false;
  const Tensor& t = ctx.input(2);
  check_argument(t.element_count() == 1 && t.dtype() == DType::kBool,
                 "Dropout: training_mode must be a bool scalar, got ", tensor_text(t));
  return t.data<bool>()[0];
}

void draw_mask(bool* mask, int64_t n, double ratio, std::mt19937& engine) {
  for (int64_t i = 0; i < n; ++i) mask[i] = numpy_uniform(engine) >= ratio;
}

// With a seed every run starts the engine afresh (deterministic, as the reference); without, runs share one.
void random_dropout(KernelContext& ctx, const Tensor& data, double ratio, const std::optional<uint32_t>& seed,
                    DropoutRandom& random) {
  Tensor& out = ctx.allocate_output(0, data.dtype(), data.shape());
  Tensor mask(DType::kBool, data.shape());
  bool* m = mask.data<bool>();
  const int64_t n = data.element_count();
  if (seed) {
    std::mt19937 engine(*seed);
    draw_mask(m, n, ratio, engine);
  } else {
    std::lock_guard<std::mutex> lock(random.mutex);
    draw_mask(m, n, ratio, random.engine);
  }
  const double scale = 1.0 / (1.0 - ratio);
  visit_dtype(data.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || kIsNarrowFloat<T>) {
      const T* x = data.data<T>();
      T* y = out.data<T>();
      for (int64_t i = 0; i < n; ++i) y[i] = m[i] ? element_from_double<T>(element_to_double(x[i]) * scale) : T{};
    }
  });
  if (ctx.output_wanted(1)) ctx.set_output(1, mask);
}

std::unique_ptr<Kernel> make_dropout(const KernelInfo& info) {
  const int64_t opset = info.opset;
  auto random = std::make_shared<DropoutRandom>();
  std::optional<uint32_t> seed;
  if (info.node.has_attribute("seed")) {
    seed = static_cast<uint32_t>(info.node.attr_int("seed", 0));
  } else {
    random->engine.seed(std::random_device{}());
  }
  return make_kernel([opset, seed, random](KernelContext& ctx) {
    const Tensor& data = ctx.input(0);
    check_argument(is_dropout_float(data.dtype()), "Dropout does not support input data of type ", tensor_text(data));
    if (opset >= 12) {
      const double ratio = read_ratio(ctx);
      if (read_training_mode(ctx) && ratio > 0) {
        random_dropout(ctx, data, ratio, seed, *random);
        return;
      }
    }
    ctx.set_output(0, data);
    if (ctx.output_wanted(1)) ctx.set_output(1, ones_mask(data, opset));
  });
}

void infer_dropout(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  context.set_output_type(0, *x);
  if (context.output_count() > 1) {
    const DType mask_type = context.node().opset >= 10 || context.node().opset == 0 ? DType::kBool : x->elem_type;
    context.set_output_type(1, TypeInfo::tensor(mask_type, x->shape));
  }
}

const RegisterOp kDropout1{
    {.op_type = "Dropout", .since_version = 1, .last_version = 5, .factory = make_dropout, .infer = infer_dropout}};
const RegisterOp kDropout6{
    {.op_type = "Dropout", .since_version = 6, .last_version = 6, .factory = make_dropout, .infer = infer_dropout}};
const RegisterOp kDropout7{
    {.op_type = "Dropout", .since_version = 7, .last_version = 9, .factory = make_dropout, .infer = infer_dropout}};
const RegisterOp kDropout10{
    {.op_type = "Dropout", .since_version = 10, .last_version = 11, .factory = make_dropout, .infer = infer_dropout}};
const RegisterOp kDropout12{
    {.op_type = "Dropout", .since_version = 12, .last_version = 12, .factory = make_dropout, .infer = infer_dropout}};
const RegisterOp kDropout13{
    {.op_type = "Dropout", .since_version = 13, .last_version = 21, .factory = make_dropout, .infer = infer_dropout}};
const RegisterOp kDropout22{{.op_type = "Dropout",
                             .since_version = 22,
                             .last_version = INT_MAX,
                             .factory = make_dropout,
                             .infer = infer_dropout}};

}  // namespace
}  // namespace tessera

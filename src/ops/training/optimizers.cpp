// The optimizers of the ai.onnx.preview.training domain, opset 1: Momentum (standard and Nesterov), Adagrad
// and Adam. Each takes a learning rate R, an update count T and, for n optimized tensors, the n values, the
// n gradients and the n of each optimizer state; it returns the n new values followed by the n of each new
// state. Computed in double, stored in each tensor's type. (Gradient, the domain's fourth op, needs a
// training graph and is not provided.)
#include <climits>
#include <cmath>
#include <functional>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {


// The per-element update: reads x, g and the states, writes the new x and the new states in place.
using ElementUpdate = std::function<void(double r, int64_t t, double& x, double g, double* states)>;

// Runs `update` for every tensor group of a node with `state_count` optimizer states per tensor.
void run_optimizer(KernelContext& ctx, size_t state_count, const ElementUpdate& update) {
  check_argument(ctx.input_count() >= 2 + 2 + state_count && (ctx.input_count() - 2) % (2 + state_count) == 0,
                 "expected R, T and n groups of X, G and ", state_count, " state tensor(s); got ", ctx.input_count(),
                 " inputs");
  const size_t n = (ctx.input_count() - 2) / (2 + state_count);
  const double r = scalar_to_double(ctx.input(0), "input 'R'");
  const Tensor& t_tensor = ctx.input(1);
  check_argument(t_tensor.dtype() == DType::kInt64 && t_tensor.element_count() == 1, "input 'T' ",
                 tensor_text(t_tensor), " must be an int64 scalar");
  const int64_t t = t_tensor.data<int64_t>()[0];
  for (size_t i = 0; i < n; ++i) {
    const Tensor& x = ctx.input(2 + i);
    check_argument(dtype_is_common_float(x.dtype()), "input ", 2 + i, " ", tensor_text(x), " must be a float tensor");
    std::vector<double> values = tensor_to_doubles(x, "input X");
    std::vector<std::vector<double>> operands;  // the gradient, then each state
    for (size_t k = 0; k <= state_count; ++k) {
      const size_t index = 2 + (k + 1) * n + i;
      const Tensor& operand = ctx.input(index);
      check_argument(operand.shape() == x.shape() && dtype_is_common_float(operand.dtype()), "input ", index, " ",
                     tensor_text(operand), " must be a float tensor of the shape of input ", 2 + i, " ",
                     tensor_text(x));
      operands.push_back(tensor_to_doubles(operand, "optimizer input"));
    }
    std::vector<double> states(state_count);
    for (size_t e = 0; e < values.size(); ++e) {
      for (size_t k = 0; k < state_count; ++k) states[k] = operands[k + 1][e];
      update(r, t, values[e], operands[0][e], states.data());
      for (size_t k = 0; k < state_count; ++k) operands[k + 1][e] = states[k];
    }
    if (ctx.output_wanted(i)) store_doubles(values.data(), ctx.allocate_output(i, x.dtype(), x.shape()));
    for (size_t k = 0; k < state_count; ++k) {
      const size_t out = (k + 1) * n + i;
      if (!ctx.output_wanted(out)) continue;
      const Tensor& state_input = ctx.input(2 + (k + 2) * n + i);
      store_doubles(operands[k + 1].data(), ctx.allocate_output(out, state_input.dtype(), state_input.shape()));
    }
  }
}

float required_float(const Node& node, const char* name) {
  const Attribute& a = node.required_attribute(name);
  check_model(a.type == Attribute::Type::kFloat, node.label(), ": attribute '", name, "' must be a float");
  return a.f;
}

std::unique_ptr<Kernel> make_momentum(const KernelInfo& info) {
  const double alpha = required_float(info.node, "alpha");
  const double beta = required_float(info.node, "beta");
  const double norm = required_float(info.node, "norm_coefficient");
  const std::string mode = info.node.required_attribute("mode").s;
  check_model(mode == "standard" || mode == "nesterov", info.node.label(),
              ": attribute 'mode' must be standard or nesterov, got '", mode, "'");
  const bool nesterov = mode == "nesterov";
  return make_kernel([=](KernelContext& ctx) {
    run_optimizer(ctx, 1, [&](double r, int64_t t, double& x, double g, double* v) {
      const double g_regularized = norm * x + g;
      const double beta_adjusted = t > 0 ? beta : 1.0;  // the first step takes the whole gradient
      v[0] = alpha * v[0] + beta_adjusted * g_regularized;
      x -= nesterov ? r * (g_regularized + alpha * v[0]) : r * v[0];
    });
  });
}

std::unique_ptr<Kernel> make_adagrad(const KernelInfo& info) {
  const double decay = info.node.attr_float("decay_factor", 0.0f);
  const double epsilon = info.node.attr_float("epsilon", 0.0f);
  const double norm = info.node.attr_float("norm_coefficient", 0.0f);
  return make_kernel([=](KernelContext& ctx) {
    run_optimizer(ctx, 1, [&](double r, int64_t t, double& x, double g, double* h) {
      const double rate = r / (1.0 + static_cast<double>(t) * decay);
      const double g_regularized = norm * x + g;
      h[0] += g_regularized * g_regularized;
      x -= rate * g_regularized / (std::sqrt(h[0]) + epsilon);
    });
  });
}

std::unique_ptr<Kernel> make_adam(const KernelInfo& info) {
  const double alpha = info.node.attr_float("alpha", 0.9f);
  const double beta = info.node.attr_float("beta", 0.999f);
  const double epsilon = info.node.attr_float("epsilon", 0.0f);
  const double norm = info.node.attr_float("norm_coefficient", 0.0f);
  const double norm_post = info.node.attr_float("norm_coefficient_post", 0.0f);
  return make_kernel([=](KernelContext& ctx) {
    run_optimizer(ctx, 2, [&](double r, int64_t t, double& x, double g, double* vh) {
      const double g_regularized = norm * x + g;
      vh[0] = alpha * vh[0] + (1 - alpha) * g_regularized;
      vh[1] = beta * vh[1] + (1 - beta) * g_regularized * g_regularized;
      const auto td = static_cast<double>(t);
      const double rate = t > 0 ? r * std::sqrt(1 - std::pow(beta, td)) / (1 - std::pow(alpha, td)) : r;
      x = (1 - norm_post) * (x - rate * vh[0] / (std::sqrt(vh[1]) + epsilon));
    });
  });
}

// Outputs: the types of X_1..X_n, then of each state group, which are the inputs after R, T and the
// gradients: output k of group j mirrors input 2 + n * (j + 1) + i with the gradients skipped.
void infer_optimizer(InferenceContext& context, size_t state_count) {
  if (context.input_count() < 2 + 2 + state_count) return;
  const size_t n = (context.input_count() - 2) / (2 + state_count);
  for (size_t i = 0; i < n; ++i) {
    if (const TypeInfo* x = context.input_type(2 + i)) context.set_output_type(i, *x);
    for (size_t k = 0; k < state_count; ++k) {
      if (const TypeInfo* s = context.input_type(2 + (k + 2) * n + i)) context.set_output_type((k + 1) * n + i, *s);
    }
  }
}

const RegisterOp kMomentum{{.domain = kTrainingDomain,
                            .op_type = "Momentum",
                            .since_version = 1,
                            .last_version = INT_MAX,
                            .factory = make_momentum,
                            .infer = [](InferenceContext& c) { infer_optimizer(c, 1); }}};
const RegisterOp kAdagrad{{.domain = kTrainingDomain,
                           .op_type = "Adagrad",
                           .since_version = 1,
                           .last_version = INT_MAX,
                           .factory = make_adagrad,
                           .infer = [](InferenceContext& c) { infer_optimizer(c, 1); }}};
const RegisterOp kAdam{{.domain = kTrainingDomain,
                        .op_type = "Adam",
                        .since_version = 1,
                        .last_version = INT_MAX,
                        .factory = make_adam,
                        .infer = [](InferenceContext& c) { infer_optimizer(c, 2); }}};

}  // namespace
}  // namespace tessera

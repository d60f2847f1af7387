#include "ops/rnn/rnn_common.h"

#include <algorithm>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"

namespace tessera {

float RnnActivation::apply(float x) const {
  if (name == "Sigmoid") return 1.0f / (1.0f + std::exp(-x));
  if (name == "Tanh") return std::tanh(x);
  if (name == "Relu") return std::max(0.0f, x);
  if (name == "Affine") return alpha * x + beta;
  if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
  if (name == "ThresholdedRelu") return x > alpha ? x : 0.0f;
  if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
  if (name == "HardSigmoid") return std::clamp(alpha * x + beta, 0.0f, 1.0f);
  if (name == "Elu") return x >= 0 ? x : alpha * (std::exp(x) - 1.0f);
  if (name == "Softsign") return x / (1.0f + std::fabs(x));
  return std::log1p(std::exp(x));  // Softplus (validated at creation)
}

namespace {
// Default alpha/beta per activation (ONNX's defaults when the attribute lists run short).
void set_default_parameters(RnnActivation& act) {
  if (act.name == "LeakyRelu")
    act.alpha = 0.01f;
  else if (act.name == "ThresholdedRelu" || act.name == "Elu" || act.name == "ScaledTanh")
    act.alpha = 1.0f, act.beta = 1.0f;
  else if (act.name == "HardSigmoid")
    act.alpha = 0.2f, act.beta = 0.5f;
  else if (act.name == "Affine")
    act.alpha = 1.0f;
}

bool uses_alpha(const std::string& n) {
  return n == "Affine" || n == "LeakyRelu" || n == "ThresholdedRelu" || n == "ScaledTanh" || n == "HardSigmoid" ||
         n == "Elu";
}
bool uses_beta(const std::string& n) { return n == "Affine" || n == "ScaledTanh" || n == "HardSigmoid"; }
}  // namespace

RnnAttributes parse_rnn_attributes(const Node& node, const std::vector<std::string>& defaults) {
  RnnAttributes a;
  a.hidden_size = node.attr_int("hidden_size", 0);
  const std::string direction = node.attr_string("direction", "forward");
  check_model(direction == "forward" || direction == "reverse" || direction == "bidirectional", node.label(),
              ": direction '", direction, "' is not forward, reverse or bidirectional");
  a.num_directions = direction == "bidirectional" ? 2 : 1;
  a.reverse_only = direction == "reverse";
  a.clip = node.attr_float("clip", 0.0f);
  a.layout = node.attr_int("layout", 0);
  std::vector<std::string> names = node.attr_strings("activations");
  if (names.empty()) {
    for (int d = 0; d < a.num_directions; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  }
  check_model(names.size() == defaults.size() * static_cast<size_t>(a.num_directions), node.label(), ": expected ",
              defaults.size() * a.num_directions, " activations, got ", names.size());
  const std::vector<float> alphas = node.attr_floats("activation_alpha");
  const std::vector<float> betas = node.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  static const std::vector<std::string> known = {"Sigmoid",         "Tanh",       "Relu",        "Affine", "LeakyRelu",
                                                 "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu",    "Softsign",
                                                 "Softplus"};
  for (const std::string& name : names) {
    RnnActivation act;
    act.name = name;
    check_model(std::find(known.begin(), known.end(), name) != known.end(), node.label(), ": unknown activation '",
                name, "'");
    set_default_parameters(act);
    if (uses_alpha(name) && next_alpha < alphas.size()) act.alpha = alphas[next_alpha++];
    if (uses_beta(name) && next_beta < betas.size()) act.beta = betas[next_beta++];
    a.activations.push_back(act);
  }
  return a;
}

std::vector<float> float_values(const Tensor& t, int64_t expected, const char* what) {
  check_argument(t.element_count() == expected, what, " has ", t.element_count(), " elements (", tensor_text(t),
                 "), expected ", expected);
  std::vector<float> out(static_cast<size_t>(expected));
  if (t.dtype() == DType::kFloat) {
    std::copy_n(t.data<float>(), expected, out.data());
    return out;
  }
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      for (int64_t i = 0; i < expected; ++i) out[i] = static_cast<float>(element_to_double(t.data<T>()[i]));
    } else {
      fail(ErrorCode::kInvalidArgument, what, " must be a float tensor, got ", t.description());
    }
  });
  return out;
}

std::vector<float> read_float_input(KernelContext& ctx, size_t index, int64_t expected, float fill, const char* what) {
  if (!ctx.has_input(index)) return std::vector<float>(static_cast<size_t>(expected), fill);
  return float_values(ctx.input(index), expected, what);
}

RnnInputs read_rnn_inputs(KernelContext& ctx, const RnnAttributes& a) {
  const Tensor& x = ctx.input(0);
  check_argument(x.rank() == 3, "X must have rank 3, got ", tensor_text(x));
  RnnInputs in;
  in.seq_length = a.layout == 0 ? x.dim(0) : x.dim(1);
  in.batch = a.layout == 0 ? x.dim(1) : x.dim(0);
  in.input_size = x.dim(2);
  if (a.layout == 0 && x.dtype() == DType::kFloat) {
    in.x = x.data<float>();
  } else {
    std::vector<float> raw = float_values(x, x.element_count(), "X");
    if (a.layout == 0) {
      in.converted = std::move(raw);
    } else {
      in.converted.resize(raw.size());
      for (int64_t b = 0; b < in.batch; ++b)
        for (int64_t t = 0; t < in.seq_length; ++t)
          std::copy_n(&raw[(b * in.seq_length + t) * in.input_size], in.input_size,
                      &in.converted[(t * in.batch + b) * in.input_size]);
    }
    in.x = in.converted.data();
  }
  in.lengths.assign(static_cast<size_t>(in.batch), in.seq_length);
  if (ctx.has_input(4)) {
    std::vector<int64_t> lens = tensor_to_int64s(ctx.input(4));
    check_argument(static_cast<int64_t>(lens.size()) == in.batch, "sequence_lens has ", lens.size(),
                   " entries for batch ", in.batch);
    for (int64_t b = 0; b < in.batch; ++b) {
      check_argument(lens[b] >= 0 && lens[b] <= in.seq_length, "sequence_lens[", b, "] = ", lens[b], " exceeds ",
                     in.seq_length);
      in.lengths[b] = lens[b];
    }
  }
  return in;
}

namespace {
Tensor float_to_dtype(const std::vector<float>& values, DType dtype, std::vector<int64_t> shape) {
  Tensor out(dtype, std::move(shape));
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      for (size_t i = 0; i < values.size(); ++i) out.data<T>()[i] = element_from_double<T>(values[i]);
    }
  });
  return out;
}
}  // namespace

void write_rnn_output_sequence(KernelContext& ctx, size_t index, const RnnAttributes& a, const RnnInputs& in,
                               const std::vector<float>& y) {
  if (!ctx.output_wanted(index)) return;
  const int64_t h = a.hidden_size, dirs = a.num_directions;
  if (a.layout == 0) {
    ctx.set_output(index, float_to_dtype(y, ctx.input(0).dtype(), {in.seq_length, dirs, in.batch, h}));
    return;
  }
  std::vector<float> permuted(y.size());
  for (int64_t t = 0; t < in.seq_length; ++t)
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t b = 0; b < in.batch; ++b)
        std::copy_n(&y[((t * dirs + d) * in.batch + b) * h], h, &permuted[((b * in.seq_length + t) * dirs + d) * h]);
  ctx.set_output(index, float_to_dtype(permuted, ctx.input(0).dtype(), {in.batch, in.seq_length, dirs, h}));
}

void write_rnn_state(KernelContext& ctx, size_t index, const RnnAttributes& a, const RnnInputs& in,
                     const std::vector<float>& state) {
  if (!ctx.output_wanted(index)) return;
  const int64_t h = a.hidden_size, dirs = a.num_directions;
  if (a.layout == 0) {
    ctx.set_output(index, float_to_dtype(state, ctx.input(0).dtype(), {dirs, in.batch, h}));
    return;
  }
  std::vector<float> permuted(state.size());
  for (int64_t d = 0; d < dirs; ++d)
    for (int64_t b = 0; b < in.batch; ++b)
      std::copy_n(&state[(d * in.batch + b) * h], h, &permuted[(b * dirs + d) * h]);
  ctx.set_output(index, float_to_dtype(permuted, ctx.input(0).dtype(), {in.batch, dirs, h}));
}

}  // namespace tessera

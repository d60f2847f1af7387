// CausalConvWithState (opset 27): depthwise causal 1-D convolution over (batch, channels, length) with a carried
// state. The sequence is concat(past_state or zeros (k - 1 positions), input); output[t] = bias + sum_i w[i] *
// padded[t + i], optionally followed by SiLU ('silu' or 'swish'); present_state holds the last k - 1 positions of
// the padded sequence. The convolution result rounds to the input's type before the activation, as the reference.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/registry.h"
#include "ops/transformer/transformer_common.h"

namespace tessera {
namespace {

using transformer::Precision;

bool parse_activation(const Node& node) {
  const std::string activation = node.attr_string("activation", "none");
  check_model(activation == "none" || activation == "silu" || activation == "swish", node.label(),
              ": activation must be 'none', 'silu' or 'swish', got '", activation, "'");
  return activation != "none";
}

struct ConvShape {
  int64_t batch = 0, channels = 0, length = 0, kernel = 0;
};

ConvShape check_conv_inputs(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  transformer::check_float_input(x, "CausalConvWithState", "input", false);
  check_argument(x.rank() == 3, "CausalConvWithState: input ", tensor_text(x), " must be (batch, channels, length)");
  ConvShape s{x.dim(0), x.dim(1), x.dim(2), 0};
  check_argument(w.dtype() == x.dtype() && w.rank() == 3 && w.dim(0) == s.channels && w.dim(1) == 1 && w.dim(2) >= 1,
                 "CausalConvWithState: weight ", tensor_text(w), " must be (channels, 1, k) with channels ", s.channels,
                 " and the input's dtype");
  s.kernel = w.dim(2);
  if (ctx.has_input(2)) {
    const Tensor& bias = ctx.input(2);
    check_argument(bias.dtype() == x.dtype() && bias.rank() == 1 && bias.dim(0) == s.channels,
                   "CausalConvWithState: bias ", tensor_text(bias), " must be (channels) = [", s.channels, "]");
  }
  if (ctx.has_input(3)) {
    const Tensor& past = ctx.input(3);
    check_argument(past.dtype() == x.dtype() && past.rank() == 3 && past.dim(0) == s.batch &&
                       past.dim(1) == s.channels && past.dim(2) == s.kernel - 1,
                   "CausalConvWithState: past_state ", tensor_text(past), " must be (batch, channels, k - 1) = [",
                   s.batch, ",", s.channels, ",", s.kernel - 1, "]");
  }
  return s;
}

void compute_causal_conv(bool silu, KernelContext& ctx) {
  const ConvShape s = check_conv_inputs(ctx);
  const Tensor& x = ctx.input(0);
  const std::vector<float> w = transformer::to_floats(ctx.input(1));
  const std::vector<float> bias = ctx.has_input(2) ? transformer::to_floats(ctx.input(2)) : std::vector<float>();
  const Tensor* past = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  const Precision p = transformer::precision_of(x.dtype());
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
  Tensor* state =
      ctx.output_wanted(1) ? &ctx.allocate_output(1, x.dtype(), {s.batch, s.channels, s.kernel - 1}) : nullptr;
  const int64_t carry = s.kernel - 1;
  ctx.parallelism().parallel_for(s.batch * s.channels, [&](int64_t begin, int64_t end) {
    std::vector<float> padded(static_cast<size_t>(carry + s.length));
    std::vector<float> out(static_cast<size_t>(s.length));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t c = row % s.channels;
      if (past != nullptr)
        transformer::load_floats(*past, row * carry, carry, padded.data());
      else
        std::fill(padded.begin(), padded.begin() + carry, 0.0f);
      transformer::load_floats(x, row * s.length, s.length, padded.data() + carry);
      const float* wc = w.data() + c * s.kernel;
      const float b = bias.empty() ? 0.0f : bias[static_cast<size_t>(c)];
      for (int64_t t = 0; t < s.length; ++t) {
        float sum = 0;
        for (int64_t i = 0; i < s.kernel; ++i) sum += wc[i] * padded[static_cast<size_t>(t + i)];
        float v = transformer::round_to(p, sum + b);
        if (silu) v = v / (1.0f + std::exp(-v));
        out[static_cast<size_t>(t)] = v;
      }
      transformer::store_floats(out.data(), s.length, y, row * s.length);
      if (state != nullptr) transformer::store_floats(padded.data() + s.length, carry, *state, row * carry);
    }
  });
}

std::unique_ptr<Kernel> make_causal_conv(const KernelInfo& info) {
  const bool silu = parse_activation(info.node);
  return make_kernel([silu](KernelContext& ctx) { compute_causal_conv(silu, ctx); });
}

void infer_causal_conv(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  ctx.set_output_type(0, *x);
  if (ctx.output_count() < 2) return;
  const std::optional<std::vector<Dim>> xd = transformer::dims_of_rank(x, 3);
  const std::optional<std::vector<Dim>> wd = transformer::dims_of_rank(ctx.input_type(1), 3);
  if (!xd) {
    ctx.set_output_type(1, TypeInfo::tensor(x->elem_type));
    return;
  }
  const Dim carry = wd && (*wd)[2].is_known() ? Dim::known((*wd)[2].value - 1) : Dim{};
  ctx.set_output_type(1, TypeInfo::tensor(x->elem_type, std::vector<Dim>{(*xd)[0], (*xd)[1], carry}));
}

const RegisterOp kCausalConvWithState{{.op_type = "CausalConvWithState",
                                       .since_version = 27,
                                       .last_version = INT_MAX,
                                       .factory = make_causal_conv,
                                       .infer = infer_causal_conv}};

}  // namespace
}  // namespace tessera

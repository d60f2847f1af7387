// LinearAttention (opset 27): the recurrent linear-attention family over packed (batch, T, heads * size) inputs,
// token by token, with a (batch, kv_heads, d_k, d_v) state per KV head shared by its group of query heads:
//   linear:      S = S + k v^T
//   gated:       S = exp(g) S + k v^T
//   delta:       S = S + beta k (v - S^T k)^T
//   gated_delta: S = exp(g) S + beta k (v - exp(g) S^T k)^T
// and o = scale * S^T q. Computes in float; the output has the query's dtype, present_state past_state's dtype
// (the query's when absent).
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/registry.h"
#include "ops/transformer/transformer_common.h"

namespace tessera {
namespace {

struct LinearAttentionConfig {
  int64_t q_heads = 0, kv_heads = 0;
  float scale = 0;
  bool gating = false, delta = false;
};

LinearAttentionConfig parse_linear_attention(const Node& node) {
  LinearAttentionConfig c;
  node.required_attribute("q_num_heads");
  node.required_attribute("kv_num_heads");
  c.q_heads = node.attr_int("q_num_heads", 0);
  c.kv_heads = node.attr_int("kv_num_heads", 0);
  check_model(c.q_heads > 0 && c.kv_heads > 0 && c.q_heads % c.kv_heads == 0, node.label(), ": q_num_heads (",
              c.q_heads, ") must be a positive multiple of kv_num_heads (", c.kv_heads, ")");
  c.scale = node.attr_float("scale", 0.0f);
  const std::string rule = node.attr_string("update_rule", "gated_delta");
  check_model(rule == "linear" || rule == "gated" || rule == "delta" || rule == "gated_delta", node.label(),
              ": update_rule must be 'linear', 'gated', 'delta' or 'gated_delta', got '", rule, "'");
  c.gating = rule == "gated" || rule == "gated_delta";
  c.delta = rule == "delta" || rule == "gated_delta";
  check_model(node.attr_int("chunk_size", 64) > 0, node.label(), ": chunk_size must be positive");
  return c;
}

struct LinearDims {
  int64_t batch = 0, steps = 0, d_k = 0, d_v = 0;
  int64_t decay_width = 0;  // 0 (absent), 1 (per head) or d_k (per key dimension)
  int64_t beta_heads = 0;   // 0 (absent), 1 (shared) or kv_heads
};

// Validates the inputs against the attributes and returns the sizes.
LinearDims check_linear_inputs(const LinearAttentionConfig& c, KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  transformer::check_float_input(q, "LinearAttention", "query", false);
  for (const Tensor* t : {&q, &k, &v}) {
    check_argument(t->rank() == 3 && t->dtype() == q.dtype() && t->dim(0) == q.dim(0) && t->dim(1) == q.dim(1),
                   "LinearAttention: query ", tensor_text(q), ", key ", tensor_text(k), " and value ", tensor_text(v),
                   " must be 3-D (batch, T, heads * size) of one dtype, batch and length");
  }
  LinearDims d{q.dim(0), q.dim(1), 0, 0, 0, 0};
  check_argument(q.dim(2) % c.q_heads == 0 && v.dim(2) % c.kv_heads == 0, "LinearAttention: query ", tensor_text(q),
                 " or value ", tensor_text(v), " is not divisible into its heads");
  d.d_k = q.dim(2) / c.q_heads;
  d.d_v = v.dim(2) / c.kv_heads;
  check_argument(k.dim(2) == c.kv_heads * d.d_k, "LinearAttention: key ", tensor_text(k), " must have ", c.kv_heads,
                 " heads of the query's size ", d.d_k);
  const bool has_decay = ctx.has_input(4), has_beta = ctx.has_input(5);
  check_argument(has_decay == c.gating, "LinearAttention: decay is ", c.gating ? "required" : "not allowed",
                 " for this update_rule");
  check_argument(has_beta == c.delta, "LinearAttention: beta is ", c.delta ? "required" : "not allowed",
                 " for this update_rule");
  if (has_decay) {
    const Tensor& g = ctx.input(4);
    const bool ok = g.rank() == 3 && g.dim(0) == d.batch && g.dim(1) == d.steps &&
                    (g.dim(2) == c.kv_heads || g.dim(2) == c.kv_heads * d.d_k);
    check_argument(ok, "LinearAttention: decay ", tensor_text(g), " must be (batch, T, kv_heads) or (batch, T, ",
                   "kv_heads * d_k)");
    transformer::check_float_input(g, "LinearAttention", "decay", false);
    d.decay_width = g.dim(2) == c.kv_heads * d.d_k ? d.d_k : 1;
  }
  if (has_beta) {
    const Tensor& beta = ctx.input(5);
    const bool ok = beta.rank() == 3 && beta.dim(0) == d.batch && beta.dim(1) == d.steps &&
                    (beta.dim(2) == c.kv_heads || beta.dim(2) == 1);
    check_argument(ok, "LinearAttention: beta ", tensor_text(beta), " must be (batch, T, kv_heads) or (batch, T, 1)");
    transformer::check_float_input(beta, "LinearAttention", "beta", false);
    d.beta_heads = beta.dim(2);
  }
  if (ctx.has_input(3)) {
    const Tensor& past = ctx.input(3);
    transformer::check_float_input(past, "LinearAttention", "past_state", false);
    check_argument(past.shape() == std::vector<int64_t>{d.batch, c.kv_heads, d.d_k, d.d_v},
                   "LinearAttention: past_state ", tensor_text(past), " must be (batch, kv_heads, d_k, d_v) = [",
                   d.batch, ",", c.kv_heads, ",", d.d_k, ",", d.d_v, "]");
  }
  return d;
}

// Inputs staged as float, shared by the tasks.
struct LinearInputs {
  std::vector<float> q, k, v, decay, beta;
};

// Runs every step for KV head h of batch b: updates `state` (d_k x d_v) and writes the outputs of its query heads.
void run_kv_head(const LinearAttentionConfig& c, const LinearDims& d, const LinearInputs& in, int64_t b, int64_t h,
                 float scale, float* state, float* out) {
  const int64_t group = c.q_heads / c.kv_heads;
  std::vector<float> update(static_cast<size_t>(d.d_v)), gate(static_cast<size_t>(d.d_k));
  for (int64_t t = 0; t < d.steps; ++t) {
    const int64_t token = b * d.steps + t;
    const float* k = in.k.data() + (token * c.kv_heads + h) * d.d_k;
    const float* v = in.v.data() + (token * c.kv_heads + h) * d.d_v;
    if (c.gating) {
      const float* g = in.decay.data() + (token * c.kv_heads + h) * d.decay_width;
      for (int64_t i = 0; i < d.d_k; ++i) gate[static_cast<size_t>(i)] = std::exp(g[d.decay_width == 1 ? 0 : i]);
      for (int64_t i = 0; i < d.d_k; ++i) {
        for (int64_t j = 0; j < d.d_v; ++j) state[i * d.d_v + j] *= gate[static_cast<size_t>(i)];
      }
    }
    for (int64_t j = 0; j < d.d_v; ++j) update[static_cast<size_t>(j)] = v[j];
    if (c.delta) {
      const float beta = in.beta[static_cast<size_t>(token * d.beta_heads + (d.beta_heads == 1 ? 0 : h))];
      std::vector<float> retrieved(static_cast<size_t>(d.d_v), 0.0f);
      for (int64_t i = 0; i < d.d_k; ++i) {
        for (int64_t j = 0; j < d.d_v; ++j) retrieved[static_cast<size_t>(j)] += state[i * d.d_v + j] * k[i];
      }
      for (int64_t j = 0; j < d.d_v; ++j) {
        update[static_cast<size_t>(j)] = beta * (v[j] - retrieved[static_cast<size_t>(j)]);
      }
    }
    for (int64_t i = 0; i < d.d_k; ++i) {
      for (int64_t j = 0; j < d.d_v; ++j) state[i * d.d_v + j] += k[i] * update[static_cast<size_t>(j)];
    }
    for (int64_t qh = h * group; qh < (h + 1) * group; ++qh) {
      const float* q = in.q.data() + (token * c.q_heads + qh) * d.d_k;
      float* o = out + (token * c.q_heads + qh) * d.d_v;
      for (int64_t j = 0; j < d.d_v; ++j) o[j] = 0;
      for (int64_t i = 0; i < d.d_k; ++i) {
        for (int64_t j = 0; j < d.d_v; ++j) o[j] += q[i] * state[i * d.d_v + j];
      }
      for (int64_t j = 0; j < d.d_v; ++j) o[j] *= scale;
    }
  }
}

void compute_linear_attention(const LinearAttentionConfig& c, KernelContext& ctx) {
  const LinearDims d = check_linear_inputs(c, ctx);
  LinearInputs in;
  in.q = transformer::to_floats(ctx.input(0));
  in.k = transformer::to_floats(ctx.input(1));
  in.v = transformer::to_floats(ctx.input(2));
  if (c.gating) in.decay = transformer::to_floats(ctx.input(4));
  if (c.delta) in.beta = transformer::to_floats(ctx.input(5));
  std::vector<float> state = ctx.has_input(3)
                                 ? transformer::to_floats(ctx.input(3))
                                 : std::vector<float>(static_cast<size_t>(d.batch * c.kv_heads * d.d_k * d.d_v));
  const float scale = c.scale == 0.0f ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.d_k))) : c.scale;
  std::vector<float> out(static_cast<size_t>(d.batch * d.steps * c.q_heads * d.d_v));
  ctx.parallelism().parallel_for(d.batch * c.kv_heads, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      run_kv_head(c, d, in, task / c.kv_heads, task % c.kv_heads, scale, state.data() + task * d.d_k * d.d_v,
                  out.data());
    }
  });
  const DType dtype = ctx.input(0).dtype();
  ctx.set_output(0, transformer::tensor_from_floats(out, dtype, {d.batch, d.steps, c.q_heads * d.d_v}));
  if (ctx.output_wanted(1)) {
    const DType state_dtype = ctx.has_input(3) ? ctx.input(3).dtype() : dtype;
    ctx.set_output(1, transformer::tensor_from_floats(state, state_dtype, {d.batch, c.kv_heads, d.d_k, d.d_v}));
  }
}

std::unique_ptr<Kernel> make_linear_attention(const KernelInfo& info) {
  const LinearAttentionConfig config = parse_linear_attention(info.node);
  return make_kernel([config](KernelContext& ctx) { compute_linear_attention(config, ctx); });
}

void infer_linear_attention(InferenceContext& ctx) {
  const TypeInfo* q = ctx.input_type(0);
  if (q == nullptr || !q->is_tensor()) return;
  const Node& node = ctx.node();
  const int64_t q_heads = node.attr_int("q_num_heads", 0), kv_heads = node.attr_int("kv_num_heads", 0);
  if (q_heads <= 0 || kv_heads <= 0) return;
  const std::optional<std::vector<Dim>> qd = transformer::dims_of_rank(q, 3);
  const std::optional<std::vector<Dim>> vd = transformer::dims_of_rank(ctx.input_type(2), 3);
  const Dim d_v = vd ? transformer::dim_quotient((*vd)[2], kv_heads) : Dim{};
  if (!qd) {
    ctx.set_output_type(0, TypeInfo::tensor(q->elem_type));
    return;
  }
  const Dim d_k = transformer::dim_quotient((*qd)[2], q_heads);
  ctx.set_output_type(
      0, TypeInfo::tensor(q->elem_type,
                          std::vector<Dim>{(*qd)[0], (*qd)[1], transformer::dim_product(Dim::known(q_heads), d_v)}));
  DType state_dtype = q->elem_type;
  if (node.has_input(3)) {
    const TypeInfo* past = ctx.input_type(3);
    if (past == nullptr || !past->is_tensor()) return;
    state_dtype = past->elem_type;
  }
  ctx.set_output_type(1, TypeInfo::tensor(state_dtype, std::vector<Dim>{(*qd)[0], Dim::known(kv_heads), d_k, d_v}));
}

const RegisterOp kLinearAttention{{.op_type = "LinearAttention",
                                   .since_version = 27,
                                   .last_version = INT_MAX,
                                   .factory = make_linear_attention,
                                   .infer = infer_linear_attention}};

}  // namespace
}  // namespace tessera

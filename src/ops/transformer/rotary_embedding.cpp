// RotaryEmbedding (opset 23): rotates the first rotary_embedding_dim features of every head by the angles in
// cos_cache/sin_cache, picked by position_ids (caches of shape (max_position, dim/2)) or given per token (caches of
// shape (batch, sequence, dim/2)). X is 4-D (batch, heads, sequence, head_size) or 3-D (batch, sequence,
// heads * head_size) with the num_heads attribute. Pairs are (x[j], x[j + dim/2]), or (x[2j], x[2j+1]) when
// interleaved. Products and sums round to X's type as the reference computes them. com.microsoft RotaryEmbedding
// (ONNX Runtime's form: inputs reordered, position_ids possibly one offset) runs on the same kernel.
#include <climits>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/transformer/rotary.h"
#include "ops/transformer/transformer_common.h"

namespace tessera {
namespace {

using transformer::Precision;

struct RotaryConfig {
  bool interleaved = false;
  int64_t rotary_dim = 0;  // 0: the whole head
  int64_t num_heads = 0;   // 0: absent
};

RotaryConfig parse_rotary(const Node& node) {
  RotaryConfig c;
  const int64_t interleaved = node.attr_int("interleaved", 0);
  check_model(interleaved == 0 || interleaved == 1, node.label(), ": interleaved must be 0 or 1, got ", interleaved);
  c.interleaved = interleaved == 1;
  c.rotary_dim = node.attr_int("rotary_embedding_dim", 0);
  c.num_heads = node.attr_int("num_heads", 0);
  check_model(c.rotary_dim >= 0 && c.num_heads >= 0, node.label(),
              ": rotary_embedding_dim and num_heads must be nonnegative");
  return c;
}

struct RotaryDims {
  int64_t batch = 0, heads = 0, seq = 0, head_size = 0, rotary_dim = 0;
  bool packed = false;

  // Element offset of the first feature of (b, s, h) in X.
  int64_t offset(int64_t b, int64_t s, int64_t h) const {
    return packed ? ((b * seq + s) * heads + h) * head_size : ((b * heads + h) * seq + s) * head_size;
  }
};

RotaryDims resolve_rotary(const RotaryConfig& c, const Tensor& x) {
  check_argument(x.rank() == 3 || x.rank() == 4, "RotaryEmbedding: input ", tensor_text(x), " must be 3-D or 4-D");
  RotaryDims d;
  d.batch = x.dim(0);
  if (x.rank() == 4) {
    d.heads = x.dim(1);
    d.seq = x.dim(2);
    d.head_size = x.dim(3);
  } else {
    d.packed = true;
    check_argument(c.num_heads > 0, "RotaryEmbedding: a 3-D input ", tensor_text(x), " needs the num_heads attribute");
    check_argument(x.dim(2) % c.num_heads == 0, "RotaryEmbedding: hidden size of ", tensor_text(x),
                   " is not a multiple of num_heads ", c.num_heads);
    d.heads = c.num_heads;
    d.seq = x.dim(1);
    d.head_size = x.dim(2) / c.num_heads;
  }
  d.rotary_dim = c.rotary_dim == 0 ? d.head_size : c.rotary_dim;
  check_argument(d.rotary_dim % 2 == 0 && d.rotary_dim <= d.head_size, "RotaryEmbedding: rotary dimension ",
                 d.rotary_dim, " must be even and at most the head size ", d.head_size, " of ", tensor_text(x));
  return d;
}

// Index of the cache row for token (b, s): position_ids[b, s], or b * seq + s for per-token caches.
std::vector<int64_t> cache_rows(const RotaryDims& d, const Tensor& cos, const Tensor& sin, const Tensor* position_ids) {
  const int64_t half = d.rotary_dim / 2;
  check_argument(cos.shape() == sin.shape(), "RotaryEmbedding: cos_cache ", tensor_text(cos), " and sin_cache ",
                 tensor_text(sin), " differ in shape");
  std::vector<int64_t> rows(static_cast<size_t>(d.batch * d.seq));
  if (position_ids == nullptr) {
    check_argument(cos.rank() == 3 && cos.dim(0) == d.batch && cos.dim(1) == d.seq && cos.dim(2) == half,
                   "RotaryEmbedding: without position_ids, cos_cache ", tensor_text(cos),
                   " must have shape (batch, sequence, rotary_dim / 2) = [", d.batch, ",", d.seq, ",", half, "]");
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
    return rows;
  }
  check_argument(cos.rank() == 2 && cos.dim(1) == half, "RotaryEmbedding: with position_ids, cos_cache ",
                 tensor_text(cos), " must have shape (max_position, rotary_dim / 2) with rotary_dim / 2 = ", half);
  check_argument(position_ids->rank() == 2 && position_ids->dim(0) == d.batch && position_ids->dim(1) == d.seq,
                 "RotaryEmbedding: position_ids ", tensor_text(*position_ids), " must have shape (batch, sequence) = [",
                 d.batch, ",", d.seq, "]");
  const std::vector<int64_t> ids = tensor_to_int64s(*position_ids);
  for (size_t i = 0; i < rows.size(); ++i) {
    check_argument(ids[i] >= 0 && ids[i] < cos.dim(0), "RotaryEmbedding: position id ", ids[i],
                   " is outside the cache's ", cos.dim(0), " positions");
    rows[i] = ids[i];
  }
  return rows;
}

Tensor compute_rotary(const RotaryConfig& c, const Tensor& x, const Tensor& cos_cache, const Tensor& sin_cache,
                      const Tensor* position_ids, Parallelism& parallelism) {
  transformer::check_float_input(x, "RotaryEmbedding", "input", false);
  check_argument(cos_cache.dtype() == x.dtype() && sin_cache.dtype() == x.dtype(), "RotaryEmbedding: cos_cache ",
                 tensor_text(cos_cache), " and sin_cache ", tensor_text(sin_cache), " must have the input's dtype");
  const RotaryDims d = resolve_rotary(c, x);
  const std::vector<int64_t> rows = cache_rows(d, cos_cache, sin_cache, position_ids);
  const std::vector<float> cos = transformer::to_floats(cos_cache);
  const std::vector<float> sin = transformer::to_floats(sin_cache);
  const Precision p = transformer::precision_of(x.dtype());
  Tensor y(x.dtype(), x.shape());  // every head is loaded whole, rotated in part and stored whole
  const int64_t half = d.rotary_dim / 2;
  const int64_t stride = c.interleaved ? 2 : 1;      // distance between the features of a pair's members
  const int64_t partner = c.interleaved ? 1 : half;  // offset of the second member
  auto r = [p](float v) { return transformer::round_to(p, v); };
  parallelism.parallel_for(d.batch * d.seq, [&](int64_t begin, int64_t end) {
    std::vector<float> head(static_cast<size_t>(d.head_size));
    for (int64_t token = begin; token < end; ++token) {
      const int64_t b = token / d.seq, s = token % d.seq;
      const float* cr = cos.data() + rows[static_cast<size_t>(token)] * half;
      const float* sr = sin.data() + rows[static_cast<size_t>(token)] * half;
      for (int64_t h = 0; h < d.heads; ++h) {
        const int64_t offset = d.offset(b, s, h);
        transformer::load_floats(x, offset, d.head_size, head.data());
        for (int64_t j = 0; j < half; ++j) {
          float& first = head[static_cast<size_t>(j * stride)];
          float& second = head[static_cast<size_t>(j * stride + partner)];
          const float x1 = first, x2 = second;
          first = r(r(cr[j] * x1) - r(sr[j] * x2));
          second = r(r(sr[j] * x1) + r(cr[j] * x2));
        }
        transformer::store_floats(head.data(), d.head_size, y, offset);
      }
    }
  });
  return y;
}

std::unique_ptr<Kernel> make_rotary(const KernelInfo& info) {
  const RotaryConfig config = parse_rotary(info.node);
  return make_kernel([config](KernelContext& ctx) {
    ctx.set_output(0, compute_rotary(config, ctx.input(0), ctx.input(1), ctx.input(2),
                                     ctx.has_input(3) ? &ctx.input(3) : nullptr, ctx.parallelism()));
  });
}

// com.microsoft RotaryEmbedding (ONNX Runtime's contrib op, the model of the ONNX one): inputs (input, position_ids,
// cos_cache, sin_cache); position_ids (batch, sequence), or one value: the position of the first token, the others
// following it; without num_heads a 3-D input's head size is twice cos_cache's second dim. `scale` is not used on
// the CPU (as in ONNX Runtime); packed batching is refused.
std::unique_ptr<Kernel> make_contrib_rotary(const KernelInfo& info) {
  const RotaryConfig config = parse_rotary(info.node);
  check_model(info.node.attr_int("is_packed_batching", 0) == 0, info.node.label(),
              ": is_packed_batching is not supported");
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& ids = ctx.input(1);
    const Tensor& cos_cache = ctx.input(2);
    RotaryConfig c = config;
    if (c.num_heads == 0 && x.rank() == 3) {
      check_argument(cos_cache.rank() == 2 && cos_cache.dim(1) > 0 && x.dim(2) % (2 * cos_cache.dim(1)) == 0,
                     "RotaryEmbedding: without num_heads, hidden size of ", tensor_text(x),
                     " must be a multiple of twice cos_cache's last dim ", tensor_text(cos_cache));
      c.num_heads = x.dim(2) / (2 * cos_cache.dim(1));
    }
    const int64_t batch = x.dim(0), seq = x.rank() == 3 ? x.dim(1) : x.dim(2);
    if (ids.element_count() != 1) {
      ctx.set_output(0, compute_rotary(c, x, cos_cache, ctx.input(3), &ids, ctx.parallelism()));
      return;
    }
    const int64_t first = tensor_to_int64s(ids)[0];
    Tensor positions(DType::kInt64, {batch, seq});
    for (int64_t i = 0; i < batch * seq; ++i) positions.data<int64_t>()[i] = first + i % seq;
    ctx.set_output(0, compute_rotary(c, x, cos_cache, ctx.input(3), &positions, ctx.parallelism()));
  });
}

const RegisterOp kRotaryEmbedding{{.op_type = "RotaryEmbedding",
                                   .since_version = 23,
                                   .last_version = INT_MAX,
                                   .factory = make_rotary,
                                   .infer = infer_same_as_input}};
const RegisterOp kContribRotaryEmbedding{{.domain = kMicrosoftDomain,
                                          .op_type = "RotaryEmbedding",
                                          .since_version = 1,
                                          .last_version = INT_MAX,
                                          .factory = make_contrib_rotary,
                                          .infer = infer_same_as_input}};

}  // namespace

Tensor transformer::rotary_embedding(const Tensor& x, const Tensor& cos_cache, const Tensor& sin_cache,
                                     const Tensor* position_ids, bool interleaved, int64_t num_heads,
                                     Parallelism& parallelism) {
  RotaryConfig c;
  c.interleaved = interleaved;
  c.num_heads = num_heads;
  return compute_rotary(c, x, cos_cache, sin_cache, position_ids, parallelism);
}

}  // namespace tessera

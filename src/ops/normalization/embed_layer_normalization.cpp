// com.microsoft EmbedLayerNormalization (ONNX Runtime's contrib op, the BERT embedding its transformer optimizer
// fuses): per token, e = word_embedding[input_ids] + position_embedding[position] (+ segment_embedding[segment_ids]),
// output = LayerNorm(e) * gamma + beta over the hidden dim (epsilon, default 1e-12). Positions are 0..S-1 unless
// position_ids ([B, S] or [1, S]) gives them. Output 1, mask_index [B] int32, is the count of non-zero entries of
// each row of mask ([B, S]), zeros without a mask (as ONNX Runtime); output 2 (embedding_sum) is e. Ids out of range are clear
// errors. Rows run in parallel; statistics in double over one row.
#include <climits>
#include <cmath>
#include <cstring>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Input ids as int64 (int32 as ONNX Runtime takes them; int64 accepted too).
int64_t id_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i];
}

void check_ids(const std::string& label, const Tensor& ids, const char* name, int64_t batch, int64_t seq,
               bool allow_one_batch) {
  check_argument((ids.dtype() == DType::kInt32 || ids.dtype() == DType::kInt64) && ids.rank() == 2 &&
                     (ids.dim(0) == batch || (allow_one_batch && ids.dim(0) == 1)) && ids.dim(1) == seq,
                 label, ": ", name, " ", tensor_text(ids), " must be int32 [", batch, ", ", seq, "]");
}

const float* table_row(const std::string& label, const Tensor& table, const char* name, int64_t id) {
  check_argument(id >= 0 && id < table.dim(0), label, ": ", name, " id ", id, " is out of range for ",
                 tensor_text(table));
  return table.data<float>() + id * table.dim(1);
}

void check_table(const std::string& label, const Tensor& t, const char* name, int64_t hidden) {
  check_argument(t.dtype() == DType::kFloat && t.rank() == 2 && t.dim(1) == hidden, label, ": ", name, " ",
                 tensor_text(t), " must be float [rows, ", hidden, "]");
}

struct EmbedInputs {
  const Tensor *ids, *segments, *words, *positions, *segment_table, *gamma, *beta, *mask, *position_ids;
};

EmbedInputs check_inputs(const std::string& label, KernelContext& ctx) {
  auto opt = [&](size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; };
  EmbedInputs in{&ctx.input(0), opt(1), &ctx.input(2), &ctx.input(3), opt(4), &ctx.input(5), opt(6), opt(7), opt(8)};
  check_argument(in.ids->rank() == 2, label, ": input_ids ", tensor_text(*in.ids), " must be [batch, sequence]");
  const int64_t batch = in.ids->dim(0), seq = in.ids->dim(1), hidden = in.words->rank() == 2 ? in.words->dim(1) : 0;
  check_ids(label, *in.ids, "input_ids", batch, seq, false);
  check_table(label, *in.words, "word_embedding", hidden);
  check_table(label, *in.positions, "position_embedding", hidden);
  check_argument((in.segments == nullptr) == (in.segment_table == nullptr), label,
                 ": segment_ids and segment_embedding come together");
  if (in.segments) {
    check_ids(label, *in.segments, "segment_ids", batch, seq, false);
    check_table(label, *in.segment_table, "segment_embedding", hidden);
  }
  for (const Tensor* v : {in.gamma, in.beta}) {
    if (v) {
      check_argument(v->dtype() == DType::kFloat && v->rank() == 1 && v->dim(0) == hidden, label, ": gamma/beta ",
                     tensor_text(*v), " must be float [", hidden, "]");
    }
  }
  if (in.mask) check_ids(label, *in.mask, "mask", batch, seq, false);
  if (in.position_ids) check_ids(label, *in.position_ids, "position_ids", batch, seq, true);
  return in;
}

void compute_embed_layer_norm(const std::string& label, float epsilon, KernelContext& ctx) {
  const EmbedInputs in = check_inputs(label, ctx);
  const int64_t batch = in.ids->dim(0), seq = in.ids->dim(1), hidden = in.words->dim(1);
  Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, {batch, seq, hidden});
  float* sums =
      ctx.output_wanted(2) ? ctx.allocate_output(2, DType::kFloat, {batch, seq, hidden}).data<float>() : nullptr;
  ctx.parallelism().parallel_for(batch * seq, [&](int64_t begin, int64_t end) {
    std::vector<float> e(static_cast<size_t>(hidden));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t s = r % seq;
      const int64_t pos = in.position_ids ? id_at(*in.position_ids, in.position_ids->dim(0) == 1 ? s : r) : s;
      const float* w = table_row(label, *in.words, "input_ids", id_at(*in.ids, r));
      const float* p = table_row(label, *in.positions, "position", pos);
      const float* g =
          in.segments ? table_row(label, *in.segment_table, "segment_ids", id_at(*in.segments, r)) : nullptr;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < hidden; ++i) {
        e[i] = w[i] + p[i] + (g ? g[i] : 0.0f);
        mean += e[i];
      }
      mean /= static_cast<double>(hidden);
      for (float v : e) var += (v - mean) * (v - mean);
      const double inv = 1.0 / std::sqrt(var / static_cast<double>(hidden) + epsilon);
      float* out = y.data<float>() + r * hidden;
      for (int64_t i = 0; i < hidden; ++i) {
        const float n = static_cast<float>((e[i] - mean) * inv) * in.gamma->data<float>()[i];
        out[i] = in.beta ? n + in.beta->data<float>()[i] : n;
      }
      if (sums) std::memcpy(sums + r * hidden, e.data(), hidden * sizeof(float));
    }
  });
  if (ctx.output_wanted(1)) {
    int32_t* mask_index = ctx.allocate_output(1, DType::kInt32, {batch}).data<int32_t>();
    for (int64_t b = 0; b < batch; ++b) {
      int64_t count = 0;  // no mask: zeros, as ONNX Runtime writes them
      for (int64_t s = 0; in.mask && s < seq; ++s) count += id_at(*in.mask, b * seq + s) != 0 ? 1 : 0;
      mask_index[b] = static_cast<int32_t>(count);
    }
  }
}

std::unique_ptr<Kernel> make_embed_layer_norm(const KernelInfo& info) {
  const float epsilon = info.node.attr_float("epsilon", 1e-12f);
  check_model(std::isfinite(epsilon) && epsilon >= 0, info.node.label(), ": epsilon must be finite and >= 0, got ",
              epsilon);
  check_model(info.node.attr_int("mask_index_type", 1) == 1 || !info.node.has_input(7), info.node.label(),
              ": only mask_index_type 1 (a [batch] mask_index) is supported");
  return make_kernel(
      [label = info.node.label(), epsilon](KernelContext& ctx) { compute_embed_layer_norm(label, epsilon, ctx); });
}

void infer_embed_layer_norm(InferenceContext& ctx) {
  const TypeInfo* ids = ctx.input_type(0);
  const TypeInfo* words = ctx.input_type(2);
  std::optional<std::vector<Dim>> shape, batch;
  if (ids && ids->shape && ids->shape->size() == 2) {
    const Dim hidden = words && words->shape && words->shape->size() == 2 ? (*words->shape)[1] : Dim{};
    shape = std::vector<Dim>{(*ids->shape)[0], (*ids->shape)[1], hidden};
    batch = std::vector<Dim>{(*ids->shape)[0]};
  }
  ctx.set_output_type(0, TypeInfo::tensor(DType::kFloat, shape));
  if (ctx.output_count() > 1) ctx.set_output_type(1, TypeInfo::tensor(DType::kInt32, batch));
  if (ctx.output_count() > 2) ctx.set_output_type(2, TypeInfo::tensor(DType::kFloat, shape));
}

const RegisterOp kEmbedLayerNorm{{.domain = kMicrosoftDomain,
                                  .op_type = "EmbedLayerNormalization",
                                  .since_version = 1,
                                  .last_version = INT_MAX,
                                  .factory = make_embed_layer_norm,
                                  .infer = infer_embed_layer_norm}};

}  // namespace
}  // namespace tessera

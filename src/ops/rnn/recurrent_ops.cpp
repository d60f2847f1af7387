// RNN, GRU and LSTM: one time loop (per direction, honouring sequence_lens) around three cell functions; and
// com.microsoft DynamicQuantizeLSTM on the same loop.
#include <algorithm>
#include <climits>
#include <memory>
#include <optional>

#include "ops/registry.h"
#include "ops/rnn/rnn_common.h"

namespace tessera {
namespace {

enum class CellKind { kRnn, kGru, kLstm };

int gate_count(CellKind kind) { return kind == CellKind::kRnn ? 1 : (kind == CellKind::kGru ? 3 : 4); }

float clipped(float x, float clip) { return clip > 0 ? std::clamp(x, -clip, clip) : x; }

struct Weights {
  std::vector<float> w, r, b, p;  // all directions
  int64_t input_size = 0;
};

// Runs one recurrent step for one batch row of one direction; h and c are updated in place.
void cell_step(CellKind kind, const RnnAttributes& a, bool linear_before_reset, bool input_forget, int dir,
               const Weights& weights, const float* x, float* h, float* c) {
  const int64_t hs = a.hidden_size, gates = gate_count(kind), in = weights.input_size;
  const float* w = &weights.w[dir * gates * hs * in];
  const float* r = &weights.r[dir * gates * hs * hs];
  const float* wb = &weights.b[dir * 2 * gates * hs];
  const float* rb = wb + gates * hs;
  const RnnActivation* act = &a.activations[dir * (kind == CellKind::kRnn ? 1 : (kind == CellKind::kGru ? 2 : 3))];
  std::vector<float> xw(gates * hs, 0.0f), hr(gates * hs, 0.0f);
  matmul_transposed(x, w, xw.data(), 1, in, gates * hs);
  matmul_transposed(h, r, hr.data(), 1, hs, gates * hs);
  std::vector<float> next(hs);
  if (kind == CellKind::kRnn) {
    for (int64_t j = 0; j < hs; ++j) next[j] = act[0].apply(clipped(xw[j] + hr[j] + wb[j] + rb[j], a.clip));
  } else if (kind == CellKind::kGru) {
    // Gate order z, r, h.
    std::vector<float> reset_h(hs);
    std::vector<float> z(hs), rg(hs);
    for (int64_t j = 0; j < hs; ++j) {
      z[j] = act[0].apply(clipped(xw[j] + hr[j] + wb[j] + rb[j], a.clip));
      rg[j] = act[0].apply(clipped(xw[hs + j] + hr[hs + j] + wb[hs + j] + rb[hs + j], a.clip));
    }
    std::vector<float> candidate_r(hs, 0.0f);
    if (!linear_before_reset) {
      for (int64_t j = 0; j < hs; ++j) reset_h[j] = rg[j] * h[j];
      matmul_transposed(reset_h.data(), r + 2 * hs * hs, candidate_r.data(), 1, hs, hs);
      for (int64_t j = 0; j < hs; ++j) candidate_r[j] += rb[2 * hs + j];
    } else {
      for (int64_t j = 0; j < hs; ++j) candidate_r[j] = rg[j] * (hr[2 * hs + j] + rb[2 * hs + j]);
    }
    for (int64_t j = 0; j < hs; ++j) {
      const float candidate = act[1].apply(clipped(xw[2 * hs + j] + candidate_r[j] + wb[2 * hs + j], a.clip));
      next[j] = (1.0f - z[j]) * candidate + z[j] * h[j];
    }
  } else {
    // Gate order i, o, f, c; peepholes i, o, f.
    const float* p = &weights.p[dir * 3 * hs];
    for (int64_t j = 0; j < hs; ++j) {
      auto pre = [&](int g) { return xw[g * hs + j] + hr[g * hs + j] + wb[g * hs + j] + rb[g * hs + j]; };
      const float i_gate = act[0].apply(clipped(pre(0) + p[j] * c[j], a.clip));
      float f_gate = act[0].apply(clipped(pre(2) + p[2 * hs + j] * c[j], a.clip));
      if (input_forget) f_gate = 1.0f - i_gate;
      const float candidate = act[1].apply(clipped(pre(3), a.clip));
      const float new_c = f_gate * c[j] + i_gate * candidate;
      const float o_gate = act[0].apply(clipped(pre(1) + p[hs + j] * new_c, a.clip));
      c[j] = new_c;
      next[j] = o_gate * act[2].apply(new_c);
    }
  }
  std::copy(next.begin(), next.end(), h);
}

// The settings a recurrent kernel keeps from its node.
struct RecurrentConfig {
  CellKind kind = CellKind::kRnn;
  RnnAttributes attributes;
  bool linear_before_reset = false;
  bool input_forget = false;
};

RecurrentConfig parse_recurrent(const KernelInfo& info, CellKind kind) {
  const std::vector<std::string> defaults = kind == CellKind::kRnn ? std::vector<std::string>{"Tanh"}
                                            : kind == CellKind::kGru
                                                ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  RecurrentConfig c;
  c.kind = kind;
  c.attributes = parse_rnn_attributes(info.node, defaults);
  check_model(c.attributes.hidden_size > 0, info.node.label(), ": hidden_size must be positive");
  c.linear_before_reset = info.node.attr_int("linear_before_reset", 0) != 0;
  c.input_forget = info.node.attr_int("input_forget", 0) != 0;
  return c;
}

// The time loop of every recurrent op over X and sequence_lens (inputs 0 and 4), initial_h / initial_c / P
// (inputs 5, 6, 7) and `weights` (W [dirs, gates * hidden, input], R [dirs, gates * hidden, hidden], B, in float,
// however the op got them); writes Y, Y_h (and Y_c).
void run_recurrent(const RecurrentConfig& config, const RnnInputs& in, Weights weights, KernelContext& ctx) {
  const RnnAttributes& a = config.attributes;
  const CellKind kind = config.kind;
  const int64_t hs = a.hidden_size, dirs = a.num_directions;
  std::vector<float> h = read_float_input(ctx, 5, dirs * in.batch * hs, 0, "initial_h");
  std::vector<float> c;
  if (kind == CellKind::kLstm) {
    c = read_float_input(ctx, 6, dirs * in.batch * hs, 0, "initial_c");
    weights.p = read_float_input(ctx, 7, dirs * 3 * hs, 0, "P");
  }
  if (a.layout == 1) {  // states come as [batch, dirs, hidden]
    auto to_direction_major = [&](std::vector<float>& s) {
      std::vector<float> out(s.size());
      for (int64_t b = 0; b < in.batch; ++b)
        for (int64_t d = 0; d < dirs; ++d) std::copy_n(&s[(b * dirs + d) * hs], hs, &out[(d * in.batch + b) * hs]);
      s = std::move(out);
    };
    if (ctx.has_input(5)) to_direction_major(h);
    if (kind == CellKind::kLstm && ctx.has_input(6)) to_direction_major(c);
  }
  std::vector<float> y(static_cast<size_t>(in.seq_length * dirs * in.batch * hs), 0.0f);
  for (int64_t d = 0; d < dirs; ++d) {
    const bool reverse = a.reverse_only || d == 1;
    for (int64_t b = 0; b < in.batch; ++b) {
      float* hb = &h[(d * in.batch + b) * hs];
      float* cb = c.empty() ? nullptr : &c[(d * in.batch + b) * hs];
      for (int64_t s = 0; s < in.lengths[b]; ++s) {
        const int64_t t = reverse ? in.lengths[b] - 1 - s : s;
        cell_step(kind, a, config.linear_before_reset, config.input_forget, static_cast<int>(d), weights,
                  &in.x[(t * in.batch + b) * in.input_size], hb, cb);
        std::copy_n(hb, hs, &y[((t * dirs + d) * in.batch + b) * hs]);
      }
    }
  }
  write_rnn_output_sequence(ctx, 0, a, in, y);
  write_rnn_state(ctx, 1, a, in, h);
  if (kind == CellKind::kLstm) write_rnn_state(ctx, 2, a, in, c);
}

std::unique_ptr<Kernel> make_recurrent(const KernelInfo& info, CellKind kind) {
  const RecurrentConfig config = parse_recurrent(info, kind);
  return make_kernel([config](KernelContext& ctx) {
    const RnnInputs in = read_rnn_inputs(ctx, config.attributes);
    const int64_t hs = config.attributes.hidden_size, dirs = config.attributes.num_directions;
    const int64_t gates = gate_count(config.kind);
    Weights weights;
    weights.input_size = in.input_size;
    weights.w = read_float_input(ctx, 1, dirs * gates * hs * in.input_size, 0, "W");
    weights.r = read_float_input(ctx, 2, dirs * gates * hs * hs, 0, "R");
    weights.b = read_float_input(ctx, 3, dirs * 2 * gates * hs, 0, "B");
    run_recurrent(config, in, std::move(weights), ctx);
  });
}

// W or R of com.microsoft DynamicQuantizeLSTM: int8/uint8 [dirs, rows, 4 * hidden] (rows = input or hidden size)
// with per-direction scales and zero points ([dirs], or [dirs, 4 * hidden] per column), dequantized into LSTM's
// float layout [dirs, 4 * hidden, rows].
std::vector<float> dequantize_lstm_weights(const Tensor& q, const Tensor& scale, const Tensor& zero, int64_t dirs,
                                           int64_t rows, int64_t columns, const char* what) {
  check_argument((q.dtype() == DType::kInt8 || q.dtype() == DType::kUint8) && q.rank() == 3 && q.dim(0) == dirs &&
                     q.dim(1) == rows && q.dim(2) == columns,
                 "DynamicQuantizeLSTM: ", what, " ", q.description(), " must be int8 or uint8 [", dirs, ", ", rows,
                 ", ", columns, "]");
  const int64_t per_dir = scale.element_count() / std::max<int64_t>(dirs, 1);
  check_argument(scale.dtype() == DType::kFloat && (per_dir == 1 || per_dir == columns) &&
                     scale.element_count() == dirs * per_dir && zero.dtype() == q.dtype() &&
                     zero.element_count() == scale.element_count(),
                 "DynamicQuantizeLSTM: ", what, "_scale ", scale.description(), " and ", what, "_zero_point ",
                 zero.description(), " must hold 1 or ", columns, " values per direction (float, and ", what,
                 "'s type)");
  const bool is_signed = q.dtype() == DType::kInt8;
  const auto value = [&](const Tensor& t, int64_t i) {
    return is_signed ? static_cast<float>(t.data<int8_t>()[i]) : static_cast<float>(t.data<uint8_t>()[i]);
  };
  std::vector<float> out(static_cast<size_t>(dirs * columns * rows));
  for (int64_t d = 0; d < dirs; ++d)
    for (int64_t k = 0; k < rows; ++k)
      for (int64_t j = 0; j < columns; ++j) {
        const int64_t p = d * per_dir + (per_dir == 1 ? 0 : j);
        out[static_cast<size_t>((d * columns + j) * rows + k)] =
            (value(q, (d * rows + k) * columns + j) - value(zero, p)) * scale.data<float>()[p];
      }
  return out;
}

// Where DynamicQuantizeLSTM's 8-bit W or R, its scale and its zero point are.
struct QuantizedLstmInputs {
  size_t weight, scale, zero_point;
  const char* name;
};
constexpr QuantizedLstmInputs kQuantizedW{1, 8, 9, "W"};
constexpr QuantizedLstmInputs kQuantizedR{2, 10, 11, "R"};

// W or R dequantized once at kernel creation when it, its scale and zero point are constants (the 8-bit weight is
// then consumed); rows is its input or hidden size.
struct DequantizedLstmWeight {
  std::vector<float> values;
  int64_t rows = 0;
};

std::shared_ptr<const DequantizedLstmWeight> dequantize_constant(const KernelInfo& info, QuantizedLstmInputs at,
                                                                 int64_t dirs, int64_t columns) {
  const Tensor* q = info.constant_input(at.weight);
  const Tensor* scale = info.constant_input(at.scale);
  const Tensor* zero = info.constant_input(at.zero_point);
  if (q == nullptr || scale == nullptr || zero == nullptr || q->rank() != 3) return nullptr;
  auto out = std::make_shared<DequantizedLstmWeight>();
  out->rows = q->dim(1);
  out->values = dequantize_lstm_weights(*q, *scale, *zero, dirs, out->rows, columns, at.name);
  info.consume_constant_input(at.weight);
  return out;
}

// The float W or R of one run: the kernel's dequantized constant, or the inputs dequantized now.
std::vector<float> lstm_weight(KernelContext& ctx, const DequantizedLstmWeight* constant, QuantizedLstmInputs at,
                               int64_t dirs, int64_t rows, int64_t columns) {
  if (constant == nullptr || ctx.has_input(at.weight)) {
    return dequantize_lstm_weights(ctx.input(at.weight), ctx.input(at.scale), ctx.input(at.zero_point), dirs, rows,
                                   columns, at.name);
  }
  check_argument(constant->rows == rows, "DynamicQuantizeLSTM: ", at.name, " has ", constant->rows,
                 " rows where the input needs ", rows);
  return constant->values;
}

// com.microsoft DynamicQuantizeLSTM (ONNX Runtime's LSTM over 8-bit weights, in quantized OCR and speech models):
// LSTM's inputs and attributes, W [dirs, input, 4 * hidden] and R [dirs, hidden, 4 * hidden] int8/uint8 with
// W_scale, W_zero_point, R_scale, R_zero_point (inputs 8-11). The weights are dequantized (once, when constant) and
// the float LSTM runs; ONNX Runtime also quantizes X and h to uint8 at each step, so results agree within that
// quantization noise.
std::unique_ptr<Kernel> make_dynamic_quantize_lstm(const KernelInfo& info) {
  const RecurrentConfig config = parse_recurrent(info, CellKind::kLstm);
  const int64_t hs = config.attributes.hidden_size, dirs = config.attributes.num_directions;
  std::shared_ptr<const DequantizedLstmWeight> w = dequantize_constant(info, kQuantizedW, dirs, 4 * hs);
  std::shared_ptr<const DequantizedLstmWeight> r = dequantize_constant(info, kQuantizedR, dirs, 4 * hs);
  return make_kernel([config, w, r, hs, dirs](KernelContext& ctx) {
    const RnnInputs in = read_rnn_inputs(ctx, config.attributes);
    Weights weights;
    weights.input_size = in.input_size;
    weights.w = lstm_weight(ctx, w.get(), kQuantizedW, dirs, in.input_size, 4 * hs);
    weights.r = lstm_weight(ctx, r.get(), kQuantizedR, dirs, hs, 4 * hs);
    weights.b = read_float_input(ctx, 3, dirs * 8 * hs, 0, "B");
    run_recurrent(config, in, std::move(weights), ctx);
  });
}

// Output types of RNN, GRU, LSTM and DynamicQuantizeLSTM: X's element type; Y [seq, dirs, batch, hidden] and the
// final states [dirs, batch, hidden] ([batch, seq, dirs, hidden] and [batch, dirs, hidden] for layout 1).
void infer_recurrent(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const Node& node = ctx.node();
  const Dim hidden = Dim::known(node.attr_int("hidden_size", 0));
  const Dim dirs = Dim::known(node.attr_string("direction", "forward") == "bidirectional" ? 2 : 1);
  const bool batch_major = node.attr_int("layout", 0) == 1;
  std::optional<std::vector<Dim>> y, state;
  if (x->shape && x->shape->size() == 3 && hidden.value > 0) {
    const Dim seq = (*x->shape)[batch_major ? 1 : 0], batch = (*x->shape)[batch_major ? 0 : 1];
    y = batch_major ? std::vector<Dim>{batch, seq, dirs, hidden} : std::vector<Dim>{seq, dirs, batch, hidden};
    state = batch_major ? std::vector<Dim>{batch, dirs, hidden} : std::vector<Dim>{dirs, batch, hidden};
  }
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, y));
  for (size_t i = 1; i < ctx.output_count(); ++i) ctx.set_output_type(i, TypeInfo::tensor(x->elem_type, state));
}

const RegisterOp kRnn{{.op_type = "RNN",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = [](const KernelInfo& i) { return make_recurrent(i, CellKind::kRnn); },
                       .infer = infer_recurrent}};
const RegisterOp kGru{{.op_type = "GRU",
                       .since_version = 1,
                       .last_version = INT_MAX,
                       .factory = [](const KernelInfo& i) { return make_recurrent(i, CellKind::kGru); },
                       .infer = infer_recurrent}};
const RegisterOp kLstm{{.op_type = "LSTM",
                        .since_version = 1,
                        .last_version = INT_MAX,
                        .factory = [](const KernelInfo& i) { return make_recurrent(i, CellKind::kLstm); },
                        .infer = infer_recurrent}};
const RegisterOp kDynamicQuantizeLstm{{.domain = kMicrosoftDomain,
                                       .op_type = "DynamicQuantizeLSTM",
                                       .since_version = 1,
                                       .last_version = INT_MAX,
                                       .factory = make_dynamic_quantize_lstm,
                                       .infer = infer_recurrent}};

}  // namespace
}  // namespace tessera

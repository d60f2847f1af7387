// RNN, GRU and LSTM, com.microsoft DynamicQuantizeLSTM and com.tessera DynamicQuantizeRecurrent: their inputs and
// weights, on the time loop of recurrent_engine.h.
#include <algorithm>
#include <climits>
#include <memory>
#include <optional>

#include "base/lazy_text.h"
#include "ops/registry.h"
#include "ops/rnn/recurrent_engine.h"
#include "ops/rnn/rnn_common.h"

namespace tessera {
namespace {

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

// W, R and B packed once at kernel creation when all of them are constants (B may be absent), which the kernel then
// consumes; nullptr otherwise (they are packed at each run).
std::shared_ptr<const PackedRecurrentWeights> pack_constant_weights(const KernelInfo& info,
                                                                    const RecurrentConfig& config) {
  const Tensor* w = info.constant_input(1);
  const Tensor* r = info.constant_input(2);
  const Tensor* b = info.constant_input(3);
  if (w == nullptr || r == nullptr || (b == nullptr && info.has_input(3))) return nullptr;
  const int64_t hs = config.attributes.hidden_size, dirs = config.attributes.num_directions;
  const int64_t gates = gate_count(config.kind);
  check_model(w->rank() == 3 && w->dim(0) == dirs && w->dim(1) == gates * hs, info.node.label(), ": W ",
              tensor_text(*w), " must be [", dirs, ", ", gates * hs, ", input_size] for hidden_size ", hs);
  const int64_t input_size = w->dim(2);
  const auto values = [&](const Tensor& t, int64_t count, const char* what) {
    try {
      return float_values(t, count, what);
    } catch (const Error& e) {
      fail(ErrorCode::kInvalidModel, info.node.label(), ": ", e.what());
    }
  };
  const std::vector<float> wv = values(*w, dirs * gates * hs * input_size, "W");
  const std::vector<float> rv = values(*r, dirs * gates * hs * hs, "R");
  const std::vector<float> bv = b != nullptr ? values(*b, dirs * 2 * gates * hs, "B") : std::vector<float>();
  auto packed = std::make_shared<const PackedRecurrentWeights>(
      pack_recurrent_weights(config, input_size, wv.data(), rv.data(), bv.empty() ? nullptr : bv.data()));
  for (size_t i : {1, 2, 3}) info.consume_constant_input(i);
  return packed;
}

std::unique_ptr<Kernel> make_recurrent(const KernelInfo& info, CellKind kind) {
  const RecurrentConfig config = parse_recurrent(info, kind);
  std::shared_ptr<const PackedRecurrentWeights> constant = pack_constant_weights(info, config);
  return make_kernel([config, constant](KernelContext& ctx) {
    const RnnInputs in = read_rnn_inputs(ctx, config.attributes);
    if (constant != nullptr) {
      run_recurrent(config, *constant, in, ctx);
      return;
    }
    const int64_t hs = config.attributes.hidden_size, dirs = config.attributes.num_directions;
    const int64_t gates = gate_count(config.kind);
    const std::vector<float> w = read_float_input(ctx, 1, dirs * gates * hs * in.input_size, 0, "W");
    const std::vector<float> r = read_float_input(ctx, 2, dirs * gates * hs * hs, 0, "R");
    const std::vector<float> b =
        ctx.has_input(3) ? read_float_input(ctx, 3, dirs * 2 * gates * hs, 0, "B") : std::vector<float>();
    run_recurrent(config,
                  pack_recurrent_weights(config, in.input_size, w.data(), r.data(), b.empty() ? nullptr : b.data()), in,
                  ctx);
  });
}

// How an 8-bit recurrent op holds W and R: its name for messages, whether they are gate-major ([dirs, gates *
// hidden, rows] as ONNX's W and R; else [dirs, rows, gates * hidden] as DynamicQuantizeLSTM's) and the cell.
struct QuantizedRecurrentForm {
  const char* op;
  bool gate_major;
};
constexpr QuantizedRecurrentForm kMicrosoftLstmForm{"DynamicQuantizeLSTM", false};
constexpr QuantizedRecurrentForm kTesseraForm{"DynamicQuantizeRecurrent", true};

// W or R of an 8-bit recurrent op: int8/uint8 [dirs, rows, columns] (gate-major: [dirs, columns, rows]; rows =
// input or hidden size, columns = gates * hidden) with per-direction scales and zero points ([dirs], or [dirs,
// columns] per column), checked, for the q8 GEMM; `zero_points` keeps the zero points as int32.
QuantizedRecurrentWeight quantized_weight(const QuantizedRecurrentForm& form, const Tensor& q, const Tensor& scale,
                                          const Tensor& zero, int64_t dirs, int64_t rows, int64_t columns,
                                          const char* what, std::vector<int32_t>& zero_points) {
  const int64_t d1 = form.gate_major ? columns : rows, d2 = form.gate_major ? rows : columns;
  check_argument((q.dtype() == DType::kInt8 || q.dtype() == DType::kUint8) && q.rank() == 3 && q.dim(0) == dirs &&
                     q.dim(1) == d1 && q.dim(2) == d2,
                 form.op, ": ", what, " ", tensor_text(q), " must be int8 or uint8 [", dirs, ", ", d1, ", ", d2, "]");
  const int64_t per_dir = scale.element_count() / std::max<int64_t>(dirs, 1);
  check_argument(scale.dtype() == DType::kFloat && (per_dir == 1 || per_dir == columns) &&
                     scale.element_count() == dirs * per_dir && zero.dtype() == q.dtype() &&
                     zero.element_count() == scale.element_count(),
                 form.op, ": ", what, "_scale ", tensor_text(scale), " and ", what, "_zero_point ", tensor_text(zero),
                 " must hold 1 or ", columns, " values per direction (float, and ", what, "'s type)");
  const bool is_signed = q.dtype() == DType::kInt8;
  zero_points.resize(static_cast<size_t>(zero.element_count()));
  for (size_t i = 0; i < zero_points.size(); ++i) {
    zero_points[i] = is_signed ? zero.data<int8_t>()[i] : static_cast<int32_t>(zero.data<uint8_t>()[i]);
  }
  QuantizedRecurrentWeight out;
  out.data = q.data<uint8_t>();
  out.is_signed = is_signed;
  out.gate_major = form.gate_major;
  out.rows = rows;
  out.scales = scale.data<float>();
  out.zero_points = zero_points.data();
  out.per_direction = per_dir;
  return out;
}

// Where an 8-bit recurrent op's W or R, its scale and its zero point are (the same in both forms).
struct QuantizedLstmInputs {
  size_t weight, scale, zero_point;
  const char* name;
};
constexpr QuantizedLstmInputs kQuantizedW{1, 8, 9, "W"};
constexpr QuantizedLstmInputs kQuantizedR{2, 10, 11, "R"};

// W and R (8-bit) and B packed for `input_size` from the given tensors (`at(i)`: input i).
template <typename At>
PackedRecurrentWeights pack_quantized(const QuantizedRecurrentForm& form, const RecurrentConfig& config,
                                      int64_t input_size, const At& at, const Tensor* b) {
  const int64_t hs = config.attributes.hidden_size, dirs = config.attributes.num_directions;
  const int64_t columns = gate_count(config.kind) * hs;
  std::vector<int32_t> w_zero_points, r_zero_points;
  const QuantizedRecurrentWeight w =
      quantized_weight(form, at(kQuantizedW.weight), at(kQuantizedW.scale), at(kQuantizedW.zero_point), dirs,
                       input_size, columns, kQuantizedW.name, w_zero_points);
  const QuantizedRecurrentWeight r =
      quantized_weight(form, at(kQuantizedR.weight), at(kQuantizedR.scale), at(kQuantizedR.zero_point), dirs, hs,
                       columns, kQuantizedR.name, r_zero_points);
  const std::vector<float> bv = b != nullptr ? float_values(*b, dirs * 2 * columns, "B") : std::vector<float>();
  return pack_quantized_recurrent_weights(config, w, r, bv.empty() ? nullptr : bv.data());
}

// The 8-bit W and R and B packed once at kernel creation when all of them, the scales and the zero points are
// constants (B may be absent); the 8-bit weights and B are then consumed. nullptr otherwise.
std::shared_ptr<const PackedRecurrentWeights> pack_constant_quantized_weights(const KernelInfo& info,
                                                                              const QuantizedRecurrentForm& form,
                                                                              const RecurrentConfig& config) {
  for (QuantizedLstmInputs at : {kQuantizedW, kQuantizedR}) {
    for (size_t i : {at.weight, at.scale, at.zero_point}) {
      if (info.constant_input(i) == nullptr) return nullptr;
    }
  }
  const Tensor* b = info.constant_input(3);
  if (b == nullptr && info.has_input(3)) return nullptr;
  const Tensor& w = *info.constant_input(kQuantizedW.weight);
  const int64_t columns = gate_count(config.kind) * config.attributes.hidden_size;
  check_model(
      w.rank() == 3, info.node.label(), ": W ", tensor_text(w), " must be [directions, ",
      form.gate_major ? std::to_string(columns) + ", input_size]" : "input_size, " + std::to_string(columns) + "]");
  auto packed = std::make_shared<const PackedRecurrentWeights>(pack_quantized(
      form, config, w.dim(form.gate_major ? 2 : 1), [&](size_t i) -> const Tensor& { return *info.constant_input(i); },
      b));
  for (size_t i : {kQuantizedW.weight, kQuantizedR.weight, size_t{3}}) info.consume_constant_input(i);
  return packed;
}

// com.microsoft DynamicQuantizeLSTM (ONNX Runtime's LSTM over 8-bit weights, in quantized OCR and speech models):
// LSTM's inputs and attributes, W [dirs, input, 4 * hidden] and R [dirs, hidden, 4 * hidden] int8/uint8 with
// W_scale, W_zero_point, R_scale, R_zero_point (inputs 8-11). As ONNX Runtime computes it: X (each block of steps)
// and h (each step) quantized to uint8 per tensor by DynamicQuantizeLinear's rule, the exact integer products of
// the q8 GEMM scaled back to float, the LSTM cell in float. W and R are packed once when constant. This builds the
// kernel of either 8-bit form (`form`) for a cell of `kind`.
std::unique_ptr<Kernel> make_quantized_recurrent(const KernelInfo& info, const QuantizedRecurrentForm& form,
                                                 CellKind kind) {
  const RecurrentConfig config = parse_recurrent(info, kind);
  std::shared_ptr<const PackedRecurrentWeights> constant = pack_constant_quantized_weights(info, form, config);
  return make_kernel([form, config, constant](KernelContext& ctx) {
    const RnnInputs in = read_rnn_inputs(ctx, config.attributes);
    if (constant != nullptr) {
      run_recurrent(config, *constant, in, ctx);
      return;
    }
    const PackedRecurrentWeights packed = pack_quantized(
        form, config, in.input_size, [&](size_t i) -> const Tensor& { return ctx.input(i); },
        ctx.has_input(3) ? &ctx.input(3) : nullptr);
    run_recurrent(config, packed, in, ctx);
  });
}

// com.tessera DynamicQuantizeRecurrent: an RNN, GRU or LSTM (attribute `cell`, with that op's attributes) whose W
// and R are 8-bit in ONNX's own layout, W [dirs, gates * hidden, input] and R [dirs, gates * hidden, hidden], with
// W_scale, W_zero_point, R_scale, R_zero_point at inputs 8-11 ([dirs], or [dirs, gates * hidden] per row of W and
// R), the other inputs at the op's own positions. The dequantize_recurrent_fusion pass writes it for the op reading
// W and R through DequantizeLinear nodes, as `tessera quantize` writes a GRU; it runs as DynamicQuantizeLSTM does:
// X and h (and GRU's r (.) h) quantized to uint8 at run time, the q8 GEMM's exact products, the cell in float.
std::unique_ptr<Kernel> make_dynamic_quantize_recurrent(const KernelInfo& info) {
  const std::string cell = info.node.attr_string("cell", "");
  check_model(cell == "RNN" || cell == "GRU" || cell == "LSTM", info.node.label(), ": cell '", cell,
              "' must be RNN, GRU or LSTM");
  const CellKind kind = cell == "RNN" ? CellKind::kRnn : (cell == "GRU" ? CellKind::kGru : CellKind::kLstm);
  return make_quantized_recurrent(info, kTesseraForm, kind);
}

// Output types of RNN, GRU, LSTM and their 8-bit forms: X's element type; Y [seq, dirs, batch, hidden] and the
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
const RegisterOp kDynamicQuantizeLstm{
    {.domain = kMicrosoftDomain,
     .op_type = "DynamicQuantizeLSTM",
     .since_version = 1,
     .last_version = INT_MAX,
     .factory = [](const KernelInfo& i) { return make_quantized_recurrent(i, kMicrosoftLstmForm, CellKind::kLstm); },
     .infer = infer_recurrent}};
const RegisterOp kDynamicQuantizeRecurrent{{.domain = kTesseraDomain,
                                            .op_type = "DynamicQuantizeRecurrent",
                                            .since_version = 1,
                                            .last_version = INT_MAX,
                                            .factory = make_dynamic_quantize_recurrent,
                                            .infer = infer_recurrent}};

}  // namespace
}  // namespace tessera

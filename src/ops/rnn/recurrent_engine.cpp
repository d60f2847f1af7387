#include "ops/rnn/recurrent_engine.h"

#include <algorithm>
#include <cstring>

#include "kernels/f32-vunary/f32-vunary.h"
#include "kernels/qu8-quantize/qu8-quantize.h"

namespace tessera {

int gate_count(CellKind kind) { return kind == CellKind::kRnn ? 1 : (kind == CellKind::kGru ? 3 : 4); }

namespace {

// Activation functions per direction of each kind of cell (f, g, h in ONNX's notation).
int functions_per_direction(CellKind kind) { return kind == CellKind::kRnn ? 1 : (kind == CellKind::kGru ? 2 : 3); }

// Whether GRU's candidate product is (r (.) h) R_h^T, a second product per step that must wait for r.
bool candidate_after_reset(const RecurrentConfig& config) {
  return config.kind == CellKind::kGru && !config.linear_before_reset;
}

// One activation function of a cell, the two common ones on the vectorized kernels.
class GateFunction {
 public:
  GateFunction(const RnnActivation& act, float clip)
      : act_(&act), clip_(clip), op_(act.name == "Sigmoid" ? 0 : (act.name == "Tanh" ? 1 : 2)) {}
  // x[i] = f(clip(x[i])) for i < n.
  void operator()(float* x, int64_t n) const {
    if (clip_ > 0) {
      for (int64_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], -clip_, clip_);
    }
    if (op_ == 0) {
      vunary_f32(VUnaryOpF32::kSigmoid, x, x, n);
    } else if (op_ == 1) {
      vunary_f32(VUnaryOpF32::kTanh, x, x, n);
    } else {
      for (int64_t i = 0; i < n; ++i) x[i] = act_->apply(x[i]);
    }
  }

 private:
  const RnnActivation* act_;
  float clip_;
  int op_;
};

// Elements of X W^T kept at once: the time steps are multiplied in blocks of about this size (4 MB), so a long
// sequence does not need a buffer for all of them.
constexpr int64_t kInputProductFloats = int64_t{1} << 20;

// Gate values per step (rows x gates x hidden) from which the gate math of a step split over the threads (fewer
// than kMinRowsPerThread rows per thread) is split too, in pieces of kGateUnits hidden units of a row:
// bench/models/lstm_speech at batch 8 (8 x 4 x 256 values per step; split per step before rows went per thread) on
// two threads, with the gates on one thread only, had the other spinning through them (15% of its samples).
constexpr int64_t kParallelGateElements = 4096;
constexpr int64_t kGateUnits = 64;

// Batch rows per thread from which each thread runs its own rows through the steps (see DirectionLoop::row_parts).
// Fewer rows leave the per-step product reading all of R for too little work: each thread then streams R (1 MB for
// hidden 256) from L3 at every step, where the split per step reads half of it each. bench/models/lstm_speech
// (hidden 256, 2 layers x 100 steps) on two threads, AMD EPYC Zen 3, minima of 150 runs (split per step -> rows per
// thread): batch 8 12.3-12.6 -> 9.5-11.2 ms; batch 4 5.3-5.4 -> 6.9-7.0; batch 2 3.9-4.0 -> 4.2-4.4. gru_speech:
// batch 8 7.6-9.4 -> 7.2-7.9, batch 4 5.4-5.4 -> 5.9-6.0.
constexpr int64_t kMinRowsPerThread = 4;

// The working buffers of a DirectionLoop, kept per thread from run to run: a fresh set per run cost lstm_speech at
// batch 8 a zero fill of 3.2 MB of X W^T per layer (2.7% of its samples). Every element is written before it is
// read (reset_h is zeroed where the loop needs zeros), so they are resized, never cleared.
struct LoopBuffers {
  std::vector<float> xw, gathered, hr, reset_h, candidate, cell_out, product_scales;
  std::vector<uint8_t> quantized_a;
};

LoopBuffers& thread_loop_buffers() {
  thread_local LoopBuffers buffers;
  return buffers;
}

// The recurrence of one direction, from its initial state h (and c) to its final one, writing its slice of Y. One
// loop at a time per thread (its buffers are the thread's).
class DirectionLoop {
 public:
  DirectionLoop(const RecurrentConfig& config, const PackedRecurrentWeights& all, const RnnInputs& in, int direction,
                const float* peepholes, float* h, float* c, float* y)
      : config_(config),
        w_(all.directions[static_cast<size_t>(direction)]),
        quantized_(all.quantized),
        in_(in),
        direction_(direction),
        reverse_(config.attributes.reverse_only || direction == 1),
        hidden_(config.attributes.hidden_size),
        gates_(gate_count(config.kind)),
        recurrent_columns_(candidate_after_reset(config) ? 2 * hidden_ : gates_ * hidden_),
        peepholes_(peepholes),
        h_(h),
        c_(c),
        y_(y) {
    const int per_direction = functions_per_direction(config.kind);
    for (int i = 0; i < per_direction; ++i) {
      functions_.emplace_back(config.attributes.activations[direction * per_direction + i], config.attributes.clip);
    }
    max_length_ = in.lengths.empty() ? 0 : *std::max_element(in.lengths.begin(), in.lengths.end());
    equal_lengths_ = in.full_lengths();
  }

  void run(Parallelism* parallelism) {
    const int64_t batch = in_.batch, columns = gates_ * hidden_;
    if (max_length_ == 0 || batch == 0) return;
    const int64_t block =
        std::clamp<int64_t>(kInputProductFloats / std::max<int64_t>(batch * columns, 1), 1, max_length_);
    xw_.resize(static_cast<size_t>(block * batch * columns));
    if (!equal_lengths_) gathered_.resize(static_cast<size_t>(block * batch * in_.input_size));
    hr_.resize(static_cast<size_t>(batch * recurrent_columns_));
    if (candidate_after_reset(config_)) {
      reset_h_.assign(static_cast<size_t>(batch * hidden_), 0.0f);
      candidate_.resize(static_cast<size_t>(batch * hidden_));
    }
    if (config_.kind == CellKind::kLstm) cell_out_.resize(static_cast<size_t>(batch * hidden_));
    const int64_t parts = row_parts(parallelism);
    for (int64_t s0 = 0; s0 < max_length_; s0 += block) {
      const int64_t s1 = std::min(max_length_, s0 + block);
      multiply_inputs(s0, s1, parallelism);
      if (parts > 1) {
        // Each thread runs its own rows through every step of the block: no synchronization per step.
        parallelism->parallel_for(parts, [&](int64_t begin, int64_t end) {
          for (int64_t part = begin; part < end; ++part) {
            const int64_t b0 = batch * part / parts, b1 = batch * (part + 1) / parts;
            for (int64_t s = s0; s < s1; ++s) step(s, b0, b1, nullptr);
          }
        });
      } else {
        for (int64_t s = s0; s < s1; ++s) step(s, 0, batch, parallelism);
      }
    }
  }

 private:
  // The time index of step s for batch row b (reverse: from the row's last valid step down).
  int64_t time_of(int64_t s, int64_t b) const { return reverse_ ? in_.lengths[b] - 1 - s : s; }
  bool active(int64_t s, int64_t b) const { return s < in_.lengths[b]; }

  // X W^T (+ biases) for steps [s0, s1) into xw_: row (s - s0) * batch + b. With every row of full length the
  // steps' X rows are one contiguous block (in reverse order for the reverse direction, see xw_row); otherwise each
  // row's step is gathered (zeros past its length).
  void multiply_inputs(int64_t s0, int64_t s1, Parallelism* parallelism) {
    const int64_t batch = in_.batch, input = in_.input_size, steps = s1 - s0;
    const float* a = nullptr;
    block_start_ = s0;
    block_end_ = s1;
    if (equal_lengths_) {
      const int64_t t0 = reverse_ ? in_.seq_length - s1 : s0;
      a = in_.x + t0 * batch * input;
    } else {
      for (int64_t s = s0; s < s1; ++s) {
        for (int64_t b = 0; b < batch; ++b) {
          float* dst = &gathered_[static_cast<size_t>(((s - s0) * batch + b) * input)];
          if (active(s, b)) {
            std::memcpy(dst, in_.x + (time_of(s, b) * batch + b) * input, static_cast<size_t>(input) * sizeof(float));
          } else {
            std::fill_n(dst, input, 0.0f);
          }
        }
      }
      a = gathered_.data();
    }
    if (quantized_) {
      multiply_quantized(a, steps * batch, input, w_.w_q8, gates_ * hidden_, w_.w_scales, w_.x_bias.data(), xw_.data(),
                         parallelism);
      return;
    }
    GemmOperandF32 lhs;
    lhs.data = a;
    lhs.ld = input;
    GemmOperandF32 rhs;
    rhs.packed = &w_.w;
    GemmEpilogueF32 epilogue;
    epilogue.column_bias = w_.x_bias.data();
    gemm_f32_packed(steps * batch, gates_ * hidden_, input, 1.0f, lhs, rhs, 0.0f, xw_.data(), gates_ * hidden_,
                    parallelism, &epilogue);
  }

  // out [rows, columns] = a [rows, depth] quantized to uint8 as one tensor (DynamicQuantizeLinear's rule) times the
  // 8-bit weight: float(S) * (a_scale * scale[j]) + bias[j] (bias nullptr: none).
  void multiply_quantized(const float* a, int64_t rows, int64_t depth, const PackedQ8GemmB& weight, int64_t columns,
                          const std::vector<float>& scales, const float* bias, float* out, Parallelism* parallelism) {
    const int64_t count = rows * depth;
    if (static_cast<int64_t>(quantized_a_.size()) < count) quantized_a_.resize(static_cast<size_t>(count));
    const DynamicQuantU8 q = dynamic_quant_u8_params(a, count, parallelism);
    quantize_u8(a, count, q, quantized_a_.data(), parallelism);
    product_scales_.resize(scales.size());
    for (size_t j = 0; j < scales.size(); ++j) product_scales_[j] = q.scale * scales[j];
    Q8GemmOutput output;
    output.c_f32 = out;
    output.ldc = columns;
    output.b_scales = product_scales_.data();
    output.b_scale_count = static_cast<int64_t>(product_scales_.size());
    output.bias = bias;
    q8_gemm(rows, columns, depth, quantized_a_.data(), depth, false, q.zero_point, weight, output, parallelism);
  }

  // Row of xw_ holding step s of batch row b.
  const float* xw_row(int64_t s, int64_t b) const {
    const int64_t step_row = equal_lengths_ && reverse_ ? block_end_ - 1 - s : s - block_start_;
    return &xw_[static_cast<size_t>((step_row * in_.batch + b) * gates_ * hidden_)];
  }

  // Into which number of row ranges the steps are split, each range run through every step by one thread (1: the
  // rows stay together and each step's product and gates are split over the threads instead). A batch row's
  // recurrence does not depend on the others', so with enough rows per thread (kMinRowsPerThread) the threads need
  // not meet at every step, where the split per step meets twice (after the product, after the gates).
  // The 8-bit form stays whole: it quantizes h over all rows as one tensor, and a split would change its scale.
  int64_t row_parts(Parallelism* parallelism) const {
    if (parallelism == nullptr || quantized_) return 1;
    return std::clamp<int64_t>(in_.batch / kMinRowsPerThread, 1, parallelism->thread_count());
  }

  // out rows [b0, b1) = h R^T over `packed` (columns wide), plus `bias` (nullptr: none); h and out are [batch, .].
  void multiply_state(const float* h, const PackedGemmF32& packed, int64_t columns, const float* bias, float* out,
                      int64_t b0, int64_t b1, Parallelism* parallelism) {
    GemmOperandF32 lhs;
    lhs.data = h + b0 * hidden_;
    lhs.ld = hidden_;
    GemmOperandF32 rhs;
    rhs.packed = &packed;
    GemmEpilogueF32 epilogue;
    epilogue.column_bias = bias;
    gemm_f32_packed(b1 - b0, columns, hidden_, 1.0f, lhs, rhs, 0.0f, out + b0 * columns, columns, parallelism,
                    bias != nullptr ? &epilogue : nullptr);
  }

  // Calls fn(b, j0, j1) over batch rows b in [b0, b1) and hidden units [j0, j1) covering [0, hidden), on the calling
  // thread, or over the threads in pieces of kGateUnits units when a step's gates hold enough work.
  template <typename Fn>
  void for_units(int64_t b0, int64_t b1, Parallelism* parallelism, const Fn& fn) {
    const int64_t rows = b1 - b0;
    if (parallelism == nullptr || parallelism->thread_count() <= 1 || rows * gates_ * hidden_ < kParallelGateElements) {
      for (int64_t b = b0; b < b1; ++b) fn(b, int64_t{0}, hidden_);
      return;
    }
    const int64_t pieces = (hidden_ + kGateUnits - 1) / kGateUnits;
    parallelism->parallel_for(rows * pieces, [&](int64_t begin, int64_t end) {
      for (int64_t u = begin; u < end; ++u) {
        const int64_t j0 = (u % pieces) * kGateUnits;
        fn(b0 + u / pieces, j0, std::min(hidden_, j0 + kGateUnits));
      }
    });
  }

  // Step s for batch rows [b0, b1) (every row, in the 8-bit form).
  void step(int64_t s, int64_t b0, int64_t b1, Parallelism* parallelism) {
    const float* r_bias = w_.r_bias.empty() ? nullptr : w_.r_bias.data();
    if (quantized_) {
      multiply_quantized(h_, in_.batch, hidden_, w_.r_q8, recurrent_columns_, w_.r_scales, r_bias, hr_.data(),
                         parallelism);
    } else {
      multiply_state(h_, w_.r, recurrent_columns_, r_bias, hr_.data(), b0, b1, parallelism);
    }
    if (candidate_after_reset(config_)) {
      for_units(b0, b1, parallelism, [&](int64_t b, int64_t j0, int64_t j1) {
        if (active(s, b)) gru_gates(s, b, j0, j1);
      });
      if (quantized_) {
        multiply_quantized(reset_h_.data(), in_.batch, hidden_, w_.r_candidate_q8, hidden_, w_.r_candidate_scales,
                           nullptr, candidate_.data(), parallelism);
      } else {
        multiply_state(reset_h_.data(), w_.r_candidate, hidden_, nullptr, candidate_.data(), b0, b1, parallelism);
      }
    }
    for_units(b0, b1, parallelism, [&](int64_t b, int64_t j0, int64_t j1) {
      if (!active(s, b)) return;
      float* h = h_ + b * hidden_;
      switch (config_.kind) {
        case CellKind::kRnn:
          rnn_cell(s, b, j0, j1, h);
          break;
        case CellKind::kGru:
          gru_cell(s, b, j0, j1, h);
          break;
        case CellKind::kLstm:
          lstm_cell(s, b, j0, j1, h);
          break;
      }
      if (y_ != nullptr) {
        const int64_t dirs = config_.attributes.num_directions;
        std::memcpy(y_ + ((time_of(s, b) * dirs + direction_) * in_.batch + b) * hidden_ + j0, h + j0,
                    static_cast<size_t>(j1 - j0) * sizeof(float));
      }
    });
  }

  // The cells below update hidden units [j0, j1) of batch row b from its H R^T (+ bias) row in hr_ and its
  // X W^T (+ biases) row in xw_, gate k of unit j at k * hidden + j in both.
  float* recurrent_row(int64_t b) { return &hr_[static_cast<size_t>(b * recurrent_columns_)]; }

  void rnn_cell(int64_t s, int64_t b, int64_t j0, int64_t j1, float* h) {
    float* g = recurrent_row(b);
    const float* x = xw_row(s, b);
    for (int64_t j = j0; j < j1; ++j) g[j] += x[j];
    functions_[0](g + j0, j1 - j0);
    std::memcpy(h + j0, g + j0, static_cast<size_t>(j1 - j0) * sizeof(float));
  }

  // z and r (gate order z, r, h) of a GRU row into hr_; without linear_before_reset also r (.) h into reset_h_.
  void gru_gates(int64_t s, int64_t b, int64_t j0, int64_t j1) {
    float* g = recurrent_row(b);
    const float* x = xw_row(s, b);
    for (int64_t gate = 0; gate < 2; ++gate) {
      float* pre = g + gate * hidden_;
      for (int64_t j = j0; j < j1; ++j) pre[j] += x[gate * hidden_ + j];
      functions_[0](pre + j0, j1 - j0);
    }
    if (candidate_after_reset(config_)) {
      const float* r = g + hidden_;
      const float* h = h_ + b * hidden_;
      float* out = &reset_h_[static_cast<size_t>(b * hidden_)];
      for (int64_t j = j0; j < j1; ++j) out[j] = r[j] * h[j];
    }
  }

  void gru_cell(int64_t s, int64_t b, int64_t j0, int64_t j1, float* h) {
    float* g = recurrent_row(b);
    const float* x = xw_row(s, b) + 2 * hidden_;
    float* candidate;
    if (candidate_after_reset(config_)) {
      candidate = &candidate_[static_cast<size_t>(b * hidden_)];
      for (int64_t j = j0; j < j1; ++j) candidate[j] += x[j];
    } else {
      gru_gates(s, b, j0, j1);
      candidate = g + 2 * hidden_;
      const float* r = g + hidden_;
      for (int64_t j = j0; j < j1; ++j) candidate[j] = x[j] + r[j] * candidate[j];
    }
    functions_[1](candidate + j0, j1 - j0);
    const float* z = g;
    for (int64_t j = j0; j < j1; ++j) h[j] = (1.0f - z[j]) * candidate[j] + z[j] * h[j];
  }

  // Gate order i, o, f, c; peepholes i, o, f.
  void lstm_cell(int64_t s, int64_t b, int64_t j0, int64_t j1, float* h) {
    const int64_t n = hidden_, width = j1 - j0;
    float* g = recurrent_row(b);
    const float* x = xw_row(s, b);
    for (int64_t gate = 0; gate < 4; ++gate) {
      for (int64_t j = j0; j < j1; ++j) g[gate * n + j] += x[gate * n + j];
    }
    float *gi = g, *go = g + n, *gf = g + 2 * n, *gc = g + 3 * n;
    float* c = c_ + b * n;
    if (peepholes_ != nullptr) {
      for (int64_t j = j0; j < j1; ++j) {
        gi[j] += peepholes_[j] * c[j];
        gf[j] += peepholes_[2 * n + j] * c[j];
      }
    }
    functions_[0](gi + j0, width);
    if (config_.input_forget) {
      for (int64_t j = j0; j < j1; ++j) gf[j] = 1.0f - gi[j];
    } else {
      functions_[0](gf + j0, width);
    }
    functions_[1](gc + j0, width);
    for (int64_t j = j0; j < j1; ++j) c[j] = gf[j] * c[j] + gi[j] * gc[j];
    if (peepholes_ != nullptr) {
      for (int64_t j = j0; j < j1; ++j) go[j] += peepholes_[n + j] * c[j];
    }
    functions_[0](go + j0, width);
    float* activated = &cell_out_[static_cast<size_t>(b * n)];
    std::memcpy(activated + j0, c + j0, static_cast<size_t>(width) * sizeof(float));
    functions_[2](activated + j0, width);
    for (int64_t j = j0; j < j1; ++j) h[j] = go[j] * activated[j];
  }

  const RecurrentConfig& config_;
  const PackedRecurrentWeights::Direction& w_;
  const bool quantized_;  // w_.w_q8 and w_.r_q8 instead of w_.w and w_.r
  const RnnInputs& in_;
  const int direction_;
  const bool reverse_;
  const int64_t hidden_;
  const int64_t gates_;
  const int64_t recurrent_columns_;  // columns of the per-step product h R^T
  const float* peepholes_;           // LSTM's P of this direction, nullptr when absent
  float* h_;                         // [batch, hidden]
  float* c_;                         // [batch, hidden] (LSTM)
  float* y_;                         // Y [seq, dirs, batch, hidden], nullptr when not wanted
  std::vector<GateFunction> functions_;
  int64_t max_length_ = 0;
  bool equal_lengths_ = true;
  int64_t block_start_ = 0, block_end_ = 0;
  LoopBuffers& buffers_ = thread_loop_buffers();
  std::vector<float>& xw_ = buffers_.xw;
  std::vector<float>& gathered_ = buffers_.gathered;
  std::vector<float>& hr_ = buffers_.hr;
  std::vector<float>& reset_h_ = buffers_.reset_h;
  std::vector<float>& candidate_ = buffers_.candidate;
  std::vector<float>& cell_out_ = buffers_.cell_out;
  std::vector<float>& product_scales_ = buffers_.product_scales;
  std::vector<uint8_t>& quantized_a_ = buffers_.quantized_a;
};

// The biases of direction d from B [dirs, 2 * gates * hidden] (nullptr: zeros) into `dir`: Wb + Rb on X W^T, except
// GRU's Rbh under linear_before_reset, which sits inside r (.) (h R_h^T + Rbh) and goes on the recurrent product.
void set_biases(const RecurrentConfig& config, const float* b, int64_t d, PackedRecurrentWeights::Direction& dir) {
  const int64_t hs = config.attributes.hidden_size, columns = gate_count(config.kind) * hs;
  dir.x_bias.assign(static_cast<size_t>(columns), 0.0f);
  if (b == nullptr) return;
  const float* wb = b + d * 2 * columns;
  const float* rb = wb + columns;
  for (int64_t j = 0; j < columns; ++j) dir.x_bias[j] = wb[j] + rb[j];
  if (config.kind == CellKind::kGru && config.linear_before_reset) {
    dir.r_bias.assign(static_cast<size_t>(columns), 0.0f);
    for (int64_t j = 2 * hs; j < 3 * hs; ++j) {
      dir.x_bias[j] = wb[j];
      dir.r_bias[j] = rb[j];
    }
  }
}

// States come as [batch, dirs, hidden] in layout 1; the loop keeps them [dirs, batch, hidden].
void to_direction_major(std::vector<float>& s, int64_t batch, int64_t dirs, int64_t hidden) {
  std::vector<float> out(s.size());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < dirs; ++d) std::copy_n(&s[(b * dirs + d) * hidden], hidden, &out[(d * batch + b) * hidden]);
  s = std::move(out);
}

}  // namespace

PackedRecurrentWeights pack_recurrent_weights(const RecurrentConfig& config, int64_t input_size, const float* w,
                                              const float* r, const float* b) {
  const int64_t hs = config.attributes.hidden_size, gates = gate_count(config.kind);
  check_argument(input_size > 0, "X has no input features (input_size 0)");
  PackedRecurrentWeights out;
  out.input_size = input_size;
  for (int d = 0; d < config.attributes.num_directions; ++d) {
    PackedRecurrentWeights::Direction dir;
    dir.w = pack_gemm_b_f32(true, input_size, gates * hs, w + d * gates * hs * input_size, input_size);
    const float* rd = r + d * gates * hs * hs;
    if (candidate_after_reset(config)) {
      dir.r = pack_gemm_b_f32(true, hs, 2 * hs, rd, hs);
      dir.r_candidate = pack_gemm_b_f32(true, hs, hs, rd + 2 * hs * hs, hs);
    } else {
      dir.r = pack_gemm_b_f32(true, hs, gates * hs, rd, hs);
    }
    set_biases(config, b, d, dir);
    out.directions.push_back(std::move(dir));
  }
  return out;
}

PackedRecurrentWeights pack_quantized_recurrent_weights(const RecurrentConfig& config,
                                                        const QuantizedRecurrentWeight& w,
                                                        const QuantizedRecurrentWeight& r, const float* b) {
  const int64_t hs = config.attributes.hidden_size, gates = gate_count(config.kind), columns = gates * hs;
  check_argument(w.rows > 0, "X has no input features (input_size 0)");
  PackedRecurrentWeights out;
  out.input_size = w.rows;
  out.quantized = true;
  // Columns [c0, c1) of direction d's weight, with their scales.
  const auto pack = [&](const QuantizedRecurrentWeight& q, int64_t d, int64_t c0, int64_t c1,
                        std::vector<float>& scales) {
    const bool per_column = q.per_direction > 1;
    const float* s = q.scales + d * q.per_direction + (per_column ? c0 : 0);
    scales.assign(s, s + (per_column ? c1 - c0 : 1));
    const uint8_t* data = q.data + d * q.rows * columns + (q.gate_major ? c0 * q.rows : c0);
    return pack_q8_gemm_b(q.is_signed, q.gate_major, q.rows, c1 - c0, data, q.gate_major ? q.rows : columns,
                          q.zero_points + d * q.per_direction + (per_column ? c0 : 0), per_column ? c1 - c0 : 1);
  };
  for (int d = 0; d < config.attributes.num_directions; ++d) {
    PackedRecurrentWeights::Direction dir;
    dir.w_q8 = pack(w, d, 0, columns, dir.w_scales);
    if (candidate_after_reset(config)) {
      dir.r_q8 = pack(r, d, 0, 2 * hs, dir.r_scales);
      dir.r_candidate_q8 = pack(r, d, 2 * hs, columns, dir.r_candidate_scales);
    } else {
      dir.r_q8 = pack(r, d, 0, columns, dir.r_scales);
    }
    set_biases(config, b, d, dir);
    out.directions.push_back(std::move(dir));
  }
  return out;
}

void run_recurrent(const RecurrentConfig& config, const PackedRecurrentWeights& weights, const RnnInputs& in,
                   KernelContext& ctx) {
  const RnnAttributes& a = config.attributes;
  const int64_t hs = a.hidden_size, dirs = a.num_directions, batch = in.batch;
  check_argument(weights.input_size == in.input_size, "X has ", in.input_size, " input features where W has ",
                 weights.input_size);
  std::vector<float> h = read_float_input(ctx, 5, dirs * batch * hs, 0, "initial_h");
  std::vector<float> c, p;
  if (config.kind == CellKind::kLstm) {
    c = read_float_input(ctx, 6, dirs * batch * hs, 0, "initial_c");
    if (ctx.has_input(7)) p = read_float_input(ctx, 7, dirs * 3 * hs, 0, "P");
  }
  if (a.layout == 1) {
    if (ctx.has_input(5)) to_direction_major(h, batch, dirs, hs);
    if (config.kind == CellKind::kLstm && ctx.has_input(6)) to_direction_major(c, batch, dirs, hs);
  }
  // Y straight into the output when it is float32 in layout 0, else through a buffer converted at the end.
  const bool y_wanted = ctx.output_wanted(0);
  const bool y_direct = y_wanted && a.layout == 0 && ctx.input(0).dtype() == DType::kFloat;
  std::vector<float> y_buffer;
  float* y = nullptr;
  if (y_direct) {
    // Every step of every row writes its slice of Y unless some row is shorter (its steps past the end stay zero).
    const std::vector<int64_t> shape{in.seq_length, dirs, batch, hs};
    y = (in.full_lengths() ? ctx.allocate_output_uninitialized(0, DType::kFloat, shape)
                           : ctx.allocate_output(0, DType::kFloat, shape))
            .data<float>();
  } else if (y_wanted) {
    y_buffer.assign(static_cast<size_t>(in.seq_length * dirs * batch * hs), 0.0f);
    y = y_buffer.data();
  }
  auto run_direction = [&](int64_t d, Parallelism* parallelism) {
    DirectionLoop loop(
        config, weights, in, static_cast<int>(d), p.empty() ? nullptr : &p[static_cast<size_t>(d * 3 * hs)],
        &h[static_cast<size_t>(d * batch * hs)], c.empty() ? nullptr : &c[static_cast<size_t>(d * batch * hs)], y);
    loop.run(parallelism);
  };
  Parallelism& parallelism = ctx.parallelism();
  if (dirs == 2 && parallelism.thread_count() >= 2) {
    // The two directions are independent: one thread each (their per-step products are too small to share).
    parallelism.parallel_for(2, [&](int64_t begin, int64_t end) {
      for (int64_t d = begin; d < end; ++d) run_direction(d, nullptr);
    });
  } else {
    for (int64_t d = 0; d < dirs; ++d) run_direction(d, &parallelism);
  }
  if (y_wanted && !y_direct) write_rnn_output_sequence(ctx, 0, a, in, y_buffer);
  write_rnn_state(ctx, 1, a, in, h);
  if (config.kind == CellKind::kLstm) write_rnn_state(ctx, 2, a, in, c);
}

}  // namespace tessera

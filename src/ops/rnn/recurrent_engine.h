// The time loop of RNN, GRU, LSTM (and their 8-bit-weight forms, com.microsoft DynamicQuantizeLSTM and
// com.tessera DynamicQuantizeRecurrent) on the packed GEMM: X W^T for a block of
// time steps at once (every batch row, every gate) with both biases folded in, then per step one H R^T product
// (M = batch) on R packed once, and the gate math over whole rows with the vectorized sigmoid / tanh. The two
// directions of a bidirectional layer run on two threads when the session has them.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/f32-gemm/gemm.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "ops/rnn/rnn_common.h"

namespace tessera {

enum class CellKind { kRnn, kGru, kLstm };

// Gates per cell: RNN 1, GRU 3 (z, r, h), LSTM 4 (i, o, f, c).
int gate_count(CellKind kind);

// The settings a recurrent kernel keeps from its node.
struct RecurrentConfig {
  CellKind kind = CellKind::kRnn;
  RnnAttributes attributes;
  bool linear_before_reset = false;  // GRU
  bool input_forget = false;         // LSTM
};

// W, R and B of every direction in the form the time loop multiplies them: W and R packed as right-hand GEMM
// operands, the biases summed where the cell adds them anyway. Immutable once built; shared between runs.
struct PackedRecurrentWeights {
  struct Direction {
    PackedGemmF32 w;            // op(B) = W_d^T: [input, gates * hidden]
    PackedGemmF32 r;            // op(B) = R_d^T over every gate, or GRU without linear_before_reset: z and r
    PackedGemmF32 r_candidate;  // GRU without linear_before_reset: R_h^T, applied to r (.) h
    std::vector<float> x_bias;  // gates * hidden: added to X W^T (Wb + Rb, but GRU's Rbh under lbr)
    std::vector<float> r_bias;  // GRU with linear_before_reset: [0, 0, Rbh] on H R^T; empty otherwise
    // 8-bit weights (`quantized`): W and R as 8-bit GEMM operands instead of w, r and r_candidate, with their
    // scales (1, or one per column of the product); X and h (and GRU's r (.) h) are quantized to uint8 at run time,
    // as ONNX Runtime's DynamicQuantizeLSTM does.
    PackedQ8GemmB w_q8, r_q8, r_candidate_q8;
    std::vector<float> w_scales, r_scales, r_candidate_scales;
  };
  int64_t input_size = 0;
  bool quantized = false;
  std::vector<Direction> directions;
};

// One 8-bit recurrent weight: [dirs, rows, gates * hidden] bytes as DynamicQuantizeLSTM holds them, or with
// `gate_major` [dirs, gates * hidden, rows] as ONNX's W and R (int8 when is_signed, else uint8), with 1 or
// gates * hidden scales and zero points per direction. rows: input size (W) or hidden size (R).
struct QuantizedRecurrentWeight {
  const uint8_t* data = nullptr;
  bool is_signed = true;
  bool gate_major = false;
  int64_t rows = 0;
  const float* scales = nullptr;
  const int32_t* zero_points = nullptr;
  int64_t per_direction = 1;  // scales (and zero points) per direction
};

// Packs 8-bit W (rows: input) and R (rows: hidden) for the q8 GEMM, split as pack_recurrent_weights splits the
// float ones (GRU without linear_before_reset: R's z and r columns apart from its h columns), and B (nullptr: zeros)
// as pack_recurrent_weights does.
PackedRecurrentWeights pack_quantized_recurrent_weights(const RecurrentConfig& config,
                                                        const QuantizedRecurrentWeight& w,
                                                        const QuantizedRecurrentWeight& r, const float* b);

// Packs W [dirs, gates * hidden, input], R [dirs, gates * hidden, hidden] and B [dirs, 2 * gates * hidden] (nullptr:
// zeros), all float32 in ONNX's layout, for `config`.
PackedRecurrentWeights pack_recurrent_weights(const RecurrentConfig& config, int64_t input_size, const float* w,
                                              const float* r, const float* b);

// Runs the recurrence over X and sequence_lens (`in`), with initial_h / initial_c / P read from the context's inputs
// 5, 6 and 7, and writes Y, Y_h (and LSTM's Y_c) as ONNX defines them: steps past a batch row's sequence length
// leave zeros in Y and its state unchanged; the reverse direction starts at each row's last valid step.
void run_recurrent(const RecurrentConfig& config, const PackedRecurrentWeights& weights, const RnnInputs& in,
                   KernelContext& ctx);

}  // namespace tessera

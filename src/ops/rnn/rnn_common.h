// Shared pieces of the recurrent operators (RNN, GRU, LSTM): attributes, activation functions, layouts and
// the per-direction time loop with sequence_lens.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ops/kernel.h"

namespace tessera {

// One activation function of the `activations` attribute, with its alpha/beta.
struct RnnActivation {
  std::string name;
  float alpha = 0;
  float beta = 0;
  float apply(float x) const;
};

struct RnnAttributes {
  int64_t hidden_size = 0;
  int num_directions = 1;
  bool reverse_only = false;               // direction == "reverse"
  float clip = 0;                          // 0: no clipping
  int64_t layout = 0;                      // 0: [seq, batch, ...]; 1: [batch, seq, ...]
  std::vector<RnnActivation> activations;  // per direction, `per_direction` functions each
};

// Parses the common attributes; `defaults` are the activation names used when the attribute is absent,
// repeated per direction. Throws kInvalidModel naming the node for bad values.
RnnAttributes parse_rnn_attributes(const Node& node, const std::vector<std::string>& defaults);

// Inputs of one run, in the [seq, batch, feature] layout, as float. Move-only: x may point into `converted`.
struct RnnInputs {
  RnnInputs() = default;
  RnnInputs(RnnInputs&&) = default;
  RnnInputs(const RnnInputs&) = delete;
  RnnInputs& operator=(const RnnInputs&) = delete;
  int64_t seq_length = 0;
  int64_t batch = 0;
  int64_t input_size = 0;
  const float* x = nullptr;      // [seq, batch, input]: X's own data when float32 in layout 0, else `converted`
  std::vector<float> converted;  // X converted to float32 and to layout 0 when it is not both already
  std::vector<int64_t> lengths;  // per batch item

  // Whether every batch item runs the whole sequence (no sequence_lens below seq_length).
  bool full_lengths() const {
    for (int64_t l : lengths) {
      if (l != seq_length) return false;
    }
    return true;
  }
};

// Reads X (converting layout 1 to 0) and sequence_lens (input 4 for every recurrent op).
RnnInputs read_rnn_inputs(KernelContext& ctx, const RnnAttributes& attributes);

// A float tensor's `expected` values as float32 (float, double, float16, bfloat16); throws kInvalidArgument naming
// `what` for another count or element type.
std::vector<float> float_values(const Tensor& t, int64_t expected, const char* what);

// Reads an optional float input (W, R, B, initial states, P) as a flat vector; `expected` elements or zero
// (filled with `fill`) when absent.
std::vector<float> read_float_input(KernelContext& ctx, size_t index, int64_t expected, float fill, const char* what);

// Writes Y [seq, dirs, batch, hidden] (or [batch, seq, dirs, hidden] for layout 1) and a final state
// [dirs, batch, hidden] (or [batch, dirs, hidden]) into the outputs, converting to the input dtype.
void write_rnn_output_sequence(KernelContext& ctx, size_t index, const RnnAttributes& a, const RnnInputs& in,
                               const std::vector<float>& y);
void write_rnn_state(KernelContext& ctx, size_t index, const RnnAttributes& a, const RnnInputs& in,
                     const std::vector<float>& state);

}  // namespace tessera

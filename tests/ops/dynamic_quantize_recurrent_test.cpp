// com.tessera DynamicQuantizeRecurrent (8-bit W and R in ONNX's gate-major layout, X and h quantized at run time):
// every cell (GRU with and without linear_before_reset, whose candidate product then runs on r (.) h quantized per
// step; LSTM in layout 1; RNN), int8 and uint8 weights with per-direction and per-row scales and zero points other
// than 0, sequence_lens and initial_h, weights given at run time and as constants (packed at kernel creation):
// within quantization noise of the float op on the dequantized weights, and clear errors for bad weights and cells.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr int64_t kSeq = 4, kBatch = 3, kInput = 6, kHidden = 5, kDirs = 2;

struct Case {
  std::string cell = "GRU";
  int64_t gates = 3;
  int64_t layout = 0;
  bool linear_before_reset = false;
  DType weight_type = DType::kInt8;
  bool per_row = false;  // scales and zero points [dirs, gates * hidden] instead of [dirs]
};

// A weight [dirs, gates * hidden, rows] of `c.weight_type` from seed, its scales and zero points, and its float form
// (q - zero) * scale.
struct Weight {
  Tensor q, scale, zero, dequantized;
};

Weight quantized_weight(const Case& c, int64_t rows, uint32_t seed) {
  const int64_t columns = c.gates * kHidden, per_direction = c.per_row ? columns : 1;
  const bool is_signed = c.weight_type == DType::kInt8;
  const Tensor f = random_float({kDirs, columns, rows}, seed, is_signed ? -127.0f : 0.0f, is_signed ? 127.0f : 255.0f);
  const std::vector<int64_t> parameter_shape =
      c.per_row ? std::vector<int64_t>{kDirs, columns} : std::vector<int64_t>{kDirs};
  Weight w{Tensor(c.weight_type, {kDirs, columns, rows}), Tensor(DType::kFloat, parameter_shape),
           Tensor(c.weight_type, parameter_shape), Tensor(DType::kFloat, {kDirs, columns, rows})};
  for (int64_t i = 0; i < kDirs * per_direction; ++i) {
    w.scale.data<float>()[i] = 0.003f + 0.0005f * static_cast<float>(i % 7);
    const int32_t zero = (is_signed ? 0 : 128) + static_cast<int32_t>(i % 5) - 2;
    if (is_signed) {
      w.zero.data<int8_t>()[i] = static_cast<int8_t>(zero);
    } else {
      w.zero.data<uint8_t>()[i] = static_cast<uint8_t>(zero);
    }
  }
  for (int64_t d = 0; d < kDirs; ++d) {
    for (int64_t j = 0; j < columns; ++j) {
      const int64_t p = d * per_direction + (c.per_row ? j : 0);
      const float scale = w.scale.data<float>()[p];
      const int32_t zero = is_signed ? w.zero.data<int8_t>()[p] : w.zero.data<uint8_t>()[p];
      for (int64_t k = 0; k < rows; ++k) {
        const int64_t i = (d * columns + j) * rows + k;
        const int32_t v = static_cast<int32_t>(std::nearbyint(f.data<float>()[i]));
        if (is_signed) {
          w.q.data<int8_t>()[i] = static_cast<int8_t>(v);
        } else {
          w.q.data<uint8_t>()[i] = static_cast<uint8_t>(v);
        }
        w.dequantized.data<float>()[i] = static_cast<float>(v - zero) * scale;
      }
    }
  }
  return w;
}

void expect_within_noise_of_float(const Case& c) {
  SCOPED_TRACE(c.cell + " layout " + std::to_string(c.layout) + " lbr " + std::to_string(c.linear_before_reset) +
               (c.weight_type == DType::kInt8 ? " int8" : " uint8") + (c.per_row ? " per row" : " per direction"));
  const Weight w = quantized_weight(c, kInput, 1), r = quantized_weight(c, kHidden, 2);
  const bool batch_major = c.layout == 1;
  const Tensor x = random_float(
      batch_major ? std::vector<int64_t>{kBatch, kSeq, kInput} : std::vector<int64_t>{kSeq, kBatch, kInput}, 3, -1.0f,
      1.0f);
  const Tensor b = random_float({kDirs, 2 * c.gates * kHidden}, 4, -0.3f, 0.3f);
  Tensor lengths(DType::kInt32, {kBatch});
  for (int64_t i = 0; i < kBatch; ++i) lengths.data<int32_t>()[i] = static_cast<int32_t>(kSeq - i);
  const Tensor h0 = random_float(
      batch_major ? std::vector<int64_t>{kBatch, kDirs, kHidden} : std::vector<int64_t>{kDirs, kBatch, kHidden}, 5,
      -0.5f, 0.5f);
  std::vector<Attribute> attrs{int_attr("hidden_size", kHidden), string_attr("direction", "bidirectional"),
                               int_attr("layout", c.layout)};
  if (c.linear_before_reset) attrs.push_back(int_attr("linear_before_reset", 1));
  const size_t outputs = c.cell == "LSTM" ? 3 : 2;
  const std::vector<Tensor> want =
      run_op(c.cell, 14, attrs, {x, w.dequantized, r.dequantized, b, lengths, h0}, outputs);
  attrs.push_back(string_attr("cell", c.cell));
  const std::vector<Tensor> inputs{x, w.q, r.q, b, lengths, h0, Tensor(), Tensor(), w.scale, w.zero, r.scale, r.zero};
  const std::vector<bool> weights_constant{false, true, true, true, false, false, false, false, true, true, true, true};
  for (const std::vector<bool>& constant : {std::vector<bool>{}, weights_constant}) {
    const std::vector<Tensor> got =
        run_op("DynamicQuantizeRecurrent", 1, attrs, inputs, outputs, nullptr, "com.tessera", constant);
    // X's and h's uint8 steps (range / 255) move the gates by up to ~1e-3 here.
    for (size_t i = 0; i < outputs; ++i) expect_close(got[i], values_of(want[i]), want[i].shape(), 0.0, 6e-3);
  }
}

TEST(DynamicQuantizeRecurrentTest, GruCandidateOnQuantizedResetStateMatchesTheFloatGruWithinNoise) {
  expect_within_noise_of_float({});
  expect_within_noise_of_float({.weight_type = DType::kUint8, .per_row = true});
}

TEST(DynamicQuantizeRecurrentTest, GruLinearBeforeResetMatchesTheFloatGruWithinNoise) {
  expect_within_noise_of_float({.linear_before_reset = true, .per_row = true});
  expect_within_noise_of_float({.linear_before_reset = true, .weight_type = DType::kUint8});
}

TEST(DynamicQuantizeRecurrentTest, BatchMajorLstmAndRnnMatchTheirFloatOpsWithinNoise) {
  expect_within_noise_of_float({.cell = "LSTM", .gates = 4, .layout = 1});
  expect_within_noise_of_float({.cell = "LSTM", .gates = 4, .weight_type = DType::kUint8, .per_row = true});
  expect_within_noise_of_float({.cell = "RNN", .gates = 1, .per_row = true});
}

TEST(DynamicQuantizeRecurrentTest, BadWeightsAndCellsAreClearErrors) {
  const Case c;
  const Weight w = quantized_weight(c, kInput, 1), r = quantized_weight(c, kHidden, 2);
  const Tensor x = random_float({kSeq, kBatch, kInput}, 3);
  const std::vector<Attribute> attrs{int_attr("hidden_size", kHidden), string_attr("direction", "bidirectional"),
                                     string_attr("cell", "GRU")};
  // R given as W: [2, 15, 5] where [2, 15, 6] is needed.
  EXPECT_EQ(error_code_of([&] {
              run_op("DynamicQuantizeRecurrent", 1, attrs,
                     {x, r.q, r.q, Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), r.scale, r.zero, r.scale, r.zero},
                     2, nullptr, "com.tessera");
            }),
            ErrorCode::kInvalidArgument);
  const std::vector<Attribute> bad_cell{int_attr("hidden_size", kHidden), string_attr("direction", "bidirectional"),
                                        string_attr("cell", "Gru")};
  EXPECT_EQ(error_code_of([&] {
              run_op("DynamicQuantizeRecurrent", 1, bad_cell,
                     {x, w.q, r.q, Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), w.scale, w.zero, r.scale, r.zero},
                     2, nullptr, "com.tessera");
            }),
            ErrorCode::kInvalidModel);
}

}  // namespace
}  // namespace tessera

// com.microsoft DynamicQuantizeLSTM with its weights given at run time and as constants (those packed once at kernel
// creation; models.contrib-ops compares that path with ONNX Runtime too): within the quantization noise of X and h
// (quantized to uint8 at run time, as ONNX Runtime does) of the float LSTM on the dequantized, transposed weights,
// and a clear error for a weight of the wrong shape.
#include <gtest/gtest.h>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr int64_t kSeq = 3, kBatch = 2, kInput = 5, kHidden = 4, kDirs = 2;

// int8 [dirs, rows, 4 * hidden] from seed, and its float LSTM form [dirs, 4 * hidden, rows] = (q - zero) * scale
// with one scale and zero point per direction.
void quantized_weight(int64_t rows, uint32_t seed, const std::vector<float>& scales, const std::vector<int8_t>& zeros,
                      Tensor& q, Tensor& lstm_form) {
  const Tensor f = random_float({kDirs, rows, 4 * kHidden}, seed, -127.0f, 127.0f);
  q = Tensor(DType::kInt8, {kDirs, rows, 4 * kHidden});
  lstm_form = Tensor(DType::kFloat, {kDirs, 4 * kHidden, rows});
  for (int64_t d = 0; d < kDirs; ++d) {
    for (int64_t k = 0; k < rows; ++k) {
      for (int64_t j = 0; j < 4 * kHidden; ++j) {
        const int64_t i = (d * rows + k) * 4 * kHidden + j;
        q.data<int8_t>()[i] = static_cast<int8_t>(std::nearbyint(f.data<float>()[i]));
        lstm_form.data<float>()[(d * 4 * kHidden + j) * rows + k] =
            (static_cast<float>(q.data<int8_t>()[i]) - zeros[d]) * scales[d];
      }
    }
  }
}

TEST(DynamicQuantizeLstmTest, RunTimeAndConstantWeightsGiveTheFloatLstmOnTheirDequantizedFormWithinNoise) {
  const std::vector<float> w_scales{0.004f, 0.006f}, r_scales{0.005f, 0.003f};
  const std::vector<int8_t> w_zeros{0, 3}, r_zeros{-2, 0};
  Tensor w, w_float, r, r_float;
  quantized_weight(kInput, 1, w_scales, w_zeros, w, w_float);
  quantized_weight(kHidden, 2, r_scales, r_zeros, r, r_float);
  const Tensor x = random_float({kSeq, kBatch, kInput}, 3), b = random_float({kDirs, 8 * kHidden}, 4, -0.2f, 0.2f);
  const auto parameter = [](DType dtype, const auto& values) {
    Tensor t(dtype, {kDirs});
    for (int64_t d = 0; d < kDirs; ++d) {
      if (dtype == DType::kFloat) {
        t.data<float>()[d] = static_cast<float>(values[d]);
      } else {
        t.data<int8_t>()[d] = static_cast<int8_t>(values[d]);
      }
    }
    return t;
  };
  const std::vector<Attribute> attrs{int_attr("hidden_size", kHidden), string_attr("direction", "bidirectional")};
  const std::vector<Tensor> inputs{x,
                                   w,
                                   r,
                                   b,
                                   Tensor(),
                                   Tensor(),
                                   Tensor(),
                                   Tensor(),
                                   parameter(DType::kFloat, w_scales),
                                   parameter(DType::kInt8, w_zeros),
                                   parameter(DType::kFloat, r_scales),
                                   parameter(DType::kInt8, r_zeros)};
  const std::vector<Tensor> want = run_op("LSTM", 14, attrs, {x, w_float, r_float, b}, 3);
  const std::vector<bool> weights_constant{false, true, true, true, false, false, false, false, true, true, true, true};
  for (const std::vector<bool>& constant : {std::vector<bool>{}, weights_constant}) {
    const std::vector<Tensor> got =
        run_op("DynamicQuantizeLSTM", 1, attrs, inputs, 3, nullptr, "com.microsoft", constant);
    // X's and h's uint8 steps (range / 255) move the gates by up to ~1e-3 here.
    for (size_t i = 0; i < 3; ++i) expect_close(got[i], values_of(want[i]), want[i].shape(), 0.0, 5e-3);
  }

  EXPECT_EQ(
      error_code_of([&] {
        run_op("DynamicQuantizeLSTM", 1, attrs,
               {x, r, r, b, Tensor(), Tensor(), Tensor(), Tensor(), parameter(DType::kFloat, w_scales),
                parameter(DType::kInt8, w_zeros), parameter(DType::kFloat, r_scales), parameter(DType::kInt8, r_zeros)},
               3, nullptr, "com.microsoft");
      }),
      ErrorCode::kInvalidArgument);  // R given as W: [2, 4, 16] where [2, 5, 16] is needed
}

}  // namespace
}  // namespace tessera

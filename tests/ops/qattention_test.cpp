// com.microsoft QAttention: the same output as com.microsoft Attention run on the dequantized input and weight
// (the integer products are exact; only float rounding differs), for uint8 and int8 operands with per-tensor and
// per-column weight parameters, with a past state; bad inputs, with clear errors. Its numbers are compared with ONNX
// Runtime by models.contrib-ops (qattention_*).
#include <gtest/gtest.h>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr const char* kMs = "com.microsoft";
constexpr int64_t kBatch = 2, kSeq = 5, kIn = 12, kHidden = 8;

// Bytes of `dtype` from seed, over the type's whole range.
Tensor random_bytes(DType dtype, const std::vector<int64_t>& shape, uint32_t seed) {
  const Tensor f =
      random_float(shape, seed, dtype == DType::kInt8 ? -128.0f : 0.0f, dtype == DType::kInt8 ? 127.0f : 255.0f);
  Tensor out(dtype, shape);
  for (int64_t i = 0; i < f.element_count(); ++i) {
    const float v = std::nearbyint(f.data<float>()[i]);
    if (dtype == DType::kInt8) {
      out.data<int8_t>()[i] = static_cast<int8_t>(v);
    } else {
      out.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    }
  }
  return out;
}

// (q - zero_point[column]) * scale[column] as float, columns along the last axis (one parameter: per tensor).
Tensor dequantized(const Tensor& q, const Tensor& scale, const Tensor& zero_point) {
  const std::vector<double> v = values_of(q), s = values_of(scale), z = values_of(zero_point);
  const int64_t columns = q.dim(q.rank() - 1);
  Tensor out(DType::kFloat, q.shape());
  for (int64_t i = 0; i < q.element_count(); ++i) {
    const size_t p = s.size() == 1 ? 0 : static_cast<size_t>(i % columns);
    out.data<float>()[i] = static_cast<float>((v[i] - z[p]) * s[p]);
  }
  return out;
}

void expect_matches_float_attention(DType input_type, DType weight_type, bool per_column) {
  const Tensor x = random_bytes(input_type, {kBatch, kSeq, kIn}, 1);
  const Tensor w = random_bytes(weight_type, {kIn, 3 * kHidden}, 2);
  const Tensor bias = random_float({3 * kHidden}, 3);
  const Tensor x_scale = Tensor::scalar<float>(DType::kFloat, 0.02f);
  Tensor x_zero = Tensor(input_type, {});
  x_zero.data<uint8_t>()[0] = input_type == DType::kInt8 ? static_cast<uint8_t>(-3) : 131;
  const int64_t count = per_column ? 3 * kHidden : 1;
  const std::vector<int64_t> shape = per_column ? std::vector<int64_t>{count} : std::vector<int64_t>{};
  const Tensor w_scale = random_float({count}, 4, 0.001f, 0.004f).reshaped(shape);
  const Tensor w_zero = random_bytes(weight_type, {count}, 5).reshaped(shape);
  Tensor mask(DType::kInt32, {kBatch});
  mask.data<int32_t>()[0] = kSeq, mask.data<int32_t>()[1] = 3;
  const std::vector<Attribute> attrs{int_attr("num_heads", 2), int_attr("unidirectional", 1)};
  const Tensor past = random_float({2, kBatch, 2, 3, kHidden / 2}, 14);
  const std::vector<Tensor> got =
      run_op("QAttention", 1, attrs, {x, w, bias, x_scale, w_scale, mask, x_zero, w_zero, past}, 2, nullptr, kMs);
  const std::vector<Tensor> want =
      run_op("Attention", 1, attrs,
             {dequantized(x, x_scale, x_zero), dequantized(w, w_scale, w_zero), bias, mask, past}, 2, nullptr, kMs);
  expect_close(got[0], values_of(want[0]), want[0].shape(), 1e-4, 1e-4);
  expect_close(got[1], values_of(want[1]), want[1].shape(), 1e-4, 1e-4);
}

TEST(QAttentionTest, Uint8InputInt8WeightPerTensor) {
  expect_matches_float_attention(DType::kUint8, DType::kInt8, false);
}

TEST(QAttentionTest, Uint8InputUint8WeightPerColumn) {
  expect_matches_float_attention(DType::kUint8, DType::kUint8, true);
}

TEST(QAttentionTest, Int8InputInt8WeightPerColumn) { expect_matches_float_attention(DType::kInt8, DType::kInt8, true); }

TEST(QAttentionTest, ClearErrors) {
  const Tensor x = random_bytes(DType::kUint8, {1, 3, 4}, 6), w = random_bytes(DType::kInt8, {4, 12}, 7);
  const Tensor bias = random_float({12}, 8), scale = Tensor::scalar<float>(DType::kFloat, 0.1f);
  const std::vector<Attribute> heads{int_attr("num_heads", 2)};
  try {
    run_op("QAttention", 1, heads,
           {x, w, bias, scale, scale, Tensor(), Tensor(), Tensor(), random_float({2, 1, 3, 1, 2}, 9)}, 1, nullptr, kMs);
    ADD_FAILURE() << "past of 3 heads accepted for 2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("past float[2,1,3,1,2]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(error_code_of([&] {
              run_op("QAttention", 1, heads, {x, random_bytes(DType::kInt8, {5, 12}, 10), bias, scale, scale}, 1,
                     nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);  // weight rows differ from the input's hidden size
  EXPECT_EQ(error_code_of([&] {
              run_op("QAttention", 1, heads, {x, w, bias, scale, random_float({5}, 11)}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);  // weight_scale neither per tensor nor per column
  EXPECT_EQ(error_code_of([&] {
              run_op("QAttention", 1, heads, {random_float({1, 3, 4}, 12), w, bias, scale, scale}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);  // float input
  EXPECT_EQ(error_code_of([&] {
              run_op("QAttention", 1, heads, {x, w, random_float({11}, 13), scale, scale}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);  // bias size
}

}  // namespace
}  // namespace tessera

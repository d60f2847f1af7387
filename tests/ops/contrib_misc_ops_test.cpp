// com.microsoft GroupQueryAttention, MatMulNBits, QGemm, QLinearConcat, QLinearGlobalAveragePool, QLinearSigmoid,
// BiasAdd and BiasSoftmax: bad inputs are clear errors naming the tensors (their results are checked against ONNX
// Runtime and NumPy by CTest models.contrib-ops), and two small exact cases.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr const char* kMs = "com.microsoft";

Tensor bytes(DType dtype, const std::vector<int64_t>& shape, std::vector<int> values) {
  Tensor t(dtype, shape);
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kInt8) {
      t.data<int8_t>()[i] = static_cast<int8_t>(values[i]);
    } else {
      t.data<uint8_t>()[i] = static_cast<uint8_t>(values[i]);
    }
  }
  return t;
}

Tensor scalar(float v) {
  Tensor t(DType::kFloat, {});
  t.data<float>()[0] = v;
  return t;
}

TEST(QGemmTest, FloatAndQuantizedOutputsOfASmallCase) {
  // A = [[3, 5]] (zero point 1) -> [2, 4]; B = [[1], [2]] (zero point 0): S = 2 + 8 = 10, plus C = 4 -> 14.
  const Tensor a = bytes(DType::kUint8, {1, 2}, {3, 5}), b = bytes(DType::kInt8, {2, 1}, {1, 2});
  Tensor c(DType::kInt32, {1});
  c.data<int32_t>()[0] = 4;
  const std::vector<Tensor> f =
      run_op("QGemm", 1, {float_attr("alpha", 0.5f)},
             {a, scalar(0.25f), bytes(DType::kUint8, {}, {1}), b, scalar(2.0f), bytes(DType::kInt8, {}, {0}), c}, 1,
             nullptr, kMs);
  expect_close(f[0], {14 * 0.5 * 0.25 * 2.0}, {1, 1});
  const std::vector<Tensor> q = run_op("QGemm", 1, {},
                                       {a, scalar(0.25f), bytes(DType::kUint8, {}, {1}), b, scalar(2.0f),
                                        bytes(DType::kInt8, {}, {0}), c, scalar(0.5f), bytes(DType::kInt8, {}, {-3})},
                                       1, nullptr, kMs);
  ASSERT_EQ(q[0].dtype(), DType::kInt8);
  EXPECT_EQ(q[0].data<int8_t>()[0], 14 - 3);  // 14 * 0.25 * 2 / 0.5 = 14
}

TEST(QGemmTest, RejectsShapesThatDoNotMultiply) {
  const Tensor a = bytes(DType::kUint8, {2, 3}, {}), b = bytes(DType::kInt8, {4, 2}, {});
  EXPECT_EQ(error_code_of([&] {
              run_op("QGemm", 1, {},
                     {a, scalar(1), bytes(DType::kUint8, {}, {0}), b, scalar(1), bytes(DType::kInt8, {}, {0})}, 1,
                     nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
}

TEST(QLinearConcatTest, RejectsIncompleteTriplesAndMismatchedShapes) {
  const Tensor x = bytes(DType::kUint8, {2, 3}, {}), z = bytes(DType::kUint8, {}, {0});
  EXPECT_EQ(error_code_of([&] {
              run_op("QLinearConcat", 1, {int_attr("axis", 0)}, {scalar(1), z, x, scalar(1)}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("QLinearConcat", 1, {int_attr("axis", 0)},
                     {scalar(1), z, x, scalar(1), z, bytes(DType::kUint8, {2, 4}, {}), scalar(1), z}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
}

TEST(QLinearGlobalAveragePoolTest, AveragesExactlyAndRejectsRankTwo) {
  // Plane {1, 2, 3, 6} with zero point 0: sum 12 over 4 -> 3 (x_scale = y_scale).
  const Tensor x = bytes(DType::kUint8, {1, 1, 2, 2}, {1, 2, 3, 6}), z = bytes(DType::kUint8, {}, {0});
  const std::vector<Tensor> y =
      run_op("QLinearGlobalAveragePool", 1, {}, {x, scalar(1), z, scalar(1), z}, 1, nullptr, kMs);
  EXPECT_EQ(y[0].shape(), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(y[0].data<uint8_t>()[0], 3);
  EXPECT_EQ(error_code_of([&] {
              run_op("QLinearGlobalAveragePool", 1, {}, {bytes(DType::kUint8, {2, 2}, {}), scalar(1), z, scalar(1), z},
                     1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
}

TEST(QLinearSigmoidTest, RejectsFloatInput) {
  EXPECT_EQ(error_code_of([&] {
              run_op("QLinearSigmoid", 1, {}, {random_float({4}, 1), scalar(1), Tensor(), scalar(1), Tensor()}, 1,
                     nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
}

TEST(MatMulNBitsTest, DequantizesFourBitBlocksAndRejectsBadWeights) {
  // K = 16 (one block), N = 1: values 0..15 packed low nibble first, zero point 8 (default), scale 0.5.
  Tensor b(DType::kUint8, {1, 1, 8});
  for (int i = 0; i < 8; ++i) b.data<uint8_t>()[i] = static_cast<uint8_t>((2 * i) | ((2 * i + 1) << 4));
  Tensor a(DType::kFloat, {1, 16});
  for (int i = 0; i < 16; ++i) a.data<float>()[i] = 1.0f;
  const std::vector<Attribute> attrs = {int_attr("K", 16), int_attr("N", 1), int_attr("bits", 4),
                                        int_attr("block_size", 16)};
  Tensor scales(DType::kFloat, {1});
  scales.data<float>()[0] = 0.5f;
  const std::vector<Tensor> y = run_op("MatMulNBits", 1, attrs, {a, b, scales}, 1, nullptr, kMs);
  expect_close(y[0], {0.5 * (120 - 8 * 16)}, {1, 1});  // sum of (v - 8) for v = 0..15 is -8
  EXPECT_EQ(error_code_of([&] {
              run_op("MatMulNBits", 1, attrs, {a, bytes(DType::kUint8, {1, 1, 7}, {}), scales}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("MatMulNBits", 1,
                     {int_attr("K", 16), int_attr("N", 1), int_attr("bits", 3), int_attr("block_size", 16)},
                     {a, b, scales}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidModel);
}

TEST(GroupQueryAttentionTest, RefusesWhatItDoesNotRunAndBadSeqlens) {
  // Results are checked against ONNX Runtime by models.contrib-ops; here the refusals.
  const Tensor q = random_float({1, 2, 16}, 1), kv = random_float({1, 2, 8}, 2);
  Tensor seqlens(DType::kInt32, {1}), total(DType::kInt32, {});
  seqlens.data<int32_t>()[0] = 1;
  total.data<int32_t>()[0] = 2;
  const std::vector<Attribute> heads = {int_attr("num_heads", 2), int_attr("kv_num_heads", 1)};
  std::vector<Attribute> smooth = heads;
  smooth.push_back(int_attr("smooth_softmax", 1));
  EXPECT_EQ(
      error_code_of([&] {
        run_op("GroupQueryAttention", 1, smooth, {q, kv, kv, Tensor(), Tensor(), seqlens, total}, 3, nullptr, kMs);
      }),
      ErrorCode::kUnsupported);
  const std::vector<Tensor> ok =
      run_op("GroupQueryAttention", 1, heads, {q, kv, kv, Tensor(), Tensor(), seqlens, total}, 3, nullptr, kMs);
  EXPECT_EQ(ok[0].shape(), (std::vector<int64_t>{1, 2, 16}));
  EXPECT_EQ(ok[1].shape(), (std::vector<int64_t>{1, 1, 2, 8}));
  seqlens.data<int32_t>()[0] = 5;  // longer than total_sequence_length
  EXPECT_EQ(error_code_of([&] {
              run_op("GroupQueryAttention", 1, heads, {q, kv, kv, Tensor(), Tensor(), seqlens, total}, 3, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
}

TEST(BiasOpsTest, RejectBadShapes) {
  const Tensor x = random_float({2, 3, 8}, 1);
  EXPECT_EQ(error_code_of([&] {
              run_op("BiasAdd", 1, {}, {x, random_float({7}, 2), x}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("BiasSoftmax", 1, {int_attr("axis", 2), int_attr("is_inner_broadcast", 1)},
                     {x, random_float({5, 8}, 3)}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  // A valid bias repeating over every row gives softmax(x + bias) per row.
  const Tensor bias = random_float({8}, 4);
  const std::vector<Tensor> y =
      run_op("BiasSoftmax", 1, {int_attr("axis", 2), int_attr("is_inner_broadcast", 0)}, {x, bias}, 1, nullptr, kMs);
  std::vector<double> expected;
  const std::vector<double> xv = values_of(x), bv = values_of(bias);
  for (size_t r = 0; r < 6; ++r) {
    double top = -INFINITY, sum = 0;
    for (size_t i = 0; i < 8; ++i) top = std::max(top, xv[r * 8 + i] + bv[i]);
    for (size_t i = 0; i < 8; ++i) sum += std::exp(xv[r * 8 + i] + bv[i] - top);
    for (size_t i = 0; i < 8; ++i) expected.push_back(std::exp(xv[r * 8 + i] + bv[i] - top) / sum);
  }
  expect_close(y[0], expected, {2, 3, 8});
}

}  // namespace
}  // namespace tessera

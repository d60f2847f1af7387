#include "base/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "base/float_types.h"

namespace tessera {
namespace {

TEST(TensorTest, AllocatesZeroFilledWithShape) {
  Tensor t(DType::kFloat, {2, 3});
  EXPECT_EQ(t.element_count(), 6);
  EXPECT_EQ(t.byte_size(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
}

TEST(TensorTest, RefusesNegativeAndOverflowingShapes) {
  EXPECT_THROW(Tensor(DType::kFloat, {-1, 2}), Error);
  EXPECT_THROW(Tensor(DType::kFloat, {INT64_MAX, 3}), Error);
}

TEST(TensorTest, RefusesTerabyteTensorsBeforeAllocating) {
  try {
    Tensor t(DType::kFloat, {1 << 20, 1 << 20, 1 << 10});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
  }
}

TEST(TensorTest, StringTensorsOwnTheirStrings) {
  Tensor t(DType::kString, {2});
  t.data<std::string>()[0] = "hello";
  Tensor copy = t.clone();
  t.data<std::string>()[0] = "changed";
  EXPECT_EQ(copy.data<std::string>()[0], "hello");
}

TEST(TensorTest, ReshapedSharesStorage) {
  Tensor t(DType::kInt32, {2, 3});
  Tensor view = t.reshaped({3, 2});
  t.data<int32_t>()[5] = 7;
  EXPECT_EQ(view.data<int32_t>()[5], 7);
  EXPECT_THROW(t.reshaped({4}), Error);
}

TEST(FloatTypesTest, HalfRoundTrip) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f}) {
    EXPECT_EQ(half_to_float(float_to_half(v)), v);
  }
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6f))));
}

TEST(FloatTypesTest, Float8SaturatesAndRounds) {
  EXPECT_EQ(narrow_float_to_float(DType::kFloat8E4M3FN, float_to_narrow_float(DType::kFloat8E4M3FN, 1000.0f, true)), 448.0f);
  EXPECT_TRUE(std::isnan(narrow_float_to_float(DType::kFloat8E4M3FN, float_to_narrow_float(DType::kFloat8E4M3FN, 1000.0f, false))));
  EXPECT_EQ(narrow_float_to_float(DType::kFloat8E5M2, float_to_narrow_float(DType::kFloat8E5M2, 1.5f, true)), 1.5f);
  EXPECT_EQ(narrow_float_to_float(DType::kFloat4E2M1, float_to_narrow_float(DType::kFloat4E2M1, 2.6f, true)), 3.0f);
}

}  // namespace
}  // namespace tessera

// compare_values on maps and sequences of maps: keys exactly, values within the tolerance.
#include <gtest/gtest.h>

#include "compare/value_compare.h"

namespace tessera {
namespace {

MapValue int_float_map(std::vector<int64_t> keys, std::vector<float> values) {
  return MapValue::from_pairs(Tensor::from_vector(DType::kInt64, keys), Tensor::from_vector(DType::kFloat, values));
}

TEST(MapCompareTest, ValuesWithinToleranceMatch) {
  const Tolerance tolerance{1e-3, 1e-7};
  const RuntimeValue expected = RuntimeValue::map(int_float_map({0, 1}, {1.0f, 2.0f}));
  EXPECT_EQ(compare_values(expected, RuntimeValue::map(int_float_map({1, 0}, {2.0001f, 1.0f})), tolerance), "");
  EXPECT_NE(
      compare_values(expected, RuntimeValue::map(int_float_map({0, 1}, {1.0f, 2.5f})), tolerance).find("map values"),
      std::string::npos);
  EXPECT_NE(
      compare_values(expected, RuntimeValue::map(int_float_map({0, 2}, {1.0f, 2.0f})), tolerance).find("map keys"),
      std::string::npos);
}

TEST(MapCompareTest, SequencesOfMapsCompareElementByElement) {
  const Tolerance tolerance{1e-3, 1e-7};
  const MapValue a = int_float_map({0, 1}, {0.25f, 0.75f});
  const MapValue b = int_float_map({0, 1}, {0.5f, 0.5f});
  const RuntimeValue expected = RuntimeValue::map_sequence(DType::kInt64, DType::kFloat, {a, b});
  EXPECT_EQ(compare_values(expected, RuntimeValue::map_sequence(DType::kInt64, DType::kFloat, {a, b}), tolerance), "");
  EXPECT_NE(compare_values(expected, RuntimeValue::map_sequence(DType::kInt64, DType::kFloat, {a, a}), tolerance)
                .find("sequence element 1: map values"),
            std::string::npos);
  EXPECT_NE(compare_values(expected, RuntimeValue::map_sequence(DType::kInt64, DType::kFloat, {a}), tolerance)
                .find("sequence length differs"),
            std::string::npos);
  EXPECT_NE(compare_values(expected, RuntimeValue::map(a), tolerance).find("value kind differs"), std::string::npos);
}

}  // namespace
}  // namespace tessera

// Tests of compare/spec_undefined.h (which output elements the spec leaves undefined) and of the masked
// comparison the conformance runner builds on it.
#include "compare/spec_undefined.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/error.h"
#include "compare/value_compare.h"
#include "ir/graph_builder.h"

namespace tessera {
namespace {

Tensor floats(const std::vector<float>& values) {
  Tensor t(DType::kFloat, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = values[i];
  return t;
}

Model cast_model(const std::string& op, DType to) {
  GraphBuilder builder(21);
  builder.input("x", DType::kFloat, {5});
  if (op == "Cast") {
    builder.node("Cast", {"x"}, {"y"}).attr_int("to", static_cast<int64_t>(to));
  } else {
    builder.input("like", to, {1});
    builder.node("CastLike", {"x", "like"}, {"y"});
  }
  return builder.output("y", to).build();
}

TEST(SpecUndefined, FloatToIntegerRange) {
  EXPECT_TRUE(float_to_integer_is_defined(-8.9, DType::kInt4));
  EXPECT_FALSE(float_to_integer_is_defined(-9.0, DType::kInt4));
  EXPECT_TRUE(float_to_integer_is_defined(7.99, DType::kInt4));
  EXPECT_FALSE(float_to_integer_is_defined(8.0, DType::kInt4));
  EXPECT_TRUE(float_to_integer_is_defined(-0.9, DType::kUint2));  // truncates to 0
  EXPECT_FALSE(float_to_integer_is_defined(-1.0, DType::kUint2));
  EXPECT_FALSE(float_to_integer_is_defined(std::nan(""), DType::kInt64));
  EXPECT_FALSE(float_to_integer_is_defined(std::numeric_limits<double>::infinity(), DType::kInt32));
  EXPECT_FALSE(float_to_integer_is_defined(9223372036854775808.0, DType::kInt64));
  EXPECT_TRUE(float_to_integer_is_defined(-9223372036854775808.0, DType::kInt64));
  EXPECT_TRUE(float_to_integer_is_defined(255.9, DType::kUint8));
  EXPECT_THROW(float_to_integer_is_defined(1.0, DType::kFloat), Error);
}

TEST(SpecUndefined, CastAndCastLikeFromAGraphInput) {
  const Tensor x = floats({-9.0f, -8.5f, 7.5f, 8.0f, std::nanf("")});
  for (const char* op : {"Cast", "CastLike"}) {
    const Model model = cast_model(op, DType::kInt4);
    const std::vector<uint8_t> undefined = spec_undefined_elements(*model.graph, "y", {{"x", &x}});
    EXPECT_EQ(undefined, (std::vector<uint8_t>{1, 0, 0, 1, 1})) << op;
  }
  // Every element in range: nothing flagged.
  const Tensor in_range = floats({-8.0f, -1.5f, 0.0f, 3.0f, 7.9f});
  EXPECT_TRUE(spec_undefined_elements(*cast_model("Cast", DType::kInt4).graph, "y", {{"x", &in_range}}).empty());
  // Float -> float casts are always defined.
  EXPECT_TRUE(spec_undefined_elements(*cast_model("Cast", DType::kFloat16).graph, "y", {{"x", &x}}).empty());
}

TEST(SpecUndefined, OtherProducersHaveNoRule) {
  const Model model = GraphBuilder(21).input("x", DType::kFloat, {5}).node("Relu", {"x"}, {"y"}).output("y").build();
  const Tensor x = floats({1e30f, -1e30f, 0.0f, 1.0f, 2.0f});
  EXPECT_TRUE(spec_undefined_elements(*model.graph, "y", {{"x", &x}}).empty());
}

TEST(SpecUndefined, MaskedComparisonSkipsOnlyFlaggedElements) {
  Tensor expected(DType::kInt8, {3});
  Tensor actual(DType::kInt8, {3});
  for (int i = 0; i < 3; ++i) expected.data<int8_t>()[i] = actual.data<int8_t>()[i] = static_cast<int8_t>(i);
  actual.data<int8_t>()[0] = 42;
  EXPECT_FALSE(compare_tensors(expected, actual, Tolerance{}).empty());
  EXPECT_TRUE(compare_tensors(expected, actual, Tolerance{}, {1, 0, 0}).empty());
  actual.data<int8_t>()[2] = 7;
  const std::string diff = compare_tensors(expected, actual, Tolerance{}, {1, 0, 0});
  EXPECT_NE(diff.find("1 of 3 elements differ"), std::string::npos) << diff;
  EXPECT_NE(diff.find("not compared"), std::string::npos) << diff;
  EXPECT_THROW(compare_tensors(expected, actual, Tolerance{}, {1, 0}), Error);
}

}  // namespace
}  // namespace tessera

// CastMap: a map from int64 keys becomes a [1, N] tensor, DENSE (one element per key, in key order) or SPARSE
// (max_map elements, keys as positions), with ONNX Runtime's conversions and padding.
#include <gtest/gtest.h>

#include "ops/ml/map_test_util.h"

namespace tessera {
namespace {

using namespace map_test;

RuntimeValue float_map() {
  return make_map(DType::kInt64, std::vector<int64_t>{3, 0, 1}, DType::kFloat, std::vector<float>{3.5f, -1.5f, 2.0f});
}

TEST(CastMapTest, DenseToFloatIsKeyOrder) {
  const Tensor out = run_ml("CastMap", {}, {float_map()})[0].tensor();
  EXPECT_EQ(out.description(), "float[1,3]");
  EXPECT_EQ(elements<float>(out), (std::vector<float>{-1.5f, 2.0f, 3.5f}));
}

TEST(CastMapTest, SparseToInt64PadsMissingPositionsAndDropsKeysPastMaxMap) {
  const Tensor out =
      run_ml("CastMap", {string_attr("cast_to", "TO_INT64"), string_attr("map_form", "SPARSE"), int_attr("max_map", 3)},
             {float_map()})[0]
          .tensor();
  EXPECT_EQ(out.description(), "int64[1,3]");
  EXPECT_EQ(elements<int64_t>(out), (std::vector<int64_t>{-1, 2, 0}));
}

TEST(CastMapTest, ToStringUsesToStringAndPadsWithOnnxRuntimesText) {
  const Tensor dense = run_ml("CastMap", {string_attr("cast_to", "TO_STRING")}, {float_map()})[0].tensor();
  EXPECT_EQ(elements<std::string>(dense), (std::vector<std::string>{"-1.500000", "2.000000", "3.500000"}));
  const Tensor sparse =
      run_ml("CastMap",
             {string_attr("cast_to", "TO_STRING"), string_attr("map_form", "SPARSE"), int_attr("max_map", 3)},
             {float_map()})[0]
          .tensor();
  EXPECT_EQ(elements<std::string>(sparse), (std::vector<std::string>{"-1.500000", "2.000000", "0.f"}));
}

TEST(CastMapTest, StringValuesParseAsNumbers) {
  const RuntimeValue map =
      make_map(DType::kInt64, std::vector<int64_t>{0, 1}, DType::kString, std::vector<std::string>{"1.25", "42"});
  EXPECT_EQ(elements<float>(run_ml("CastMap", {}, {map})[0].tensor()), (std::vector<float>{1.25f, 42.0f}));
  EXPECT_EQ(elements<int64_t>(run_ml("CastMap", {string_attr("cast_to", "TO_INT64")}, {map})[0].tensor()),
            (std::vector<int64_t>{1, 42}));
  const RuntimeValue bad =
      make_map(DType::kInt64, std::vector<int64_t>{0}, DType::kString, std::vector<std::string>{"abc"});
  EXPECT_EQ(nn_test::error_code_of([&] { run_ml("CastMap", {}, {bad}); }), ErrorCode::kInvalidArgument);
}

TEST(CastMapTest, BadInputsAndAttributesAreClearErrors) {
  const std::vector<Attribute> sparse{string_attr("map_form", "SPARSE"), int_attr("max_map", 2)};
  const RuntimeValue negative =
      make_map(DType::kInt64, std::vector<int64_t>{-1, 0}, DType::kFloat, std::vector<float>{1, 2});
  EXPECT_EQ(nn_test::error_code_of([&] { run_ml("CastMap", sparse, {negative}); }), ErrorCode::kInvalidArgument);
  const RuntimeValue string_keys =
      make_map(DType::kString, std::vector<std::string>{"a"}, DType::kFloat, std::vector<float>{1});
  EXPECT_EQ(nn_test::error_code_of([&] { run_ml("CastMap", {}, {string_keys}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(nn_test::error_code_of([&] { run_ml("CastMap", {string_attr("cast_to", "TO_BOOL")}, {float_map()}); }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(nn_test::error_code_of([&] {
              run_ml("CastMap", {string_attr("map_form", "SPARSE"), int_attr("max_map", 0)}, {float_map()});
            }),
            ErrorCode::kInvalidModel);
}

TEST(CastMapTest, InfersTypeAndSparseWidth) {
  EXPECT_EQ(infer_ml("CastMap",
                     {string_attr("cast_to", "TO_STRING"), string_attr("map_form", "SPARSE"), int_attr("max_map", 4)},
                     {TypeInfo{}})[0]
                .to_string(),
            "string[1,4]");
  EXPECT_EQ(infer_ml("CastMap", {}, {TypeInfo{}})[0].to_string(), "float[1,?]");
}

// The op has one version (ai.onnx.ml 1): models importing a later ai.onnx.ml opset (onnxmltools writes 3) use it.
TEST(CastMapTest, ServesEveryMlOpset) {
  for (int64_t opset : {1, 3, 5}) EXPECT_NE(OpRegistry::instance().find("ai.onnx.ml", "CastMap", opset), nullptr);
}

}  // namespace
}  // namespace tessera

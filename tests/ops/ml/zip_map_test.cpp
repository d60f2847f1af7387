// ZipMap: rows of scores become maps from class label to score, in key order, as ONNX Runtime gives them.
#include <gtest/gtest.h>

#include "ops/ml/map_test_util.h"

namespace tessera {
namespace {

using namespace map_test;

TEST(ZipMapTest, Int64LabelsGiveOneMapPerRowInKeyOrder) {
  Tensor x = Tensor::from_vector(DType::kFloat, std::vector<float>{0.1f, 0.2f, 0.7f, 0.5f, 0.25f, 0.25f});
  const RuntimeValue out =
      run_ml("ZipMap", {ints_attr("classlabels_int64s", {7, 3, 5})}, {RuntimeValue(x.reshaped({2, 3}))})[0];
  ASSERT_TRUE(out.is_map_sequence());
  EXPECT_EQ(out.element_type(), DType::kInt64);
  EXPECT_EQ(out.map_value_type(), DType::kFloat);
  ASSERT_EQ(out.maps().size(), 2u);
  EXPECT_EQ(elements<int64_t>(out.maps()[0].keys), (std::vector<int64_t>{3, 5, 7}));
  EXPECT_EQ(elements<float>(out.maps()[0].values), (std::vector<float>{0.2f, 0.7f, 0.1f}));
  EXPECT_EQ(elements<float>(out.maps()[1].values), (std::vector<float>{0.25f, 0.25f, 0.5f}));
  EXPECT_EQ(out.description(), "seq(map(int64,float))[2]");
}

TEST(ZipMapTest, StringLabelsAndOneDimensionalInput) {
  Tensor x = Tensor::from_vector(DType::kFloat, std::vector<float>{0.9f, 0.1f});
  const RuntimeValue out = run_ml("ZipMap", {strings_attr("classlabels_strings", {"yes", "no"})}, {RuntimeValue(x)})[0];
  ASSERT_EQ(out.maps().size(), 1u);
  EXPECT_EQ(elements<std::string>(out.maps()[0].keys), (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(elements<float>(out.maps()[0].values), (std::vector<float>{0.1f, 0.9f}));
}

TEST(ZipMapTest, RepeatedLabelKeepsTheLastColumn) {
  Tensor x = Tensor::from_vector(DType::kFloat, std::vector<float>{1.0f, 2.0f, 3.0f});
  const RuntimeValue out = run_ml("ZipMap", {ints_attr("classlabels_int64s", {1, 0, 1})}, {RuntimeValue(x)})[0];
  EXPECT_EQ(elements<int64_t>(out.maps()[0].keys), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(elements<float>(out.maps()[0].values), (std::vector<float>{2.0f, 3.0f}));
}

TEST(ZipMapTest, MapsDoNotShareKeysWithEachOther) {
  Tensor x(DType::kFloat, {2, 2});
  const RuntimeValue out = run_ml("ZipMap", {ints_attr("classlabels_int64s", {0, 1})}, {RuntimeValue(x)})[0];
  EXPECT_NE(out.maps()[0].keys.raw_data(), out.maps()[1].keys.raw_data());
}

TEST(ZipMapTest, NoRowsGiveAnEmptySequence) {
  const RuntimeValue out =
      run_ml("ZipMap", {ints_attr("classlabels_int64s", {0, 1})}, {RuntimeValue(Tensor(DType::kFloat, {0, 2}))})[0];
  ASSERT_TRUE(out.is_map_sequence());
  EXPECT_TRUE(out.maps().empty());
}

TEST(ZipMapTest, BadInputsAreClearErrors) {
  const std::vector<Attribute> attrs{ints_attr("classlabels_int64s", {0, 1})};
  EXPECT_EQ(nn_test::error_code_of([&] {
              run_ml("ZipMap", attrs, {RuntimeValue(Tensor(DType::kFloat, {2, 3}))});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(nn_test::error_code_of([&] {
              run_ml("ZipMap", attrs, {RuntimeValue(Tensor(DType::kDouble, {2, 2}))});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(nn_test::error_code_of([&] {
              run_ml("ZipMap", attrs, {RuntimeValue(Tensor(DType::kFloat, {1, 2, 2}))});
            }),
            ErrorCode::kInvalidArgument);
  try {
    run_ml("ZipMap", attrs, {RuntimeValue(Tensor(DType::kFloat, {4, 3}))});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'X' float[4,3] has 3 scores per row but the node has 2 class labels"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(nn_test::error_code_of([&] { run_ml("ZipMap", {}, {RuntimeValue(Tensor(DType::kFloat, {2}))}); }),
            ErrorCode::kInvalidModel);
}

TEST(ZipMapTest, InfersSequenceOfMapType) {
  const std::vector<TypeInfo> out =
      infer_ml("ZipMap", {strings_attr("classlabels_strings", {"a"})}, {TypeInfo::tensor(DType::kFloat)});
  EXPECT_EQ(out[0].to_string(), "seq(map(string,float[...]))");
}

// The op has one version (ai.onnx.ml 1): models importing a later ai.onnx.ml opset (onnxmltools writes 3) use it.
TEST(ZipMapTest, ServesEveryMlOpset) {
  for (int64_t opset : {1, 3, 5}) EXPECT_NE(OpRegistry::instance().find("ai.onnx.ml", "ZipMap", opset), nullptr);
}

}  // namespace
}  // namespace tessera

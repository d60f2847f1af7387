// DictVectorizer: a map becomes a [1, V] tensor in vocabulary order, missing keys as the type's default.
#include <gtest/gtest.h>

#include "ops/ml/map_test_util.h"

namespace tessera {
namespace {

using namespace map_test;

TEST(DictVectorizerTest, StringKeysToFloatInVocabularyOrder) {
  const RuntimeValue map =
      make_map(DType::kString, std::vector<std::string>{"b", "z", "a"}, DType::kFloat, std::vector<float>{2, 9, 1});
  const RuntimeValue out = run_ml("DictVectorizer", {strings_attr("string_vocabulary", {"a", "c", "b"})}, {map})[0];
  ASSERT_TRUE(out.is_tensor());
  EXPECT_EQ(out.tensor().description(), "float[1,3]");
  EXPECT_EQ(elements<float>(out.tensor()), (std::vector<float>{1, 0, 2}));
}

TEST(DictVectorizerTest, Int64KeysToStringsAndDoubles) {
  const RuntimeValue strings =
      make_map(DType::kInt64, std::vector<int64_t>{5, 1}, DType::kString, std::vector<std::string>{"five", "one"});
  const std::vector<Attribute> attrs{ints_attr("int64_vocabulary", {1, 2, 5})};
  EXPECT_EQ(elements<std::string>(run_ml("DictVectorizer", attrs, {strings})[0].tensor()),
            (std::vector<std::string>{"one", "", "five"}));
  const RuntimeValue doubles =
      make_map(DType::kInt64, std::vector<int64_t>{2}, DType::kDouble, std::vector<double>{0.5});
  EXPECT_EQ(elements<double>(run_ml("DictVectorizer", attrs, {doubles})[0].tensor()), (std::vector<double>{0, 0.5, 0}));
}

TEST(DictVectorizerTest, KeyTypeMismatchIsAnErrorNamingTheInput) {
  const RuntimeValue map = make_map(DType::kInt64, std::vector<int64_t>{1}, DType::kFloat, std::vector<float>{1});
  try {
    run_ml("DictVectorizer", {strings_attr("string_vocabulary", {"a"})}, {map});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("input 'X' map(int64,float)[1] has int64 keys"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(nn_test::error_code_of([&] {
              run_ml("DictVectorizer", {strings_attr("string_vocabulary", {"a"})},
                     {RuntimeValue(Tensor(DType::kFloat, {1}))});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(DictVectorizerTest, DeclaredInputTypeIsCheckedAtCreation) {
  const RuntimeValue map = make_map(DType::kInt64, std::vector<int64_t>{1}, DType::kFloat, std::vector<float>{1});
  const TypeInfo declared = TypeInfo::map_of(DType::kInt64, TypeInfo::tensor(DType::kFloat));
  EXPECT_EQ(nn_test::error_code_of(
                [&] { run_ml("DictVectorizer", {strings_attr("string_vocabulary", {"a"})}, {map}, {declared}); }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(
      nn_test::error_code_of([&] {
        run_ml("DictVectorizer", {strings_attr("string_vocabulary", {"a"}), ints_attr("int64_vocabulary", {1})}, {map});
      }),
      ErrorCode::kInvalidModel);
}

TEST(DictVectorizerTest, InfersTheMapValueTypeAndVocabularySize) {
  const std::vector<TypeInfo> out = infer_ml("DictVectorizer", {ints_attr("int64_vocabulary", {4, 5})},
                                             {TypeInfo::map_of(DType::kInt64, TypeInfo::tensor(DType::kDouble))});
  EXPECT_EQ(out[0].to_string(), "double[1,2]");
}

// The op has one version (ai.onnx.ml 1): models importing a later ai.onnx.ml opset (onnxmltools writes 3) use it.
TEST(DictVectorizerTest, ServesEveryMlOpset) {
  for (int64_t opset : {1, 3, 5})
    EXPECT_NE(OpRegistry::instance().find("ai.onnx.ml", "DictVectorizer", opset), nullptr);
}

}  // namespace
}  // namespace tessera

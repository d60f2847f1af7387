// com.microsoft Tokenizer: both modes, character mode, marks, padding, mincharnum, [N, C] input, and the errors.
#include <gtest/gtest.h>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr const char* kMs = "com.microsoft";

Tensor strings(const std::vector<int64_t>& shape, const std::vector<std::string>& values) {
  Tensor t(DType::kString, shape);
  for (size_t i = 0; i < values.size(); ++i) t.data<std::string>()[i] = values[i];
  return t;
}

std::vector<std::string> values(const Tensor& t) {
  return std::vector<std::string>(t.data<std::string>(), t.data<std::string>() + t.element_count());
}

TEST(TokenizerTest, SeparatorsSplitAndPadAfterTheEndMark) {
  const std::vector<Attribute> attrs = {int_attr("mark", 1), string_attr("pad_value", "#"), int_attr("mincharnum", 1),
                                        strings_attr("separators", {" ", ","})};
  const Tensor y =
      run_op("Tokenizer", 1, attrs, {strings({2}, {"Hello World", "I,love  computer science !"})}, 1, nullptr, kMs)[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(values(y), (std::vector<std::string>{"\x02", "Hello", "World", "\x03", "#", "#", "#", "\x02", "I", "love",
                                                 "computer", "science", "!", "\x03"}));
}

TEST(TokenizerTest, TokenExpressionMatchesAndMinCharNumDrops) {
  const std::vector<Attribute> attrs = {int_attr("mark", 0), string_attr("pad_value", "_"), int_attr("mincharnum", 2),
                                        string_attr("tokenexp", "[a-zA-Z0-9_]+")};
  const Tensor y = run_op("Tokenizer", 1, attrs, {strings({1, 2}, {"a bc, d_ef!", "--"})}, 1, nullptr, kMs)[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(values(y), (std::vector<std::string>{"bc", "d_ef", "_", "_"}));
}

TEST(TokenizerTest, CharacterModeCountsUtf8CodePoints) {
  const std::vector<Attribute> attrs = {int_attr("mark", 0), string_attr("pad_value", "#"), int_attr("mincharnum", 1),
                                        strings_attr("separators", {""})};
  const Tensor y = run_op("Tokenizer", 1, attrs, {strings({2}, {"h\xC3\xA9", "abc"})}, 1, nullptr, kMs)[0];
  EXPECT_EQ(values(y), (std::vector<std::string>{"h", "\xC3\xA9", "#", "a", "b", "c"}));
}

TEST(TokenizerTest, RejectsBothOrNeitherModeAndBadExpressions) {
  const Tensor x = strings({1}, {"a"});
  const std::vector<Attribute> both = {int_attr("mark", 0), string_attr("pad_value", "#"), int_attr("mincharnum", 1),
                                       strings_attr("separators", {" "}), string_attr("tokenexp", "a")};
  EXPECT_EQ(error_code_of([&] { run_op("Tokenizer", 1, both, {x}, 1, nullptr, kMs); }), ErrorCode::kInvalidModel);
  const std::vector<Attribute> bad = {int_attr("mark", 0), string_attr("pad_value", "#"), int_attr("mincharnum", 1),
                                      string_attr("tokenexp", "([a-z")};
  EXPECT_EQ(error_code_of([&] { run_op("Tokenizer", 1, bad, {x}, 1, nullptr, kMs); }), ErrorCode::kInvalidModel);
  const std::vector<Attribute> ok = {int_attr("mark", 0), string_attr("pad_value", "#"), int_attr("mincharnum", 1),
                                     string_attr("tokenexp", "a")};
  EXPECT_EQ(error_code_of([&] { run_op("Tokenizer", 1, ok, {random_float({2}, 1)}, 1, nullptr, kMs); }),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera

// The wire forms of tensors: binary (with BYTES length prefixes) and JSON, and their refusals.
#include "serve/tensor_codec.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/float_types.h"
#include "serve/serve_error.h"

namespace tessera::serve {
namespace {

std::string bytes_element(const std::string& value) {
  const uint32_t length = static_cast<uint32_t>(value.size());
  std::string out(4, '\0');
  std::memcpy(out.data(), &length, 4);
  return out + value;
}

template <typename Body>
std::string bad_request_message(Body&& body) {
  try {
    body();
  } catch (const ServeError& e) {
    EXPECT_EQ(e.status(), ServeStatus::kBadRequest);
    return e.what();
  }
  ADD_FAILURE() << "expected a ServeError";
  return {};
}

TEST(TensorCodec, BinaryFloatRoundTrip) {
  const float values[] = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f};
  const std::string bytes(reinterpret_cast<const char*>(values), sizeof(values));
  const Tensor tensor = tensor_from_binary(DType::kFloat, {2, 3}, bytes, "x");
  EXPECT_EQ(tensor.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(tensor.data<float>()[5], -0.5f);
  std::string out;
  append_tensor_binary(tensor, out);
  EXPECT_EQ(out, bytes);
  EXPECT_EQ(tensor_binary_size(tensor), bytes.size());
}

TEST(TensorCodec, BinaryBytesRoundTripWithEmbeddedZeros) {
  const std::string bytes = bytes_element("") + bytes_element(std::string("a\0b", 3)) + bytes_element("xyz");
  const Tensor tensor = tensor_from_binary(DType::kString, {3}, bytes, "s");
  EXPECT_EQ(tensor.data<std::string>()[1], std::string("a\0b", 3));
  std::string out;
  append_tensor_binary(tensor, out);
  EXPECT_EQ(out, bytes);
}

TEST(TensorCodec, BinaryBoolNormalizesNonzeroBytes) {
  const Tensor tensor = tensor_from_binary(DType::kBool, {3}, std::string("\x00\x01\x07", 3), "b");
  std::string out;
  append_tensor_binary(tensor, out);
  EXPECT_EQ(out, std::string("\x00\x01\x01", 3));
}

TEST(TensorCodec, BinaryRefusesWrongSizesNaming) {
  EXPECT_NE(bad_request_message([] {
              tensor_from_binary(DType::kFloat, {2, 3}, std::string(20, '\0'), "model 'm' input 'x'");
            }).find("model 'm' input 'x': got 20 bytes of data, shape [2,3] of float needs 24"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_binary(DType::kString, {2}, bytes_element("ab") + "\x05", "s");
            }).find("cannot hold 2 BYTES elements"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_binary(DType::kString, {1}, bytes_element("ab").substr(0, 5), "s");
            }).find("runs past the end"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_binary(DType::kFloat, {-1, 3}, "", "x");
            }).find("negative dim"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_binary(DType::kFloat, {1LL << 40, 1LL << 40}, "", "x");
            }).find("overflows"),
            std::string::npos);
}

TEST(TensorCodec, JsonNestedAndFlatDataRoundTrip) {
  const Tensor nested = tensor_from_json(DType::kInt64, {2, 2}, nlohmann::json::parse("[[1, -2], [3, 4]]"), "x");
  const Tensor flat = tensor_from_json(DType::kInt64, {2, 2}, nlohmann::json::parse("[1, -2, 3, 4]"), "x");
  EXPECT_EQ(tensor_to_json(nested), nlohmann::json::parse("[1, -2, 3, 4]"));
  EXPECT_EQ(tensor_to_json(flat), tensor_to_json(nested));
}

TEST(TensorCodec, JsonHalfFloatsConvert) {
  const Tensor half = tensor_from_json(DType::kFloat16, {2}, nlohmann::json::parse("[1.5, -65504]"), "h");
  EXPECT_EQ(half_to_float(half.data<Float16>()[1].bits), -65504.0f);
  const Tensor bf16 = tensor_from_json(DType::kBFloat16, {1}, nlohmann::json::parse("[2.5]"), "b");
  EXPECT_EQ(tensor_to_json(bf16), nlohmann::json::parse("[2.5]"));
}

TEST(TensorCodec, JsonRefusesWrongElements) {
  EXPECT_NE(bad_request_message([] {
              tensor_from_json(DType::kUint8, {1}, nlohmann::json::parse("[256]"), "u");
            }).find("expected an integer in the datatype's range"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_json(DType::kInt32, {1}, nlohmann::json::parse("[1.5]"), "i");
            }).find("expected an integer"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_json(DType::kBool, {1}, nlohmann::json::parse("[1]"), "b");
            }).find("expected true or false"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_json(DType::kString, {1}, nlohmann::json::parse("[3]"), "s");
            }).find("expected a string"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_json(DType::kFloat, {3}, nlohmann::json::parse("[1, 2]"), "f");
            }).find("shape [3] needs 3 elements, data has 2"),
            std::string::npos);
  EXPECT_NE(bad_request_message([] {
              tensor_from_json(DType::kFloat, {1}, nlohmann::json::parse("[1, 2]"), "f");
            }).find("data has more"),
            std::string::npos);
}

}  // namespace
}  // namespace tessera::serve

// The ONNX test-data reader: data.json tolerances, input_K.pb values (bfloat16 stored as uint16 bits), and the
// fuzz/regressions/test_data findings replayed.
#include "compare/test_data.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "onnx/tensor_proto.h"

namespace tessera {
namespace {

TEST(TestDataTest, ToleranceFromDataJson) {
  const Tolerance t = tolerance_from_json(R"({"atol": 1e-05, "model_name": "m", "rtol": 0.01})");
  EXPECT_DOUBLE_EQ(t.atol, 1e-05);
  EXPECT_DOUBLE_EQ(t.rtol, 0.01);
  // Anything else keeps the defaults: not JSON, not an object, keys that are not numbers.
  for (const char* text : {"", "{", "[1, 2]", R"({"rtol": "0.5", "atol": null})", "\"rtol\": 5"}) {
    const Tolerance d = tolerance_from_json(text);
    EXPECT_DOUBLE_EQ(d.rtol, Tolerance{}.rtol) << text;
    EXPECT_DOUBLE_EQ(d.atol, Tolerance{}.atol) << text;
  }
}

TEST(TestDataTest, Bfloat16DeclaredValuesAreReadFromUint16Bits) {
  Tensor bits = Tensor::from_vector<uint16_t>(DType::kUint16, {0x3F80, 0xC000});  // 1.0, -2.0
  const std::string bytes = value_to_bytes(RuntimeValue(bits), "x");
  const RuntimeValue value = read_test_value(bytes, TypeInfo::tensor(DType::kBFloat16));
  ASSERT_EQ(value.tensor().dtype(), DType::kBFloat16);
  EXPECT_EQ(static_cast<const uint16_t*>(value.tensor().raw_data())[1], 0xC000);
  // An empty uint16 tensor read as bfloat16 (no bytes to copy).
  const std::string empty = value_to_bytes(RuntimeValue(Tensor(DType::kUint16, {0})), "e");
  EXPECT_EQ(read_test_value(empty, TypeInfo::tensor(DType::kBFloat16)).tensor().element_count(), 0);
  EXPECT_THROW(read_test_value("\xff\xff\xff", TypeInfo::tensor(DType::kFloat)), Error);
}

}  // namespace
}  // namespace tessera

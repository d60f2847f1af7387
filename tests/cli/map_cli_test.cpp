// `tessera run` / `info` / `conformance` on models with maps: sequence-of-map outputs printed and saved as JSON,
// map inputs read from .json and MapProto .pb files, clear errors for malformed ones, and test folders whose
// expected outputs are sequences of maps.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "onnx/map_models.h"
#include "onnx/tensor_proto.h"

namespace tessera {
namespace {

using testing::run_cli;
using testing::serialize;
using testing::TempDir;
using testing::write_bytes;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(MapCliTest, RunPrintsAndSavesSequenceOfMapsAsJson) {
  TempDir dir;
  write_bytes(dir.file("zip.onnx"), serialize(testing::make_zip_map_model()));
  write_bytes(dir.file("x.npy"), testing::make_npy<float>("<f4", {2, 3}, {0.5f, 0.25f, 0.25f, 0.0f, 0.1f, 0.9f}));
  const auto result =
      run_cli({"run", dir.file("zip.onnx"), "--input", "x=" + dir.file("x.npy"), "--output-dir", dir.file("out")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "output 'p': seq(map(string,float))[2]")) << result.out;
  EXPECT_TRUE(contains(result.out, "[0] {\"a\":0.25,\"b\":0.25,\"c\":0.5}")) << result.out;
  EXPECT_TRUE(contains(result.out, "[1] {\"a\":0.1,\"b\":0.9,\"c\":0.0}")) << result.out;
  const nlohmann::json saved = nlohmann::json::parse(testing::read_bytes(dir.file("out/output_0.json")));
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[1]["b"].get<double>(), 0.9);
  EXPECT_EQ(saved[0]["c"].get<double>(), 0.5);
}

TEST(MapCliTest, RunReadsAMapInputFromJson) {
  TempDir dir;
  write_bytes(dir.file("dict.onnx"), serialize(testing::make_dict_model()));
  write_bytes(dir.file("m.json"), R"({"5": 2.5, "0": 1, "7": 3})");
  const auto result = run_cli({"run", dir.file("dict.onnx"), "--input", "m=" + dir.file("m.json")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "output 'y': float[1,3] min 0 max 2.5")) << result.out;
  EXPECT_TRUE(contains(result.out, "output 's': string[1,3] values: \"1.000000\" \"0.f\" \"0.f\"")) << result.out;
}

TEST(MapCliTest, MalformedMapJsonIsAClearError) {
  TempDir dir;
  write_bytes(dir.file("dict.onnx"), serialize(testing::make_dict_model()));
  write_bytes(dir.file("keys.json"), R"({"one": 2.5})");
  write_bytes(dir.file("values.json"), R"({"1": "text"})");
  write_bytes(dir.file("broken.json"), R"({"1": )");
  for (const auto& [file, message] : {std::pair{"keys.json", "map key 'one' is not an int64"},
                                      std::pair{"values.json", "the value of key '1' is \"text\", not a float"},
                                      std::pair{"broken.json", "not a JSON object"}}) {
    const auto result = run_cli({"run", dir.file("dict.onnx"), "--input", std::string("m=") + dir.file(file)});
    EXPECT_NE(result.exit_code, 0) << file;
    EXPECT_TRUE(contains(result.err, message)) << result.err;
  }
}

TEST(MapCliTest, MapInputFromAMapProtoAndConformanceOnSequenceOfMapOutputs) {
  TempDir dir;
  write_bytes(dir.file("dict.onnx"), serialize(testing::make_dict_model()));
  const RuntimeValue map =
      RuntimeValue::map(MapValue::from_pairs(Tensor::from_vector(DType::kInt64, std::vector<int64_t>{5}),
                                             Tensor::from_vector(DType::kFloat, std::vector<float>{2.5f})));
  write_bytes(dir.file("m.pb"), value_to_bytes(map, "m"));
  const auto run = run_cli({"run", dir.file("dict.onnx"), "--input", "m=" + dir.file("m.pb")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(contains(run.out, "output 'y': float[1,3] min 0 max 2.5")) << run.out;

  // A test folder whose expected output is a sequence of maps: right, then wrong in one probability.
  const std::string folder = dir.file("suite/test_zip_map");
  std::filesystem::create_directories(folder + "/test_data_set_0");
  write_bytes(folder + "/model.onnx", serialize(testing::make_zip_map_model()));
  Tensor x = Tensor::from_vector(DType::kFloat, std::vector<float>{0.5f, 0.25f, 0.25f}).reshaped({1, 3});
  write_bytes(folder + "/test_data_set_0/input_0.pb", value_to_bytes(x, "x"));
  const auto expected = [](float c) {
    return RuntimeValue::map_sequence(
        DType::kString, DType::kFloat,
        {MapValue::from_pairs(Tensor::from_vector(DType::kString, std::vector<std::string>{"a", "b", "c"}),
                              Tensor::from_vector(DType::kFloat, std::vector<float>{0.25f, 0.25f, c}))});
  };
  write_bytes(folder + "/test_data_set_0/output_0.pb", value_to_bytes(expected(0.5f), "p"));
  const auto pass = run_cli({"conformance", folder});
  EXPECT_EQ(pass.exit_code, 0) << pass.out << pass.err;
  EXPECT_TRUE(contains(pass.out, "1 passed, 0 failed")) << pass.out;
  write_bytes(folder + "/test_data_set_0/output_0.pb", value_to_bytes(expected(0.75f), "p"));
  const auto fail = run_cli({"conformance", folder});
  EXPECT_EQ(fail.exit_code, 1) << fail.out << fail.err;
  EXPECT_TRUE(contains(fail.out, "sequence element 0: map values")) << fail.out;
}

TEST(MapCliTest, InfoShowsMapTypes) {
  TempDir dir;
  write_bytes(dir.file("zip.onnx"), serialize(testing::make_zip_map_model()));
  write_bytes(dir.file("dict.onnx"), serialize(testing::make_dict_model()));
  const auto zip = run_cli({"info", dir.file("zip.onnx")});
  ASSERT_EQ(zip.exit_code, 0) << zip.err;
  EXPECT_TRUE(contains(zip.out, "seq(map(string,float[...]))")) << zip.out;
  const auto dict = run_cli({"check", dir.file("dict.onnx")});
  EXPECT_TRUE(contains(dict.out, "map(int64,float[...])")) << dict.out;
}

}  // namespace
}  // namespace tessera

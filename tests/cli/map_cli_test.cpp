// `tessera run` / `info` on models with maps: sequence-of-map outputs printed and saved as JSON, map inputs read
// from .json files, and clear errors for malformed ones.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "onnx/map_models.h"

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

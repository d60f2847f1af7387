// Tests of `--profile FILE` on `tessera run` and `tessera bench`: a Chrome-trace JSON with one node event per
// node run (op, provider, shapes) and one model_run event per run, warm-up runs included.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "onnx/test_models.h"

namespace tessera {
namespace {

using nlohmann::json;
using testing::run_cli;
using testing::TempDir;

json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

int count_events(const json& trace, const std::string& key, const std::string& value) {
  int count = 0;
  for (const json& e : trace.at("traceEvents")) count += e.value(key, "") == value ? 1 : 0;
  return count;
}

TEST(CliProfileTest, RunWritesOneRunWithItsNodes) {
  TempDir dir;
  testing::write_bytes(dir.file("model.onnx"), testing::serialize(testing::make_add_model()));
  const auto result = run_cli({"run", dir.file("model.onnx"), "--random-inputs", "--repeat", "2", "--quiet",
                               "--profile", dir.file("trace.json")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json trace = read_json(dir.file("trace.json"));
  EXPECT_EQ(count_events(trace, "name", "model_run"), 2);
  ASSERT_EQ(count_events(trace, "cat", "Node"), 2);
  for (const json& e : trace["traceEvents"]) {
    if (e["cat"] != "Node") continue;
    EXPECT_EQ(e["args"]["op_name"], "Add");
    EXPECT_EQ(e["args"]["provider"], "CPUExecutionProvider");
    EXPECT_EQ(e["args"]["input_shapes"].size(), 2u);
    EXPECT_EQ(e["ph"], "X");
  }
}

TEST(CliProfileTest, BenchRecordsWarmupAndTimedRuns) {
  TempDir dir;
  testing::write_bytes(dir.file("model.onnx"), testing::serialize(testing::make_add_model()));
  const auto result = run_cli({"bench", dir.file("model.onnx"), "--iters", "3", "--warmup", "1", "--threads", "1",
                               "--profile", dir.file("bench.json")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count_events(read_json(dir.file("bench.json")), "name", "model_run"), 4);
}

TEST(CliProfileTest, UnwritableProfileIsAnError) {
  TempDir dir;
  testing::write_bytes(dir.file("model.onnx"), testing::serialize(testing::make_add_model()));
  const auto result = run_cli({"run", dir.file("model.onnx"), "--random-inputs", "--quiet", "--profile",
                               dir.file("missing-folder/trace.json")});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("missing-folder/trace.json"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace tessera

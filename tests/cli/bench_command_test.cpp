// Tests of `tessera bench`: the JSON report's keys and values, symbolic dims bound by --dim and --batch,
// generated inputs, inputs from files, the text report, --precision and usage errors (exit code 2).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "onnx/test_models.h"

namespace tessera {
namespace {

using nlohmann::json;
using testing::add_input;
using testing::add_node;
using testing::add_output;
using testing::make_add_model;
using testing::make_model;
using testing::run_cli;
using testing::serialize;
using testing::TempDir;
using testing::write_bytes;

constexpr int32_t kFloat = 1;
constexpr int32_t kInt64 = 7;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// x: float[batch, seq] -> Relu; attention_mask and input_ids: int64[batch, seq] -> Identity.
onnx::ModelProto symbolic_model() {
  onnx::ModelProto model = make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", kFloat, {std::string("batch"), std::string("seq")});
  add_input(g, "attention_mask", kInt64, {std::string("batch"), std::string("seq")});
  add_input(g, "input_ids", kInt64, {std::string("batch"), std::string("seq")});
  add_node(g, "Relu", {"x"}, {"y"});
  add_node(g, "Identity", {"attention_mask"}, {"mask_out"});
  add_node(g, "Identity", {"input_ids"}, {"ids_out"});
  add_output(g, "y", kFloat);
  add_output(g, "mask_out", kInt64);
  add_output(g, "ids_out", kInt64);
  return model;
}

json parse_report(const testing::ProcessResult& result) {
  EXPECT_EQ(result.exit_code, 0) << result.err;
  try {
    return json::parse(result.out);  // exactly one JSON value, nothing else on stdout
  } catch (const json::exception& e) {
    ADD_FAILURE() << e.what() << "\nstdout: " << result.out;
    return json::object();
  }
}

json input_named(const json& report, const std::string& name) {
  for (const json& in : report.at("inputs")) {
    if (in.at("name") == name) return in;
  }
  ADD_FAILURE() << "no input " << name << " in " << report.dump();
  return json::object();
}

TEST(CliBenchTest, JsonReportHasTheKeysWithSaneValues) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(make_add_model()));
  const json report = parse_report(
      run_cli({"bench", dir.file("model.onnx"), "--iters", "5", "--warmup", "2", "--threads", "1", "--json"}));
  for (const char* key : {"median_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "max_ms", "iters", "session_create_ms",
                          "peak_rss_mb", "threads", "cpu", "model", "opt_level", "avx512f", "avx2", "warmup"}) {
    EXPECT_TRUE(report.contains(key)) << key << " missing from " << report.dump();
  }
  ASSERT_TRUE(report.contains("median_ms"));
  EXPECT_EQ(report["iters"], 5);
  EXPECT_EQ(report["warmup"], 2);
  EXPECT_EQ(report["threads"], 1);
  EXPECT_EQ(report["opt_level"], "all");
  EXPECT_EQ(report["precision"], "fp32");
  EXPECT_EQ(report["model"], dir.file("model.onnx"));
  const double median = report["median_ms"], lo = report["min_ms"], hi = report["max_ms"];
  EXPECT_GT(median, 0.0);
  EXPECT_LE(lo, median);
  EXPECT_LE(median, hi);
  EXPECT_LE(median, report["p90_ms"].get<double>());
  EXPECT_LE(report["p90_ms"].get<double>(), report["p99_ms"].get<double>());
  EXPECT_LE(report["p99_ms"].get<double>(), hi);
  EXPECT_GE(report["mean_ms"].get<double>(), lo);
  EXPECT_LE(report["mean_ms"].get<double>(), hi);
  EXPECT_GT(report["session_create_ms"].get<double>(), 0.0);
  EXPECT_GT(report["peak_rss_mb"].get<double>(), 1.0);
  EXPECT_LT(report["peak_rss_mb"].get<double>(), 4096.0);
  EXPECT_FALSE(report["cpu"].get<std::string>().empty());
  EXPECT_TRUE(report["avx2"].is_boolean());
}

TEST(CliBenchTest, DimAndBatchBindSymbolicDims) {
  TempDir dir;
  const std::string model = dir.file("model.onnx");
  write_bytes(model, serialize(symbolic_model()));

  json report = parse_report(run_cli({"bench", model, "--dim", "batch=3", "--dim", "seq=7", "--iters", "2", "--json"}));
  for (const char* name : {"x", "attention_mask", "input_ids"}) {
    EXPECT_EQ(input_named(report, name)["shape"], json::array({3, 7})) << name;
  }
  EXPECT_EQ(input_named(report, "x")["source"], "random");
  EXPECT_EQ(input_named(report, "attention_mask")["source"], "ones");
  EXPECT_EQ(input_named(report, "input_ids")["source"], "random ints in [0,4)");

  // --batch sets the first dim; an unbound dim is 1, with a note on stderr.
  const auto result = run_cli({"bench", model, "--batch", "8", "--iters", "2", "--json"});
  report = parse_report(result);
  EXPECT_EQ(input_named(report, "x")["shape"], json::array({8, 1}));
  EXPECT_TRUE(contains(result.err, "symbolic dim 'seq' of input 'x' is unbound; using 1")) << result.err;
  EXPECT_FALSE(contains(result.err, "'batch'")) << result.err;

  // --dim wins over --batch for the dim it names.
  report = parse_report(
      run_cli({"bench", model, "--batch", "8", "--dim", "batch=2", "--dim", "seq=4", "--iters", "1", "--json"}));
  EXPECT_EQ(input_named(report, "input_ids")["shape"], json::array({2, 4}));
}

TEST(CliBenchTest, TakesInputsFromFilesAndPrintsText) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(make_add_model()));
  write_bytes(dir.file("x.npy"), testing::make_npy<float>("<f4", {2, 3}, {1, 2, 3, 4, 5, 6}));
  auto result = run_cli({"bench", dir.file("model.onnx"), "--input", "x=" + dir.file("x.npy"), "--iters", "3",
                         "--opt-level", "disabled", "--json"});
  const json report = parse_report(result);
  EXPECT_EQ(input_named(report, "x")["source"], dir.file("x.npy"));
  EXPECT_EQ(input_named(report, "y")["source"], "random");
  EXPECT_EQ(report["opt_level"], "disabled");

  result = run_cli({"bench", dir.file("model.onnx"), "--duration", "0.05", "--warmup", "0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* part : {"latency (ms):     median ", " p90 ", " p99 ",
                           "session creation: ", "peak memory: ", "cpu: ", "input:            x float[2,3] (random)"}) {
    EXPECT_TRUE(contains(result.out, part)) << part << "\n" << result.out;
  }
}

TEST(CliBenchTest, PrecisionBf16IsReported) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(make_add_model()));
  const json report = parse_report(run_cli({"bench", dir.file("model.onnx"), "--iters", "2", "--warmup", "1",
                                            "--threads", "1", "--precision", "bf16", "--json"}));
  EXPECT_EQ(report["precision"], "bf16");
}

TEST(CliBenchTest, UsageErrorsExitTwoNamingTheFlag) {
  TempDir dir;
  const std::string model = dir.file("model.onnx");
  write_bytes(model, serialize(symbolic_model()));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"bench"}, "bench needs exactly one MODEL"},
      {{"bench", model, "--bogus"}, "unknown option --bogus"},
      {{"bench", model, "--iters", "0"}, "--iters needs an integer >= 1, got '0'"},
      {{"bench", model, "--iters", "12abc"}, "--iters needs an integer"},
      {{"bench", model, "--threads", "-1"}, "--threads needs an integer >= 0"},
      {{"bench", model, "--warmup", "x"}, "--warmup needs an integer"},
      {{"bench", model, "--duration", "-2"}, "--duration needs a positive number"},
      {{"bench", model, "--batch", "0"}, "--batch needs an integer >= 1"},
      {{"bench", model, "--opt-level", "extreme"}, "--opt-level"},
      {{"bench", model, "--precision", "fp16"}, "--precision expects fp32 or bf16, got 'fp16'"},
      {{"bench", model, "--dim", "batch"}, "--dim expects NAME=VALUE, got 'batch'"},
      {{"bench", model, "--dim", "batch=0"}, "--dim batch needs an integer >= 1"},
      {{"bench", model, "--dim", "sequence=4"}, "--dim sequence=4: no input has a symbolic dim named 'sequence'"},
      {{"bench", model, "--input", "pixels=" + dir.file("x.npy")}, "the model has no input named 'pixels'"},
      {{"bench", model, "--input", "x"}, "--input expects NAME=FILE, got 'x'"},
      {{"bench", model, "--iters"}, "--iters needs a value"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_cli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, message)) << joined << "\nexpected: " << message << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "usage: tessera")) << joined;
    EXPECT_TRUE(r.out.empty()) << joined << "\n" << r.out;
  }
}

TEST(CliBenchTest, RejectedModelsExitThree) {
  TempDir dir;
  write_bytes(dir.file("garbage.onnx"), "this is not a model");
  auto r = run_cli({"bench", dir.file("garbage.onnx"), "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "INVALID_MODEL")) << r.err;
  r = run_cli({"bench", dir.file("absent.onnx")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

}  // namespace
}  // namespace tessera

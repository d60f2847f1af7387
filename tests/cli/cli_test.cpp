// Tests of the `tessera` binary: run (test-data folders, .npy and .pb inputs, output folders), info, exit codes
// and the conformance runner on tiny folders made here.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/error.h"
#include "onnx/tensor_proto.h"
#include "onnx/test_models.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_node;
using testing::add_output;
using testing::make_add_model;
using testing::make_model;
using testing::run_cli;
using testing::serialize;
using testing::TempDir;
using testing::write_bytes;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Tensor floats(std::vector<int64_t> shape, float start, float step = 1.0f) {
  Tensor t(DType::kFloat, std::move(shape));
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = start + step * static_cast<float>(i);
  return t;
}

std::string tensor_pb(const Tensor& t, const std::string& name) {
  onnx::TensorProto proto;
  tensor_to_proto(t, name, &proto);
  return proto.SerializeAsString();
}

Tensor read_tensor_pb(const std::string& path) {
  onnx::TensorProto proto;
  EXPECT_TRUE(proto.ParseFromString(testing::read_bytes(path))) << path;
  return tensor_from_proto(proto, nullptr);
}

// An ONNX backend-test folder: model.onnx and test_data_set_0/{input_K,output_K}.pb.
void write_test_folder(const std::string& dir, const onnx::ModelProto& model, const std::vector<Tensor>& inputs,
                       const std::vector<Tensor>& outputs) {
  std::filesystem::create_directories(dir + "/test_data_set_0");
  write_bytes(dir + "/model.onnx", serialize(model));
  for (size_t k = 0; k < inputs.size(); ++k) {
    write_bytes(dir + "/test_data_set_0/input_" + std::to_string(k) + ".pb", tensor_pb(inputs[k], ""));
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    write_bytes(dir + "/test_data_set_0/output_" + std::to_string(k) + ".pb", tensor_pb(outputs[k], ""));
  }
}

TEST(CliRunTest, RunsATestDataFolderAndWritesOutputs) {
  TempDir dir;
  const Tensor x = floats({2, 3}, 1), y = floats({2, 3}, 10, 10);
  write_test_folder(dir.path(), make_add_model(), {x, y}, {});
  const auto result = run_cli(
      {"run", dir.file("model.onnx"), "--input-dir", dir.file("test_data_set_0"), "--output-dir", dir.file("out")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "output 'z': float[2,3]")) << result.out;
  EXPECT_TRUE(contains(result.out, "median of 1 run(s)")) << result.out;
  const Tensor z = read_tensor_pb(dir.file("out/output_0.pb"));
  ASSERT_EQ(z.shape(), (std::vector<int64_t>{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(z.data<float>()[i], (i + 1) + 10.0f * (i + 1));
  onnx::TensorProto proto;
  ASSERT_TRUE(proto.ParseFromString(testing::read_bytes(dir.file("out/output_0.pb"))));
  EXPECT_EQ(proto.name(), "z");
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/output_1.pb")));
}

TEST(CliRunTest, TakesNamedNpyAndPbInputs) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(make_add_model()));
  write_bytes(dir.file("x.npy"), testing::make_npy<float>("<f4", {2, 3}, {1, 2, 3, 4, 5, 6}));
  write_bytes(dir.file("y.pb"), tensor_pb(floats({2, 3}, 100), "y"));
  const auto result =
      run_cli({"run", dir.file("model.onnx"), "--input", "x=" + dir.file("x.npy"), "--input", "y=" + dir.file("y.pb"),
               "--output-dir", dir.file("out"), "--repeat", "3", "--threads", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "median of 3 run(s)")) << result.out;
  const Tensor z = read_tensor_pb(dir.file("out/output_0.pb"));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(z.data<float>()[i], (i + 1) + 100.0f + i);
}

TEST(CliRunTest, RandomInputsFillSymbolicDims) {
  TempDir dir;
  onnx::ModelProto model = make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("batch"), int64_t{4}});
  add_node(g, "Relu", {"x"}, {"y"});
  add_output(g, "y", 1);
  write_bytes(dir.file("model.onnx"), serialize(model));
  const auto result = run_cli({"run", dir.file("model.onnx"), "--random-inputs", "--output-dir", dir.file("out")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Tensor y = read_tensor_pb(dir.file("out/output_0.pb"));
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{1, 4}));
  for (int i = 0; i < 4; ++i) EXPECT_GE(y.data<float>()[i], 0.0f);
}

onnx::ModelProto info_model() {
  onnx::ModelProto model = make_model(17, 9);
  model.set_producer_name("pytorch");
  model.set_producer_version("2.1");
  auto* meta = model.add_metadata_props();
  meta->set_key("author");
  meta->set_value("tests");
  auto* ms = model.add_opset_import();
  ms->set_domain("com.example");
  ms->set_version(3);
  auto* g = model.mutable_graph();
  add_input(g, "pixels", 1, {std::string("batch"), int64_t{3}, std::string("height"), std::string("width")});
  add_input(g, "bias", 1, {int64_t{1}});
  testing::add_float_initializer(g, "bias", {1}, {0.5f});
  add_node(g, "Relu", {"pixels"}, {"a"}, "relu1");
  add_node(g, "Add", {"a", "bias"}, {"b"}, "add");
  add_node(g, "Relu", {"b"}, {"c"}, "relu2");
  add_node(g, "FrobnicateTensor", {"c"}, {"d"}, "frob");
  add_node(g, "Custom", {"d"}, {"out"}, "custom", "com.example");
  add_output(g, "out", 1, {std::string("batch"), int64_t{3}, std::string("height"), std::string("width")}, true);
  return model;
}

TEST(CliInfoTest, SummarizesTheModel) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(info_model()));
  const auto result = run_cli({"info", dir.file("model.onnx")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string& out = result.out;
  EXPECT_TRUE(contains(out, "ir_version: 9")) << out;
  EXPECT_TRUE(contains(out, "producer: pytorch 2.1")) << out;
  EXPECT_TRUE(contains(out, "opsets: ai.onnx=17 com.example=3")) << out;
  EXPECT_TRUE(contains(out, "metadata: author = tests")) << out;
  EXPECT_TRUE(contains(out, "pixels: float[batch,3,height,width]")) << out;
  EXPECT_TRUE(contains(out, "bias: float[1] (has initializer)")) << out;
  EXPECT_TRUE(contains(out, "out: float[batch,3,height,width]")) << out;
  EXPECT_TRUE(contains(out, "initializers: 1")) << out;
  EXPECT_TRUE(contains(out, "nodes: 5")) << out;
  for (const char* line : {"Relu", "Add", "FrobnicateTensor", "com.example.Custom"}) {
    EXPECT_TRUE(contains(out, std::string("  ") + line + " ")) << line << "\n" << out;
  }
  // The histogram counts: Relu twice.
  const size_t relu = out.find("  Relu ");
  ASSERT_NE(relu, std::string::npos);
  EXPECT_EQ(out.substr(out.find_first_not_of(' ', relu + 6), 1), "2") << out;
  EXPECT_TRUE(contains(out, "unsupported ops: 2 node(s)")) << out;
  EXPECT_TRUE(contains(out, "FrobnicateTensor (domain 'ai.onnx', opset 17) at node 'frob'")) << out;
  EXPECT_TRUE(contains(out, "Custom (domain 'com.example', opset 3) at node 'custom'")) << out;
}

TEST(CliInfoTest, OptLevelReportsPassesAndTheOptimizedGraph) {
  TempDir dir;
  onnx::ModelProto model = make_model(17, 9);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{1}, int64_t{2}, int64_t{5}, int64_t{5}});
  testing::add_float_initializer(g, "w", {3, 2, 1, 1}, {0.5f, -1.0f, 0.25f, 2.0f, -0.5f, 1.0f});
  add_node(g, "Identity", {"x"}, {"xi"}, "copy");
  add_node(g, "Conv", {"xi", "w"}, {"c"}, "conv");
  add_node(g, "Relu", {"c"}, {"y"}, "relu");
  add_output(g, "y", 1, {int64_t{1}, int64_t{3}, int64_t{5}, int64_t{5}});
  write_bytes(dir.file("model.onnx"), serialize(model));
  const auto result = run_cli({"info", dir.file("model.onnx"), "--opt-level", "all"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "nodes: 3")) << result.out;
  EXPECT_TRUE(contains(result.out, "optimized (--opt-level all): 1 nodes")) << result.out;
  EXPECT_TRUE(contains(result.out, "identity_elimination")) << result.out;
  EXPECT_TRUE(contains(result.out, "conv_activation_fusion")) << result.out;
  EXPECT_TRUE(contains(result.out, "  com.microsoft.FusedConv ")) << result.out;
  EXPECT_EQ(run_cli({"info", dir.file("model.onnx"), "--opt-level", "bogus"}).exit_code, 2);
}

TEST(CliInfoTest, SaysWhenEveryOpIsSupported) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(make_add_model()));
  const auto result = run_cli({"info", dir.file("model.onnx")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "unsupported ops: none")) << result.out;
}

// Replays the fuzz_npy finding fuzz/regressions/npy/dimension_of_29_digits: a shape dimension too long for
// int64 made std::stoll throw out_of_range past the reader's own errors.
TEST(CliNpyTest, DimensionsTooLongForInt64AreRefusedByName) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(make_add_model()));
  const std::string finding = std::string(TESSERA_SOURCE_DIR) + "/fuzz/regressions/npy/dimension_of_29_digits";
  write_bytes(dir.file("x.npy"), testing::read_bytes(finding));
  const auto r = run_cli({"run", dir.file("model.onnx"), "--input", "x=" + dir.file("x.npy")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "has a dimension of 29 digits in shape")) << r.err;
}

TEST(CliNpyTest, ReadsNumpyUnicodeStringsAsUtf8) {
  // A string Identity fed from a '<U3' array (UTF-32 code units, NUL-padded), printed back as UTF-8.
  TempDir dir;
  onnx::ModelProto model = make_model();
  auto* g = model.mutable_graph();
  add_input(g, "s", 8, {int64_t{2}});
  add_node(g, "Identity", {"s"}, {"t"}, "identity");
  add_output(g, "t", 8, {int64_t{2}}, true);
  write_bytes(dir.file("model.onnx"), serialize(model));
  write_bytes(dir.file("s.npy"), testing::make_npy<uint32_t>("<U3", {2}, {'a', 'b', 0, 0xE9, 'x', 'y'}));
  const auto r = run_cli({"run", dir.file("model.onnx"), "--input", "s=" + dir.file("s.npy")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "values: \"ab\" \"\xC3\xA9xy\"")) << r.out;  // U+00E9 as UTF-8
  write_bytes(dir.file("bad.npy"), testing::make_npy<uint32_t>("<U1", {1}, {0xD800}));
  const auto bad = run_cli({"run", dir.file("model.onnx"), "--input", "s=" + dir.file("bad.npy")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "invalid code point")) << bad.err;
  // '<U0': empty strings, no data. Two of them are read; four million are refused with an error (not 128 MB of
  // std::string from a header alone; fuzz_npy asked for 19 GB).
  write_bytes(dir.file("empty.npy"), testing::make_npy<uint32_t>("<U0", {2}, {}));
  const auto empty = run_cli({"run", dir.file("model.onnx"), "--input", "s=" + dir.file("empty.npy")});
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(contains(empty.out, "values: \"\" \"\"")) << empty.out;
  write_bytes(dir.file("huge.npy"), testing::make_npy<uint32_t>("<U0", {4000000}, {}));
  const auto huge = run_cli({"run", dir.file("model.onnx"), "--input", "s=" + dir.file("huge.npy")});
  EXPECT_EQ(huge.exit_code, 1);
  EXPECT_TRUE(contains(huge.err, "declares 4000000 empty strings")) << huge.err;
}

TEST(CliExitCodeTest, ZeroOneTwoThree) {
  TempDir dir;
  write_bytes(dir.file("model.onnx"), serialize(make_add_model()));
  write_bytes(dir.file("unsupported.onnx"), serialize(info_model()));
  write_bytes(dir.file("garbage.onnx"), "this is not a model");
  write_bytes(dir.file("x.npy"), testing::make_npy<float>("<f4", {2, 3}, {1, 2, 3, 4, 5, 6}));
  const std::string model = dir.file("model.onnx");

  EXPECT_EQ(run_cli({"--help"}).exit_code, 0);
  EXPECT_EQ(run_cli({"run", model, "--random-inputs"}).exit_code, 0);

  // 1: the model is fine, the run is not.
  auto r = run_cli({"run", model, "--input", "x=" + dir.file("x.npy")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "input 'y' (float[2,3]) is not fed")) << r.err;
  r = run_cli({"run", model, "--input", "x=" + dir.file("absent.npy"), "--input", "y=" + dir.file("x.npy")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "absent.npy")) << r.err;

  // 2: usage errors.
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"frobnicate"},
                                               {"run"},
                                               {"run", model, "--bogus"},
                                               {"run", model, "--threads", "abc"},
                                               {"run", model, "--opt-level", "extreme"},
                                               {"run", model, "--input", "no-equals-sign"},
                                               {"info"},
                                               {"conformance"},
                                               {"run", model, "--input-dir"}}) {
    r = run_cli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "usage: tessera")) << joined << "\n" << r.err;
  }

  // 3: the model is rejected at load.
  r = run_cli({"run", dir.file("garbage.onnx")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "INVALID_MODEL")) << r.err;
  r = run_cli({"run", dir.file("unsupported.onnx"), "--random-inputs"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "2 node(s) Tessera cannot run")) << r.err;
  r = run_cli({"run", dir.file("absent.onnx")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "absent.onnx")) << r.err;
  r = run_cli({"info", dir.file("garbage.onnx")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

// suite/test_add_pass, suite/test_add_fail (wrong expected output), suite/test_add_skip (listed in the manifest,
// would fail) and suite/test_relu_listed_but_passing.
struct ConformanceFolder {
  TempDir dir;
  std::string root;
  std::string manifest;

  ConformanceFolder() {
    root = dir.file("data");
    const Tensor x = floats({2, 3}, -2), y = floats({2, 3}, 1);
    Tensor sum = floats({2, 3}, -1, 2);  // x + y
    write_test_folder(root + "/suite/test_add_pass", make_add_model(), {x, y}, {sum});
    Tensor wrong = sum.clone();
    wrong.data<float>()[4] += 0.5f;
    write_test_folder(root + "/suite/test_add_fail", make_add_model(), {x, y}, {wrong});
    write_test_folder(root + "/suite/test_add_skip", make_add_model(), {x, y}, {wrong});
    onnx::ModelProto relu = make_model(17);
    add_input(relu.mutable_graph(), "x", 1, {int64_t{2}, int64_t{3}});
    add_node(relu.mutable_graph(), "Relu", {"x"}, {"y"});
    add_output(relu.mutable_graph(), "y", 1);
    Tensor relu_out = x.clone();
    for (int i = 0; i < 6; ++i) relu_out.data<float>()[i] = std::max(0.0f, relu_out.data<float>()[i]);
    write_test_folder(root + "/suite/test_relu_listed_but_passing", relu, {x}, {relu_out});
    manifest = dir.file("manifest.txt");
    write_bytes(manifest,
                "# reviewed skips\n"
                "test_add_skip   expected output is wrong on purpose\n"
                "\n"
                "test_relu_listed_but_passing  was broken once\n");
  }
};

TEST(CliConformanceTest, CountsPassedFailedAndSkipped) {
  ConformanceFolder f;
  const auto r = run_cli({"conformance", f.root, "--manifest", f.manifest, "--report", f.dir.file("report.json")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "1 passed, 1 failed, 2 skipped")) << r.out;
  EXPECT_TRUE(contains(r.out, "FAIL suite/test_add_fail: test_data_set_0: output 0 ('z')")) << r.out;
  EXPECT_TRUE(contains(r.out, "SKIP suite/test_add_skip: expected output is wrong on purpose")) << r.out;
  const std::string report = testing::read_bytes(f.dir.file("report.json"));
  EXPECT_TRUE(contains(report, "\"passed\": 1, \"failed\": 1, \"skipped\": 2")) << report;
  EXPECT_TRUE(contains(report, "\"name\": \"test_add_fail\", \"status\": \"failed\"")) << report;
}

TEST(CliConformanceTest, PassingFolderExitsZero) {
  ConformanceFolder f;
  const auto r = run_cli({"conformance", f.root, "--filter", "pass$", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "1 passed, 0 failed, 0 skipped")) << r.out;
  // A single test folder works too.
  const auto one = run_cli({"conformance", f.root + "/suite/test_add_pass"});
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_TRUE(contains(one.out, "1 passed, 0 failed, 0 skipped")) << one.out;
}

// --threads gives each test's session an intra-op pool (the TSan run uses it); fewer than 1 is refused by name.
TEST(CliConformanceTest, ThreadsFlagRunsOnAPoolAndRefusesLessThanOne) {
  ConformanceFolder f;
  const auto r = run_cli({"conformance", f.root, "--filter", "pass$", "--threads", "2", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "1 passed, 0 failed, 0 skipped")) << r.out;
  const auto bad = run_cli({"conformance", f.root, "--threads", "0"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_TRUE(contains(bad.err, "--threads needs an integer >= 1, got '0'")) << bad.err;
}

TEST(CliConformanceTest, RunSkippedNamesManifestEntriesThatPassNow) {
  ConformanceFolder f;
  const auto r = run_cli({"conformance", f.root, "--manifest", f.manifest, "--run-skipped", "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "NOTE test_relu_listed_but_passing passes now")) << r.out;
  EXPECT_FALSE(contains(r.out, "NOTE test_add_skip")) << r.out;
  EXPECT_TRUE(contains(r.out, "1 passed, 1 failed, 2 skipped")) << r.out;
}

TEST(CliConformanceTest, RejectsManifestEntriesWithoutAReason) {
  ConformanceFolder f;
  write_bytes(f.manifest, "test_add_skip\n");
  const auto r = run_cli({"conformance", f.root, "--manifest", f.manifest});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "entry 'test_add_skip' has no reason")) << r.err;
}

}  // namespace
}  // namespace tessera

// `tessera check`: a model every node of which runs is "ready" (exit 0), with its ops, kernels and optimizer
// effects listed; the ops whose meaning changes after the model's opset are named; an unsupported op or a pinned
// opset that does not match is the first problem (exit 1).
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "onnx/model_writer.h"
#include "onnx/test_models.h"

namespace tessera {
namespace {

using testing::run_cli;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Model relu_model(const std::string& op = "Relu", int64_t opset = 17) {
  return GraphBuilder(opset)
      .input("x", DType::kFloat, {-1, 4}, {"batch", ""})
      .node(op, {"x"}, {"y"})
      .output("y")
      .build();
}

TEST(CliCheckTest, ReadyModelListsOpsAndExitsZero) {
  TempDir dir;
  save_model(relu_model(), dir.file("m.onnx"));
  const auto text = run_cli({"check", dir.file("m.onnx")});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_TRUE(contains(text.out, "ai.onnx.Relu-17")) << text.out;
  EXPECT_TRUE(contains(text.out, "x: float[batch,4]")) << text.out;
  EXPECT_TRUE(contains(text.out, "ready: every node runs")) << text.out;
  const auto json = run_cli({"check", dir.file("m.onnx"), "--json"});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_TRUE(contains(json.out, "\"ready\": true")) << json.out;
}

// A model saved at opt-level all (com.tessera NhwcConv chains) lists the channels-last kernels it runs on.
TEST(CliCheckTest, ChannelsLastConvolutionsNameTheirKernels) {
  TempDir dir;
  GraphBuilder b(17);
  b.opset("com.tessera", 1);
  b.input("x", DType::kFloat, {1, 7, 7, 16});
  b.initializer("w", Tensor(DType::kFloat, {16, 1, 3, 3}));
  b.node("NhwcConv", {"x", "w"}, {"y"}, "com.tessera").attr_int("group", 16).attr_ints("pads", {1, 1, 1, 1});
  save_model(b.output("y").build(), dir.file("m.onnx"));
  const auto text = run_cli({"check", dir.file("m.onnx")});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_TRUE(contains(text.out, "com.tessera.NhwcConv-1")) << text.out;
  EXPECT_TRUE(contains(text.out, "depthwise: f32_dwconv_nhwc__")) << text.out;
}

// Recurrent ops name the GEMM their products run on and the gate kernel; integer products the q8 GEMM, and
// DynamicQuantizeLinear the quantization kernel.
TEST(CliCheckTest, RecurrentAndIntegerOpsNameTheirGemms) {
  TempDir dir;
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {3, 1, 4})
      .input("a", DType::kUint8, {2, 4})
      .initializer("W", Tensor(DType::kFloat, {1, 6, 4}))
      .initializer("R", Tensor(DType::kFloat, {1, 6, 2}))
      .initializer("B8", Tensor(DType::kUint8, {4, 3}))
      .node("GRU", {"x", "W", "R"}, {"y"})
      .attr_int("hidden_size", 2)
      .node("MatMulInteger", {"a", "B8"}, {"p"})
      .node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"});
  save_model(b.output("y").output("p").output("xq").build(), dir.file("m.onnx"));
  const auto text = run_cli({"check", dir.file("m.onnx")});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_TRUE(contains(text.out, "ai.onnx.GRU-17                                  1  f32_gemm_ukernel_")) << text.out;
  EXPECT_TRUE(contains(text.out, "; gates: ")) << text.out;
  EXPECT_TRUE(contains(text.out, "ai.onnx.MatMulInteger-17                        1  q8_gemm_")) << text.out;
  EXPECT_TRUE(contains(text.out, "ai.onnx.DynamicQuantizeLinear-17                1  qu8_quantize__")) << text.out;
}

TEST(CliCheckTest, UnsupportedOpIsTheFirstProblem) {
  TempDir dir;
  save_model(relu_model("NoSuchOp"), dir.file("m.onnx"));
  const auto result = run_cli({"check", dir.file("m.onnx")});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "NOT READY: unsupported: NoSuchOp")) << result.out;
  EXPECT_TRUE(contains(result.out, "NO KERNEL")) << result.out;
}

TEST(CliCheckTest, PinnedOpsetsAreChecked) {
  TempDir dir;
  save_model(relu_model(), dir.file("m.onnx"));
  EXPECT_EQ(run_cli({"check", dir.file("m.onnx"), "--expect-opset", "17"}).exit_code, 0);
  const auto mismatch = run_cli({"check", dir.file("m.onnx"), "--expect-opset", "13"});
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_TRUE(contains(mismatch.out, "imports ai.onnx opset 17, expected 13")) << mismatch.out;
  EXPECT_EQ(run_cli({"check", dir.file("m.onnx"), "--max-opset", "15"}).exit_code, 1);
  EXPECT_EQ(run_cli({"check", dir.file("missing.onnx")}).exit_code, 1);
}

TEST(CliCheckTest, NamesTheOpsWhoseMeaningChangesAfterTheModelsOpset) {
  TempDir dir;
  save_model(relu_model("Softmax", 11), dir.file("old.onnx"));
  save_model(relu_model("Softmax", 17), dir.file("new.onnx"));
  const auto old_text = run_cli({"check", dir.file("old.onnx")});
  EXPECT_EQ(old_text.exit_code, 0) << old_text.out << old_text.err;
  EXPECT_TRUE(contains(old_text.out, "Softmax-11 -> 13: normalizes along `axis` only")) << old_text.out;
  const auto old_json = run_cli({"check", dir.file("old.onnx"), "--json"});
  EXPECT_TRUE(contains(old_json.out, "\"changes_at\": 13")) << old_json.out;
  const auto new_text = run_cli({"check", dir.file("new.onnx")});
  EXPECT_TRUE(contains(new_text.out, "none for its ops")) << new_text.out;
}

}  // namespace
}  // namespace tessera

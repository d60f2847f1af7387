// `tessera compare`: an error injected into one node of a copy of a model is found and that node named; the
// same model under opt-level disabled and all agrees; --json and --html write their reports; --precision-b bf16
// parts from float32 at the MatMul.
#include <gtest/gtest.h>

#include <filesystem>

#include "ir/graph_builder.h"
#include "onnx/model_writer.h"
#include "onnx/test_models.h"

namespace tessera {
namespace {

using testing::read_bytes;
using testing::run_cli;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// x [2, 8] -> MatMul w -> Add b ('bias') -> Mul by `scale` ('scale_node') -> Relu -> Sigmoid -> y
Model chain(float scale) {
  std::vector<float> w(64), b(8);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.05f * static_cast<float>(static_cast<int>(i % 7) - 3);
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.1f * static_cast<float>(i);
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {2, 8})
                    .initializer("w", Tensor::from_vector(DType::kFloat, w).reshaped({8, 8}))
                    .initializer("b", Tensor::from_vector(DType::kFloat, b))
                    .initializer("s", Tensor::scalar(DType::kFloat, scale))
                    .node("MatMul", {"x", "w"}, {"xw"})
                    .node("Add", {"xw", "b"}, {"biased"})
                    .node("Mul", {"biased", "s"}, {"scaled"})
                    .node("Relu", {"scaled"}, {"r"})
                    .node("Sigmoid", {"r"}, {"y"})
                    .output("y")
                    .build();
  model.graph->nodes[2]->name = "scale_node";
  return model;
}

TEST(CliCompareTest, NamesTheNodeWhereAnInjectedErrorEntersTheGraph) {
  TempDir dir;
  save_model(chain(2.0f), dir.file("a.onnx"));
  save_model(chain(2.01f), dir.file("b.onnx"));  // the one changed node
  const auto result = run_cli({"compare", dir.file("a.onnx"), dir.file("b.onnx")});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "first divergence")) << result.out;
  EXPECT_TRUE(contains(result.out, "node 'scale_node' (Mul)")) << result.out;
  // The values before it agree.
  EXPECT_FALSE(contains(result.out, "-> xw   <-- DIVERGES")) << result.out;
}

TEST(CliCompareTest, OptimizationLevelsAgreeAndReportsAreWritten) {
  TempDir dir;
  save_model(chain(2.0f), dir.file("a.onnx"));
  const auto text = run_cli({"compare", dir.file("a.onnx"), "--opt-level-a", "disabled", "--opt-level-b", "all"});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_TRUE(contains(text.out, "no value differs")) << text.out;

  const auto json = run_cli({"compare", dir.file("a.onnx"), dir.file("a.onnx"), "--json", "--html", dir.file("r.html")});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(contains(json.out, "\"first_divergence\": null")) << json.out;
  EXPECT_TRUE(contains(json.out, "\"node\": \"scale_node\"")) << json.out;
  EXPECT_TRUE(contains(read_bytes(dir.file("r.html")), "<svg")) << "html report";
}

TEST(CliCompareTest, AgainstOnnxRuntimeThroughItsWheel) {
  TempDir dir;
  save_model(chain(2.0f), dir.file("a.onnx"));
  const std::string python = std::string(TESSERA_SOURCE_DIR) + "/.venv/bin/python";
  const auto same = run_cli({"compare", dir.file("a.onnx"), "--opt-level-a", "all", "--runtime-b", "onnxruntime",
                             "--python", python});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_TRUE(contains(same.out, "ONNX Runtime CPU provider")) << same.out;
  EXPECT_TRUE(contains(same.out, "no value differs")) << same.out;
  // Tessera on the model with the injected error against ONNX Runtime on the original: the Mul is named.
  save_model(chain(2.01f), dir.file("b.onnx"));
  const auto differ = run_cli({"compare", dir.file("b.onnx"), dir.file("a.onnx"), "--runtime-b", "onnxruntime",
                               "--python", python});
  EXPECT_EQ(differ.exit_code, 1) << differ.out << differ.err;
  EXPECT_TRUE(contains(differ.out, "node 'scale_node' (Mul)")) << differ.out;
  EXPECT_EQ(run_cli({"compare", dir.file("a.onnx"), "--runtime-b", "onnxruntime", "--python", "/nonexistent/python"})
                .exit_code,
            1);
}

TEST(CliCompareTest, Bf16PrecisionPartsAtTheMatMul) {
  TempDir dir;
  save_model(chain(2.0f), dir.file("a.onnx"));
  const auto result = run_cli({"compare", dir.file("a.onnx"), "--opt-level", "disabled", "--precision-b", "bf16"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "precision bf16)")) << result.out;
  EXPECT_TRUE(contains(result.out, "value 'xw'")) << result.out;
  EXPECT_EQ(run_cli({"compare", dir.file("a.onnx"), "--precision-a", "int4"}).exit_code, 2);
}

TEST(CliCompareTest, UsageErrors) {
  EXPECT_EQ(run_cli({"compare"}).exit_code, 2);
  EXPECT_EQ(run_cli({"compare", "a.onnx", "b.onnx", "c.onnx"}).exit_code, 2);
}

}  // namespace
}  // namespace tessera

// `tessera quantize`: writes the QOperator form of a float model (loadable again, MatMul/Gemm replaced), lists
// what it left in float, and refuses what it cannot do with a usage error.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "onnx/test_models.h"
#include "passes/pass_test_util.h"

namespace tessera {
namespace {

using testing::run_cli;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void write_model(const std::string& path) {
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {3, 8})
                    .input("w_in", DType::kFloat, {4, 4})
                    .initializer("w", pass_test::random_floats({8, 4}, 1))
                    .node("MatMul", {"x", "w"}, {"h"})
                    .node("MatMul", {"h", "w_in"}, {"y"})
                    .output("y")
                    .build();
  save_model(model, path);
}

// On a CPU whose integer products run on the AVX2 tile (no VNNI), quantizing with 8-bit weights points at
// --reduce-range, whose 7-bit weights run on the faster vpmaddubsw tile; elsewhere, or with it, nothing is said.
TEST(QuantizeCommandTest, PointsAtReducedRangeWhereTheCpuHasNoVnni) {
  TempDir dir;
  write_model(dir.file("in.onnx"));
  const bool avx2_tile = std::string(q8_gemm_kernel_name()) == "q8_gemm_ukernel_4x16__avx2";
  const auto plain = run_cli({"quantize", dir.file("in.onnx"), dir.file("out.onnx")});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(contains(plain.out, "--reduce-range"), avx2_tile) << plain.out;
  const auto reduced = run_cli({"quantize", dir.file("in.onnx"), dir.file("out.onnx"), "--reduce-range"});
  ASSERT_EQ(reduced.exit_code, 0) << reduced.err;
  EXPECT_FALSE(contains(reduced.out, "note:")) << reduced.out;
}

TEST(QuantizeCommandTest, WritesTheQuantizedModelAndListsWhatStaysFloat) {
  TempDir dir;
  write_model(dir.file("in.onnx"));
  const auto result = run_cli({"quantize", dir.file("in.onnx"), dir.file("out.onnx"), "--per-channel", "--verbose"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "1 nodes quantized (dynamic), 1 kept float")) << result.out;
  EXPECT_TRUE(contains(result.out, "B is not a constant initializer")) << result.out;
  EXPECT_TRUE(contains(result.out, "per-channel int8 weight w")) << result.out;
  const Model out = load_model(dir.file("out.onnx"));
  int integer_matmuls = 0;
  for (const auto& node : out.graph->nodes) integer_matmuls += node->op_type == "MatMulInteger";
  EXPECT_EQ(integer_matmuls, 1);
  EXPECT_EQ(out.graph->initializers.at("w_scale").shape(), (std::vector<int64_t>{4}));
  // The quantized model runs.
  const auto run = run_cli({"run", dir.file("out.onnx"), "--random-inputs"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST(QuantizeCommandTest, RefusesStaticModeAndBadFlags) {
  TempDir dir;
  write_model(dir.file("in.onnx"));
  const auto stat = run_cli({"quantize", dir.file("in.onnx"), dir.file("out.onnx"), "--mode", "static"});
  EXPECT_EQ(stat.exit_code, 2);
  EXPECT_TRUE(contains(stat.err, "--mode static needs --calibrate DIR")) << stat.err;
  const auto type = run_cli({"quantize", dir.file("in.onnx"), dir.file("out.onnx"), "--weight-type", "int4"});
  EXPECT_EQ(type.exit_code, 2);
  const auto budget = run_cli({"quantize", dir.file("in.onnx"), dir.file("out.onnx"), "--mode", "static", "--calibrate",
                               dir.path(), "--max-drop", "1%"});
  EXPECT_EQ(budget.exit_code, 2);
  EXPECT_TRUE(contains(budget.err, "--max-drop needs --validate DIR")) << budget.err;
  const auto missing = run_cli({"quantize", dir.file("nope.onnx"), dir.file("out.onnx")});
  EXPECT_EQ(missing.exit_code, 3);
}

}  // namespace
}  // namespace tessera

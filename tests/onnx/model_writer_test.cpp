// Model writer tests: a model written by save_model loads back with the same graph, metadata, opsets and
// outputs; large initializers go to external data when asked; fused contrib-op domains are imported; a
// released initializer is refused with its name.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/error.h"
#include "ir/graph_builder.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::TempDir;

Model small_model() {
  std::vector<float> weights(64 * 8);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 0.01f * static_cast<float>(i % 17) - 0.05f;
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {-1, 64}, {"batch", ""})
                    .initializer("w", Tensor::from_vector(DType::kFloat, weights))
                    .initializer("shape", Tensor::from_vector<int64_t>(DType::kInt64, {64, 8}))
                    .node("Reshape", {"w", "shape"}, {"w2"})
                    .node("MatMul", {"x", "w2"}, {"y"})
                    .node("LeakyRelu", {"y"}, {"z"})
                    .attr_float("alpha", 0.25f)
                    .output("z", DType::kFloat)
                    .build();
  model.producer_name = "writer-test";
  model.metadata["license"] = "none";
  return model;
}

Tensor input_batch() {
  std::vector<float> x(3 * 64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 11) - 5.0f;
  return Tensor::from_vector(DType::kFloat, x).reshaped({3, 64});
}

std::vector<float> run_model(const std::string& path) {
  Session session(path);
  const Tensor out = session.run({{"x", input_batch()}})[0].tensor();
  return std::vector<float>(out.data<float>(), out.data<float>() + out.element_count());
}

TEST(ModelWriter, RoundTripKeepsGraphMetadataAndOutputs) {
  TempDir dir;
  save_model(small_model(), dir.file("a.onnx"));
  const Model loaded = load_model(dir.file("a.onnx"));
  EXPECT_EQ(loaded.producer_name, "writer-test");
  EXPECT_EQ(loaded.metadata.at("license"), "none");
  EXPECT_EQ(loaded.opset_imports.at(""), 17);
  ASSERT_EQ(loaded.graph->nodes.size(), 3u);
  EXPECT_EQ(loaded.graph->nodes[2]->attr_float("alpha", 0), 0.25f);
  EXPECT_EQ(loaded.graph->inputs[0].type.to_string(), "float[batch,64]");
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.onnx.data")));

  // Written again, the model gives the same outputs as the model built in memory.
  Session reference(small_model());
  const Tensor expected = reference.run({{"x", input_batch()}})[0].tensor();
  const std::vector<float> actual = run_model(dir.file("a.onnx"));
  ASSERT_EQ(actual.size(), static_cast<size_t>(expected.element_count()));
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_EQ(actual[i], expected.data<float>()[i]) << i;
}

TEST(ModelWriter, LargeInitializersGoToExternalData) {
  TempDir dir;
  save_model(small_model(), dir.file("a.onnx"));
  ModelWriteOptions options;
  options.external_data_threshold = 1024;  // the 2 KiB weight goes out, the 16-byte shape stays in
  save_model(small_model(), dir.file("b.onnx"), options);
  ASSERT_TRUE(std::filesystem::exists(dir.file("b.onnx.data")));
  EXPECT_GE(std::filesystem::file_size(dir.file("b.onnx.data")), 64u * 8u * 4u);
  EXPECT_LT(std::filesystem::file_size(dir.file("b.onnx")), std::filesystem::file_size(dir.file("a.onnx")) - 1500);
  EXPECT_EQ(run_model(dir.file("b.onnx")), run_model(dir.file("a.onnx")));
}

TEST(ModelWriter, ImportsTheDomainsOfFusedNodes) {
  TempDir dir;
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {4})
                    .node("Gelu", {"x"}, {"y"}, kMicrosoftDomain)
                    .output("y", DType::kFloat)
                    .build();
  save_model(model, dir.file("m.onnx"));
  const Model loaded = load_model(dir.file("m.onnx"));
  EXPECT_EQ(loaded.opset_imports.at(kMicrosoftDomain), 1);
  EXPECT_EQ(loaded.graph->nodes[0]->domain, kMicrosoftDomain);
}

TEST(ModelWriter, SessionWritesItsOptimizedModel) {
  TempDir dir;
  SessionOptions options;
  options.optimized_model_filepath = dir.file("optimized.onnx");
  Session session(small_model(), options);
  const Model written = load_model(dir.file("optimized.onnx"));
  // The constant Reshape of the weight was folded into an initializer by the optimizer.
  EXPECT_EQ(written.graph->nodes.size(), 2u);
  const Tensor expected = session.run({{"x", input_batch()}})[0].tensor();
  const std::vector<float> actual = run_model(dir.file("optimized.onnx"));
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_EQ(actual[i], expected.data<float>()[i]) << i;
}

TEST(ModelWriter, RefusesAReleasedInitializerNamingIt) {
  TempDir dir;
  Model model = small_model();
  model.graph->initializers["w"] = Tensor();
  try {
    save_model(model, dir.file("m.onnx"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
}

TEST(ModelWriter, UnwritablePathIsAnIoError) {
  try {
    save_model(small_model(), "/nonexistent-folder/m.onnx");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder/m.onnx"), std::string::npos);
  }
}

}  // namespace
}  // namespace tessera

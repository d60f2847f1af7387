// config.pbtxt reading, completion from the model, version policies and session options.
#include "serve/model_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/error.h"

namespace tessera::serve {
namespace {

namespace fs = std::filesystem;

fs::path write_config(const std::string& text) {
  const fs::path dir = fs::temp_directory_path() /
                       ("tessera_config_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(dir);
  std::ofstream(dir / "config.pbtxt") << text;
  return dir;
}

TEST(ModelConfig, ReadsTheTritonSubsetAndSkipsUnknownFields) {
  const fs::path dir = write_config(R"(
name: "m"
backend: "onnxruntime"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP16 dims: [ 3, -1 ] } ]
dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 100
                   default_queue_policy { max_queue_size: 5 timeout_action: REJECT } }
instance_group [ { count: 2 kind: KIND_CPU } ]
version_policy: { specific: { versions: [ 1, 3 ] } }
parameters { key: "intra_op_thread_count" value: { string_value: "2" } }
optimization { graph { level: 1 } }
)");
  const ModelConfigFile file = read_model_config(dir);
  ASSERT_TRUE(file.from_file);
  EXPECT_EQ(file.config.max_batch_size(), 8);
  EXPECT_EQ(file.config.input(0).data_type(), inference::TYPE_FP16);
  EXPECT_EQ(file.config.input(0).dims(1), -1);
  EXPECT_EQ(file.config.dynamic_batching().default_queue_policy().max_queue_size(), 5u);
  EXPECT_EQ(instance_count(file.config), 2);
  EXPECT_EQ(select_versions(file.config, {3, 2, 1}), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(session_options_from_config(file.config).intra_op_threads, 2);
  fs::remove_all(dir);
}

TEST(ModelConfig, MissingFileIsAnEmptyConfig) {
  const fs::path dir = write_config("");
  fs::remove(dir / "config.pbtxt");
  EXPECT_FALSE(read_model_config(dir).from_file);
  fs::remove_all(dir);
}

TEST(ModelConfig, MalformedFileNamesLineAndColumn) {
  const fs::path dir = write_config("max_batch_size: \"eight\"\n");
  try {
    read_model_config(dir);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("config.pbtxt:1:"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(ModelConfig, VersionPolicies) {
  inference::ModelConfig config;
  EXPECT_EQ(select_versions(config, {1, 10, 2}), (std::vector<int64_t>{10}));
  config.mutable_version_policy()->mutable_latest()->set_num_versions(2);
  EXPECT_EQ(select_versions(config, {1, 10, 2}), (std::vector<int64_t>{2, 10}));
  config.mutable_version_policy()->mutable_all();
  EXPECT_EQ(select_versions(config, {3, 1}), (std::vector<int64_t>{1, 3}));
}

TEST(ModelConfig, SessionOptionsRefuseBadValues) {
  inference::ModelConfig config;
  (*config.mutable_parameters())["intra_op_thread_count"].set_string_value("two");
  EXPECT_THROW(session_options_from_config(config), Error);
  config.mutable_parameters()->clear();
  (*config.mutable_parameters())["optimization_level"].set_string_value("basic");
  EXPECT_EQ(session_options_from_config(config).optimization_level, OptimizationLevel::kBasic);
  (*config.mutable_parameters())["optimization_level"].set_string_value("fastest");
  EXPECT_THROW(session_options_from_config(config), Error);
}

TEST(ModelConfig, ParametersTesseraDoesNotReadAreNamedInAWarning) {
  inference::ModelConfig config;
  config.set_name("m");
  (*config.mutable_parameters())["max_run_ms"].set_string_value("100");  // a misspelt timeout_ms
  (*config.mutable_parameters())["timeout_ms"].set_string_value("100");
  ::testing::internal::CaptureStderr();
  session_options_from_config(config);
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warnings.find("model 'm': parameter 'max_run_ms' is not one Tessera reads (ignored)"), std::string::npos)
      << warnings;
  EXPECT_EQ(warnings.find("timeout_ms"), std::string::npos) << warnings;
}

TEST(ModelConfig, ParsesTextAndNamesTheLineOfAnError) {
  EXPECT_EQ(parse_model_config("name: \"m\" max_batch_size: 4", "c.pbtxt").max_batch_size(), 4);
  try {
    parse_model_config("name: \"m\"\nmax_batch_size: [", "c.pbtxt");
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("c.pbtxt:2:"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tessera::serve

// Per-model limits: config.pbtxt `parameters` over the server's limits, and the errors for bad values.
#include "serve/model_limits.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "serve/model_config.h"

namespace tessera::serve {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ModelLimits, ConfigParametersReplaceTheServersLimitsForThatModel) {
  const inference::ModelConfig config = parse_model_config(R"(
name: "m"
parameters { key: "max_tensor_bytes" value: { string_value: "1024" } }
parameters { key: "max_live_bytes" value: { string_value: "4096" } }
parameters { key: "max_loop_iterations" value: { string_value: "100" } }
parameters { key: "max_graph_depth" value: { string_value: "0" } }
parameters { key: "max_model_bytes" value: { string_value: "9223372036854775807" } }
parameters { key: "timeout_ms" value: { string_value: "250" } }
)",
                                                           "config.pbtxt");
  ServingLimits server;
  server.session.max_loop_iterations = 7;
  server.run_timeout_ms = 1000;
  const ServingLimits limits = model_limits(config, server);
  EXPECT_EQ(limits.session.max_tensor_bytes, 1024u);
  EXPECT_EQ(limits.session.max_live_bytes, 4096u);
  EXPECT_EQ(limits.session.max_loop_iterations, 100);
  EXPECT_EQ(limits.session.max_graph_depth, 0);
  EXPECT_EQ(limits.session.max_model_bytes, uint64_t{INT64_MAX});
  EXPECT_EQ(limits.run_timeout_ms, 250);
}

TEST(ModelLimits, WithoutLimitParametersTheServersLimitsHold) {
  inference::ModelConfig config;
  (*config.mutable_parameters())["intra_op_thread_count"].set_string_value("1");
  ServingLimits server;
  server.session.max_tensor_bytes = 77;
  server.run_timeout_ms = 5;
  const ServingLimits limits = model_limits(config, server);
  EXPECT_EQ(limits.session.max_tensor_bytes, 77u);
  EXPECT_EQ(limits.session.max_live_bytes, ResourceLimits{}.max_live_bytes);
  EXPECT_EQ(limits.run_timeout_ms, 5);
}

TEST(ModelLimits, BadValuesAreRefusedNamingModelParameterAndValue) {
  for (const char* bad :
       {"", "-1", "+5", " 5", "5 ", "1e6", "10GiB", "0x10", "ten", "9223372036854775808", "99999999999999999999999"}) {
    inference::ModelConfig config;
    config.set_name("slow");
    (*config.mutable_parameters())["timeout_ms"].set_string_value(bad);
    try {
      model_limits(config, {});
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
      const std::string expected = std::string("model 'slow': parameter timeout_ms '") + bad + "' is not an integer";
      EXPECT_TRUE(contains(e.what(), expected)) << e.what();
    }
  }
}

TEST(ModelLimits, KnowsItsParameters) {
  for (const char* key : {"max_tensor_bytes", "max_live_bytes", "max_loop_iterations", "max_graph_depth",
                          "max_model_bytes", "timeout_ms"}) {
    EXPECT_TRUE(is_limit_parameter(key)) << key;
  }
  EXPECT_FALSE(is_limit_parameter("intra_op_thread_count"));
  EXPECT_FALSE(is_limit_parameter("max_run_ms"));
}

}  // namespace
}  // namespace tessera::serve

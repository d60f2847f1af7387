// Profiler and per-run controls: per-node events with op, provider and shapes, a model_run event per run,
// valid Chrome-trace JSON, RunControl::terminate, and free-dimension overrides.
#include "runtime/profiler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

// x: float[batch,3] -> y = Relu(x + x), through nodes named "add" and "relu" (kept apart: no chain fusion).
Session two_node_session(SessionOptions options = {}) {
  options.disabled_passes.push_back("elementwise_chain_fusion");
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  testing::add_input(g, "x", 1, {std::string("batch"), int64_t{3}});
  testing::add_node(g, "Add", {"x", "x"}, {"s"})->set_name("add");
  testing::add_node(g, "Relu", {"s"}, {"y"})->set_name("relu");
  testing::add_output(g, "y", 1);
  options.intra_op_threads = 1;
  return Session::from_bytes(testing::serialize(model), options);
}

RuntimeValue input_of_batch(int64_t batch) {
  Tensor x(DType::kFloat, {batch, 3});
  for (int64_t i = 0; i < x.element_count(); ++i) x.data<float>()[i] = static_cast<float>(i) - 2;
  return x;
}

TEST(ProfilerTest, RecordsEveryNodeWithShapesAndOneRunEvent) {
  const Session session = two_node_session();
  Profiler profiler;
  for (int64_t batch : {2, 5}) {
    Profiler::RunRecorder recorder = profiler.start_run();
    session.run({{"x", input_of_batch(batch)}}, {}, RunControl{.observer = &recorder});
    profiler.finish_run(std::move(recorder));
  }
  const std::vector<ProfileEvent> events = profiler.events();
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[0].name, "add");
  EXPECT_EQ(events[0].op_type, "Add");
  EXPECT_EQ(events[0].provider, "CPUExecutionProvider");
  EXPECT_EQ(events[0].input_shapes, (std::vector<std::string>{"float[2,3]", "float[2,3]"}));
  EXPECT_EQ(events[1].name, "relu");
  EXPECT_EQ(events[1].output_shapes, (std::vector<std::string>{"float[2,3]"}));
  EXPECT_EQ(events[2].name, "model_run");
  EXPECT_EQ(events[2].category, "Session");
  EXPECT_EQ(events[4].output_shapes, (std::vector<std::string>{"float[5,3]"}));
  // Nodes lie inside their run.
  EXPECT_GE(events[0].start_us, events[2].start_us);
  EXPECT_LE(events[1].start_us + events[1].duration_us, events[2].start_us + events[2].duration_us + 1);
}

TEST(ProfilerTest, ChromeTraceIsJsonWithCompleteEvents) {
  const Session session = two_node_session();
  Profiler profiler;
  Profiler::RunRecorder recorder = profiler.start_run();
  session.run({{"x", input_of_batch(1)}}, {}, RunControl{.observer = &recorder});
  profiler.finish_run(std::move(recorder));
  const nlohmann::json trace = nlohmann::json::parse(profiler.to_chrome_trace());
  ASSERT_EQ(trace["traceEvents"].size(), 3u);
  for (const auto& e : trace["traceEvents"]) {
    EXPECT_EQ(e["ph"], "X");
    EXPECT_TRUE(e.contains("ts") && e.contains("dur") && e.contains("pid") && e.contains("tid"));
  }
  EXPECT_EQ(trace["traceEvents"][0]["args"]["op_name"], "Add");
  EXPECT_EQ(trace["traceEvents"][0]["args"]["input_shapes"][0], "float[1,3]");
}

TEST(ProfilerTest, WriteToMissingFolderNamesThePath) {
  Profiler profiler;
  try {
    profiler.write("/nonexistent-folder/profile.json");
    FAIL() << "expected kIo";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder/profile.json"), std::string::npos);
  }
}

TEST(RunControlTest, TerminateStopsTheRunNamingTheNode) {
  const Session session = two_node_session();
  std::atomic<bool> terminate{true};
  try {
    session.run({{"x", input_of_batch(1)}}, {}, RunControl{.terminate = &terminate});
    FAIL() << "expected the run to stop";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRuntime);
    EXPECT_NE(std::string(e.what()).find("terminated"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'add'"), std::string::npos) << e.what();
  }
  terminate = false;
  const auto out = session.run({{"x", input_of_batch(1)}}, {}, RunControl{.terminate = &terminate});
  EXPECT_FLOAT_EQ(out[0].tensor().data<float>()[2], 0.0f);
  EXPECT_FLOAT_EQ(out[0].tensor().data<float>()[0], 0.0f);
  EXPECT_EQ(out[0].tensor().shape(), (std::vector<int64_t>{1, 3}));
}

TEST(SessionOptionsTest, FreeDimensionOverrideFixesTheSymbol) {
  SessionOptions options;
  options.free_dimension_overrides["batch"] = 4;
  const Session session = two_node_session(options);
  ASSERT_TRUE(session.inputs()[0].type.shape.has_value());
  EXPECT_EQ((*session.inputs()[0].type.shape)[0].value, 4);
  // The fixed dim is now checked like any declared one.
  EXPECT_THROW(session.run({{"x", input_of_batch(2)}}), Error);
  const auto out = session.run({{"x", input_of_batch(4)}});
  EXPECT_EQ(out[0].tensor().shape(), (std::vector<int64_t>{4, 3}));
  EXPECT_FLOAT_EQ(out[0].tensor().data<float>()[11], 18.0f);
}

}  // namespace
}  // namespace tessera

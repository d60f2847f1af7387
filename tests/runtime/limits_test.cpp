// Resource limits and run deadlines: an endless Loop stopped by the deadline (and by terminate from another
// thread) with the session usable afterwards; Loop iterations, tensor bytes, subgraph depth and model size
// refused past their limits with the node named.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/error.h"
#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_node;
using testing::add_output;
using testing::serialize;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void set_scalar_type(onnx::ValueInfoProto* info, const std::string& name, int32_t elem_type) {
  info->set_name(name);
  info->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
  info->mutable_type()->mutable_tensor_type()->mutable_shape();
}

// limit: int64 scalar -> v = Loop(no trip count, cond true) whose body adds 1 to v while i < limit: endless for
// a huge limit (the body reads `limit` from the outer scope).
onnx::ModelProto counting_loop_model() {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "limit", 7, {});
  testing::add_float_initializer(g, "v0", {1}, {0.0f});
  auto* cond = g->add_initializer();
  cond->set_name("go");
  cond->set_data_type(9);
  cond->add_int32_data(1);
  auto* loop = add_node(g, "Loop", {"", "go", "v0"}, {"v"}, "loop");
  auto* attr = loop->add_attribute();
  attr->set_name("body");
  attr->set_type(onnx::AttributeProto::GRAPH);
  auto* body = attr->mutable_g();
  body->set_name("body");
  set_scalar_type(body->add_input(), "i", 7);
  set_scalar_type(body->add_input(), "cond_in", 9);
  add_input(body, "v_in", 1, {int64_t{1}});
  testing::add_float_initializer(body, "one", {1}, {1.0f});
  add_node(body, "Less", {"i", "limit"}, {"cond_out"}, "keep_going");
  add_node(body, "Add", {"v_in", "one"}, {"v_out"}, "increment");
  add_output(body, "cond_out", 9);
  add_output(body, "v_out", 1);
  add_output(g, "v", 1);
  return model;
}

Session counting_loop_session(ResourceLimits limits = {}) {
  return Session::from_bytes(serialize(counting_loop_model()), {.intra_op_threads = 1, .limits = limits});
}

std::vector<std::pair<std::string, RuntimeValue>> limit_feed(int64_t limit) {
  return {{"limit", Tensor::scalar<int64_t>(DType::kInt64, limit)}};
}

TEST(RunDeadlineTest, EndlessLoopStopsAtTheDeadlineAndTheSessionRunsAgain) {
  const Session session = counting_loop_session();
  const auto start = std::chrono::steady_clock::now();
  try {
    session.run(limit_feed(INT64_MAX), {}, RunControl{.timeout_ms = 200});
    FAIL() << "the endless loop ended";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRuntime) << e.what();
    EXPECT_TRUE(contains(e.what(), "deadline (RunOptions timeout of 200 ms)")) << e.what();
    EXPECT_TRUE(contains(e.what(), "node 'loop' (Loop)")) << e.what();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(seconds, 0.2);
  EXPECT_LT(seconds, 10.0);
  const std::vector<RuntimeValue> out = session.run(limit_feed(5), {}, RunControl{.timeout_ms = 60'000});
  EXPECT_EQ(out[0].tensor().data<float>()[0], 6.0f);  // iterations 0..5, the last one computing i < 5 false
}

// A timeout past the steady clock's range (2^63-1 ms, as a config or flag may give) is no deadline at all; it
// used to overflow the deadline's nanoseconds and stop the run at its first node.
TEST(RunDeadlineTest, TimeoutBeyondTheClocksRangeNeverPasses) {
  const Session session = counting_loop_session();
  for (int64_t timeout_ms : {INT64_MAX, INT64_MAX / 1'000'000, int64_t{1} << 53}) {
    const std::vector<RuntimeValue> out = session.run(limit_feed(5), {}, RunControl{.timeout_ms = timeout_ms});
    EXPECT_EQ(out[0].tensor().data<float>()[0], 6.0f) << timeout_ms;
  }
}

TEST(RunDeadlineTest, TerminateFromAnotherThreadStopsAnEndlessLoop) {
  const Session session = counting_loop_session();
  std::atomic<bool> terminate{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    terminate = true;
  });
  try {
    session.run(limit_feed(INT64_MAX), {}, RunControl{.terminate = &terminate});
    ADD_FAILURE() << "the endless loop ended";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRuntime) << e.what();
    EXPECT_TRUE(contains(e.what(), "terminated")) << e.what();
  }
  stopper.join();
  terminate = false;
  EXPECT_EQ(session.run(limit_feed(2), {}, RunControl{.terminate = &terminate})[0].tensor().data<float>()[0], 3.0f);
}

TEST(ResourceLimitTest, LoopIterationsStopAtTheLimit) {
  const Session session = counting_loop_session({.max_loop_iterations = 1000});
  try {
    session.run(limit_feed(INT64_MAX));
    FAIL() << "the loop ran past the limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRuntime) << e.what();
    EXPECT_TRUE(contains(e.what(), "node 'loop' (Loop): the loop reached the session's max_loop_iterations (1000)"))
        << e.what();
  }
  EXPECT_EQ(session.run(limit_feed(998))[0].tensor().data<float>()[0], 999.0f);  // 999 iterations: within
}

// shape: int64[2] (fed) or constant -> y = ConstantOfShape(shape), float.
Session constant_of_shape_session(bool constant_shape, uint64_t max_tensor_bytes) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  if (constant_shape) {
    testing::add_int64_initializer(g, "shape", {2}, {512, 512});
  } else {
    add_input(g, "shape", 7, {int64_t{2}});
  }
  add_node(g, "ConstantOfShape", {"shape"}, {"y"}, "fill");
  add_output(g, "y", 1);
  // Optimizations off: constant folding would otherwise turn a constant-shape node into an initializer.
  return Session::from_bytes(serialize(model), {.intra_op_threads = 1,
                                                .optimization_level = OptimizationLevel::kDisabled,
                                                .limits = {.max_tensor_bytes = max_tensor_bytes}});
}

TEST(ResourceLimitTest, TensorsPastMaxTensorBytesAreRefusedNamingTheNode) {
  const Session session = constant_of_shape_session(false, 1 << 20);
  const Tensor small = Tensor::from_vector<int64_t>(DType::kInt64, {512, 512});  // exactly 1 MiB: allowed
  EXPECT_EQ(session.run({{"shape", small}})[0].tensor().element_count(), 512 * 512);
  try {
    session.run({{"shape", Tensor::from_vector<int64_t>(DType::kInt64, {512, 513})}});
    FAIL() << "the tensor was allocated";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory) << e.what();
    EXPECT_TRUE(contains(e.what(), "node 'fill' (ConstantOfShape): output float[512,513] would need 1050624 bytes"))
        << e.what();
    EXPECT_TRUE(contains(e.what(), "max_tensor_bytes (1048576)")) << e.what();
  }
  // Known at creation: refused before anything runs.
  try {
    constant_of_shape_session(true, 1 << 19);
    FAIL() << "the session was created";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_TRUE(contains(e.what(), "node 'fill' (ConstantOfShape): output 'y' float[512,512]")) << e.what();
  }
}

// An If whose branches hold an If ... `depth` subgraph levels deep; the innermost branches output a constant.
void add_nested_if(onnx::GraphProto* graph, int depth, const std::string& out, int& counter) {
  const std::string name = "n" + std::to_string(counter++);
  if (depth == 0) {
    auto* node = add_node(graph, "Constant", {}, {out}, name);
    auto* value = node->add_attribute();
    value->set_name("value_float");
    value->set_type(onnx::AttributeProto::FLOAT);
    value->set_f(1.0f);
    return;
  }
  auto* node = add_node(graph, "If", {"c"}, {out}, name);
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* attr = node->add_attribute();
    attr->set_name(branch);
    attr->set_type(onnx::AttributeProto::GRAPH);
    auto* g = attr->mutable_g();
    g->set_name(name + branch);
    const std::string inner = out + "_" + branch;
    add_nested_if(g, depth - 1, inner, counter);
    add_output(g, inner, 1);
  }
}

TEST(ResourceLimitTest, SubgraphsDeeperThanMaxGraphDepthAreRefused) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "c", 9, {});
  int counter = 0;
  add_nested_if(g, 3, "y", counter);
  add_output(g, "y", 1);
  const std::string bytes = serialize(model);
  EXPECT_EQ(Session::from_bytes(bytes, {.limits = {.max_graph_depth = 3}}).outputs().size(), 1u);
  try {
    Session::from_bytes(bytes, {.limits = {.max_graph_depth = 2}});
    FAIL() << "the session was created";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_TRUE(contains(e.what(), "(If): attribute 'else_branch' holds a subgraph at depth 3")) << e.what();
    EXPECT_TRUE(contains(e.what(), "max_graph_depth (2)")) << e.what();
  }
}

TEST(ResourceLimitTest, ModelsLargerThanMaxModelBytesAreNotParsed) {
  const std::string bytes = serialize(counting_loop_model());
  testing::TempDir dir;
  const std::string path = dir.file("model.onnx");
  testing::write_bytes(path, bytes);
  const ResourceLimits limits{.max_model_bytes = bytes.size() - 1};
  for (bool from_file : {false, true}) {
    try {
      const Session session =
          from_file ? Session(path, {.limits = limits}) : Session::from_bytes(bytes, {.limits = limits});
      FAIL() << "the model was read: " << session.inputs().size();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
      EXPECT_TRUE(contains(e.what(), std::to_string(bytes.size()) + " bytes, more than the session's max_model_bytes"))
          << e.what();
    }
  }
  const Session session(path, {.limits = {.max_model_bytes = bytes.size()}});
  EXPECT_EQ(session.inputs().size(), 1u);
}

}  // namespace
}  // namespace tessera

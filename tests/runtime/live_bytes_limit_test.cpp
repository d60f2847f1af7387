// ResourceLimits::max_live_bytes: the bytes all live intermediates of a run hold at once. A node whose output
// would pass the limit is refused before its kernel allocates, naming the node; values released after their
// last reader no longer count, and memory an op passes through is counted once.
#include <gtest/gtest.h>

#include "base/error.h"
#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_node;
using testing::add_output;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

constexpr int64_t kSide = 256;                       // x: float [256, 256]
constexpr uint64_t kValueBytes = kSide * kSide * 4;  // 256 KiB per intermediate

// x -> a = Relu(x), b = Neg(a), c = Abs(b), y = Sum(a, b, c): a, b and c are all live when Sum allocates y, so
// the run peaks at 4 values' bytes.
std::string kept_alive_model() {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {kSide, kSide});
  add_node(g, "Relu", {"x"}, {"a"}, "relu");
  add_node(g, "Neg", {"a"}, {"b"}, "neg");
  add_node(g, "Abs", {"b"}, {"c"}, "abs");
  add_node(g, "Sum", {"a", "b", "c"}, {"y"}, "sum");
  add_output(g, "y", 1);
  return testing::serialize(model);
}

// x -> Relu -> Transpose -> Transpose -> Transpose -> Reshape -> y: each value is released once the next node has
// run, so at most two values (input and output of one node) are live; Reshape passes its input's memory on.
// (Transposes, not elementwise ops: those write over an input that dies with them and would need no new memory.)
std::string chain_model() {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {kSide, kSide});
  testing::add_int64_initializer(g, "flat", {1}, {kSide * kSide});
  add_node(g, "Relu", {"x"}, {"v1"}, "relu");
  for (int i = 1; i <= 3; ++i) {
    auto* t =
        add_node(g, "Transpose", {"v" + std::to_string(i)}, {"v" + std::to_string(i + 1)}, "t" + std::to_string(i));
    testing::add_ints_attribute(t, "perm", {1, 0});
  }
  add_node(g, "Reshape", {"v4", "flat"}, {"y"}, "reshape");
  add_output(g, "y", 1);
  return testing::serialize(model);
}

Session session_with_limit(const std::string& bytes, uint64_t max_live_bytes) {
  return Session::from_bytes(bytes, {.intra_op_threads = 1,
                                     .optimization_level = OptimizationLevel::kDisabled,
                                     .limits = {.max_live_bytes = max_live_bytes}});
}

std::vector<std::pair<std::string, RuntimeValue>> x_feed() { return {{"x", Tensor(DType::kFloat, {kSide, kSide})}}; }

TEST(LiveBytesLimitTest, ANodeThatWouldPassTheLimitIsRefusedNamingIt) {
  EXPECT_EQ(session_with_limit(kept_alive_model(), 4 * kValueBytes).run(x_feed())[0].tensor().element_count(),
            kSide * kSide);
  const Session session = session_with_limit(kept_alive_model(), 4 * kValueBytes - 1);
  try {
    session.run(x_feed());
    FAIL() << "the run passed max_live_bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory) << e.what();
    EXPECT_TRUE(contains(e.what(),
                         "node 'sum' (Sum): output float[256,256] (262144 bytes) would bring the run's "
                         "live intermediates to 786432 + 262144 bytes"))
        << e.what();
    EXPECT_TRUE(contains(e.what(), "max_live_bytes (1048575)")) << e.what();
  }
  // Nothing of the failed run stays counted: the next run of the same session is refused the same way, not earlier.
  try {
    session.run(x_feed());
    FAIL() << "the run passed max_live_bytes";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "node 'sum' (Sum)")) << e.what();
  }
}

TEST(LiveBytesLimitTest, ReleasedValuesNoLongerCount) {
  // Five nodes of 256 KiB outputs run under a limit of two values' bytes, many times over.
  const Session session = session_with_limit(chain_model(), 2 * kValueBytes);
  for (int run = 0; run < 3; ++run) {
    EXPECT_EQ(session.run(x_feed())[0].tensor().element_count(), kSide * kSide);
  }
  try {
    session_with_limit(chain_model(), 2 * kValueBytes - 1).run(x_feed());
    FAIL() << "the run passed max_live_bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory) << e.what();
    EXPECT_TRUE(contains(e.what(), "node 't1' (Transpose)")) << e.what();
  }
}

TEST(LiveBytesLimitTest, TheCliFlagSetsTheLimit) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("model.onnx"), kept_alive_model());
  const std::string model = dir.file("model.onnx");
  EXPECT_EQ(testing::run_cli({"run", model, "--random-inputs", "--max-live-bytes", "1048576"}).exit_code, 0);
  const testing::ProcessResult refused =
      testing::run_cli({"run", model, "--random-inputs", "--max-live-bytes", "1048575"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_TRUE(contains(refused.err, "node 'sum' (Sum)")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "max_live_bytes (1048575)")) << refused.err;
}

}  // namespace
}  // namespace tessera

// Session and execution-plan tests: feed validation and its messages, output selection, intermediates released
// after their last reader, and concurrent runs of one session.
#include "runtime/session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "base/error.h"
#include "onnx/test_models.h"
#include "runtime/execution_plan.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_node;
using testing::add_output;
using testing::serialize;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Tensor floats(std::vector<int64_t> shape, float start = 0) {
  Tensor t(DType::kFloat, std::move(shape));
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = start + static_cast<float>(i);
  return t;
}

// x: float[batch,3], y: float[3] -> z = x + y; w (initializer 1,1,1, also an input) -> v = Relu(z) * w.
Session feed_model_session() {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("batch"), int64_t{3}});
  add_input(g, "y", 1, {int64_t{3}});
  add_input(g, "w", 1, {int64_t{3}});
  testing::add_float_initializer(g, "w", {3}, {1, 1, 1});
  add_node(g, "Add", {"x", "y"}, {"z"});
  add_node(g, "Relu", {"z"}, {"r"});
  add_node(g, "Mul", {"r", "w"}, {"v"});
  add_output(g, "z", 1);
  add_output(g, "v", 1);
  return Session::from_bytes(serialize(model), {.intra_op_threads = 1});
}

void expect_feed_error(const Session& s, const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                       const std::string& part) {
  try {
    s.run(feeds);
    FAIL() << "expected an error containing " << part;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_TRUE(contains(e.what(), part)) << e.what();
  }
}

TEST(SessionFeedTest, SymbolicDimsTakeAnySize) {
  const Session s = feed_model_session();
  for (int64_t batch : {1, 4, 0}) {
    const auto out = s.run({{"x", floats({batch, 3})}, {"y", floats({3}, -1)}});
    ASSERT_EQ(out[0].tensor().shape(), (std::vector<int64_t>{batch, 3}));
  }
}

TEST(SessionFeedTest, InitializerInputsAreOptionalAndOverridable) {
  const Session s = feed_model_session();
  const auto with_default = s.run({{"x", floats({1, 3})}, {"y", floats({3})}});
  EXPECT_EQ(with_default[1].tensor().data<float>()[2], 4.0f);  // (2 + 2) * 1
  const auto overridden = s.run({{"x", floats({1, 3})}, {"y", floats({3})}, {"w", floats({3}, 10)}});
  EXPECT_EQ(overridden[1].tensor().data<float>()[2], 48.0f);  // (2 + 2) * 12
}

TEST(SessionFeedTest, MessagesNameTheInputAndBothTypes) {
  const Session s = feed_model_session();
  expect_feed_error(s, {{"x", floats({1, 3})}, {"y", floats({3})}, {"q", floats({3})}},
                    "the model has no input named 'q' (inputs: x, y, w)");
  expect_feed_error(s, {{"x", floats({1, 3})}, {"x", floats({1, 3})}, {"y", floats({3})}}, "input 'x' is fed twice");
  expect_feed_error(s, {{"x", floats({1, 3})}}, "input 'y' (float[3]) is not fed");
  expect_feed_error(s, {{"x", Tensor(DType::kDouble, {1, 3})}, {"y", floats({3})}},
                    "input 'x' expects element type float, got double[1,3]");
  expect_feed_error(s, {{"x", floats({3})}, {"y", floats({3})}},
                    "input 'x' expects rank 2 (float[batch,3]), got float[3]");
  expect_feed_error(s, {{"x", floats({2, 4})}, {"y", floats({3})}},
                    "input 'x' expects dimension 1 to be 3 (float[batch,3]), got float[2,4]");
  expect_feed_error(s, {{"x", RuntimeValue::sequence(DType::kFloat, {floats({1, 3})})}, {"y", floats({3})}},
                    "input 'x' expects a tensor float[batch,3], got seq(float)[1]");
  expect_feed_error(s, {{"x", RuntimeValue()}, {"y", floats({3})}}, "input 'x' expects a tensor");
}

TEST(SessionFeedTest, CheckFeedDirectly) {
  const IoInfo seq{"s", TypeInfo::sequence_of(TypeInfo::tensor(DType::kFloat))};
  EXPECT_NO_THROW(check_feed(seq, RuntimeValue::sequence(DType::kFloat, {})));
  EXPECT_THROW(check_feed(seq, RuntimeValue(floats({1}))), Error);
  const IoInfo any{"a", TypeInfo::tensor(DType::kUndefined)};
  EXPECT_NO_THROW(check_feed(any, RuntimeValue(Tensor(DType::kInt8, {2, 2, 2}))));
  const IoInfo opt{"o", TypeInfo::optional_of(TypeInfo::tensor(DType::kFloat))};
  EXPECT_NO_THROW(check_feed(opt, RuntimeValue::empty_optional(RuntimeValue::Kind::kTensor, DType::kFloat)));
  EXPECT_THROW(check_feed(opt, RuntimeValue()), Error);
}

TEST(SessionOutputTest, SelectsOutputsByName) {
  const Session s = feed_model_session();
  const auto out = s.run({{"x", floats({1, 3})}, {"y", floats({3})}}, {"v", "z", "v"});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].tensor().data<float>()[1], 2.0f);
  EXPECT_EQ(out[1].tensor().data<float>()[1], 2.0f);
  try {
    s.run({{"x", floats({1, 3})}, {"y", floats({3})}}, {"r"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(e.what(), "no output named 'r'")) << e.what();
  }
}

// The plan moves outputs out of the run's slots: a value the graph lists twice, or that is also a graph input,
// must still come back whole every time.
TEST(SessionOutputTest, RepeatedAndPassThroughOutputsAreWhole) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{3}});
  add_node(g, "Relu", {"x"}, {"r"});
  add_output(g, "r", 1);
  add_output(g, "x", 1);
  add_output(g, "r", 1);
  const Session s = Session::from_bytes(serialize(model));
  for (int run = 0; run < 2; ++run) {
    const auto out = s.run({{"x", floats({3}, -1)}});
    ASSERT_EQ(out.size(), 3u);
    for (size_t k : {0u, 2u}) {
      ASSERT_TRUE(out[k].is_tensor()) << k;
      EXPECT_EQ(std::vector<float>(out[k].tensor().data<float>(), out[k].tensor().data<float>() + 3),
                (std::vector<float>{0, 0, 1}));
    }
    EXPECT_EQ(out[1].tensor().data<float>()[0], -1.0f);
  }
}

TEST(SessionTest, ListsEveryUnsupportedNode) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{2}});
  add_node(g, "Frob", {"x"}, {"a"}, "first");
  add_node(g, "Relu", {"a"}, {"b"}, "fine");
  add_node(g, "Frob", {"b"}, {"c"}, "second");
  add_output(g, "c", 1);
  try {
    Session::from_bytes(serialize(model));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(e.what(), "2 node(s) Tessera cannot run")) << e.what();
    EXPECT_TRUE(contains(e.what(), "Frob (domain 'ai.onnx', opset 17) at node 'first'")) << e.what();
    EXPECT_TRUE(contains(e.what(), "at node 'second'")) << e.what();
  }
}

// A provider of probe ops, to watch the plan release values: Make produces a tensor and remembers its storage;
// Copy clones; Check records whether Make's storage is still alive when it runs.
struct ProbeState {
  std::weak_ptr<Storage> made;
  std::atomic<int> alive_at_check{-1};
};

class ProbeProvider final : public ExecutionProvider {
 public:
  explicit ProbeProvider(std::shared_ptr<ProbeState> state) : state_(std::move(state)) {}
  std::string name() const override { return "Probe"; }
  bool supports(const Node& node) const override {
    return node.op_type == "Make" || node.op_type == "Copy" || node.op_type == "Check";
  }
  std::unique_ptr<Kernel> create_kernel(const KernelInfo& info) const override {
    auto state = state_;
    const std::string op = info.node.op_type;
    return make_kernel([state, op](KernelContext& ctx) {
      if (op == "Make") {
        Tensor& t = ctx.allocate_output(0, DType::kFloat, {1024});
        state->made = t.storage();
      } else {
        if (op == "Check") state->alive_at_check = state->made.expired() ? 0 : 1;
        ctx.set_output(0, ctx.input(0).clone());
      }
    });
  }

 private:
  std::shared_ptr<ProbeState> state_;
};

std::vector<RuntimeValue> run_probe_graph(const std::vector<std::string>& outputs, ProbeState& observed) {
  auto state = std::make_shared<ProbeState>();
  Graph g;
  g.add_node("Make", {}, {"a"}, "make");
  g.add_node("Copy", {"a"}, {"b"}, "copy1");
  g.add_node("Copy", {"b"}, {"c"}, "copy2");
  g.add_node("Check", {"c"}, {"y"}, "check");
  for (const auto& o : outputs) g.outputs.push_back({o, {}});
  g.sort_topologically();
  ExecutionPlan plan(g, {std::make_shared<ProbeProvider>(state)});
  SerialParallelism serial;
  auto result = plan.run({}, ValueLookup{}, serial, RunGuard{});
  observed.alive_at_check = state->alive_at_check.load();
  observed.made = state->made;
  return result;
}

TEST(ExecutionPlanTest, ReleasesIntermediatesAfterTheirLastReader) {
  ProbeState observed;
  const auto outputs = run_probe_graph({"y"}, observed);
  EXPECT_EQ(observed.alive_at_check.load(), 0) << "'a' was still held when 'check' ran";
  EXPECT_TRUE(observed.made.expired());
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].tensor().element_count(), 1024);
}

TEST(ExecutionPlanTest, KeepsGraphOutputsAlive) {
  ProbeState observed;
  const auto outputs = run_probe_graph({"y", "a"}, observed);
  EXPECT_EQ(observed.alive_at_check.load(), 1) << "'a' is a graph output and must be kept";
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[1].tensor().storage(), observed.made.lock());
}

// x[batch,64] -> MatMul w1[64,48] -> Add b -> Relu -> MatMul w2[48,16] -> y.
Session mlp_session(int threads) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1, 1);
  auto random = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& f : v) f = uniform(rng);
    return v;
  };
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("batch"), int64_t{64}});
  testing::add_float_initializer(g, "w1", {64, 48}, random(64 * 48));
  testing::add_float_initializer(g, "b", {48}, random(48));
  testing::add_float_initializer(g, "w2", {48, 16}, random(48 * 16));
  add_node(g, "MatMul", {"x", "w1"}, {"h"});
  add_node(g, "Add", {"h", "b"}, {"hb"});
  add_node(g, "Relu", {"hb"}, {"r"});
  add_node(g, "MatMul", {"r", "w2"}, {"y"});
  add_output(g, "y", 1);
  return Session::from_bytes(serialize(model), {.intra_op_threads = threads});
}

Tensor random_input(uint32_t seed, int64_t batch) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-2, 2);
  Tensor t(DType::kFloat, {batch, 64});
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = uniform(rng);
  return t;
}

TEST(SessionConcurrencyTest, FourThreadsGetIdenticalResults) {
  for (int pool_threads : {1, 2}) {
    SCOPED_TRACE(pool_threads);
    const Session session = mlp_session(pool_threads);
    constexpr int kThreads = 4, kRuns = 25;
    // Expected results, computed one at a time.
    std::vector<std::vector<Tensor>> expected(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      for (int r = 0; r < kRuns; ++r) {
        const Tensor x = random_input(static_cast<uint32_t>(t * 1000 + r), 1 + (t + r) % 9);
        expected[t].push_back(session.run({{"x", x}})[0].tensor());
      }
    }
    std::atomic<int> mismatches{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRuns; ++r) {
          try {
            const Tensor x = random_input(static_cast<uint32_t>(t * 1000 + r), 1 + (t + r) % 9);
            const Tensor y = session.run({{"x", x}})[0].tensor();
            const Tensor& want = expected[t][r];
            if (y.shape() != want.shape() || std::memcmp(y.raw_data(), want.raw_data(), want.byte_size()) != 0)
              ++mismatches;
          } catch (...) {
            ++errors;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
  }
}

}  // namespace
}  // namespace tessera

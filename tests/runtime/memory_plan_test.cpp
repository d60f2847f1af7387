// The memory pattern (runtime/memory_plan.h): a run at new feed shapes is recorded, the runs after it at the same
// shapes place their intermediates in one arena block by the plan. The planned runs must give the same outputs as
// unplanned ones, hand out outputs that no later run overwrites, and fall back where planning cannot follow.
#include "runtime/memory_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <thread>
#include <vector>

#include "onnx/test_models.h"
#include "ops/kernel.h"
#include "runtime/node_observer.h"
#include "runtime/runtime_test_util.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_node;
using testing::add_output;
using testing::filled;
using testing::serialize;
using testing::values_of;

TEST(PlaceRegionsTest, RegionsLiveApartShareMemoryAndLiveTogetherDoNot) {
  size_t arena = 0;
  // 0 [0,1], 1 [1,2], 2 [2,3]: 0 and 2 never meet, 1 meets both.
  const std::vector<size_t> offsets = place_regions({1000, 1000, 1000}, {0, 1, 2}, {1, 2, 3}, &arena);
  ASSERT_EQ(offsets.size(), 3u);
  EXPECT_EQ(offsets[0], 0u);
  EXPECT_EQ(offsets[1], 1024u) << "1000 bytes take 1024 at 64-byte alignment";
  EXPECT_EQ(offsets[2], 0u) << "region 0 is released before region 2 is made";
  EXPECT_EQ(arena, 2048u);
}

TEST(PlaceRegionsTest, BestFitTakesTheSmallestGapThatHolds) {
  size_t arena = 0;
  // Regions 0 (640 B), 1 (64 B), 2 (256 B), 3 (64 B) all live at step 1; 0 and 2 end there, leaving gaps of 640
  // and 256 bytes between the survivors 1 and 3. Region 4 (192 B) takes the 256-byte gap, region 5 (512 B) the
  // 640-byte one.
  const std::vector<size_t> offsets =
      place_regions({640, 64, 256, 64, 192, 512}, {0, 0, 0, 0, 2, 2}, {1, 5, 1, 5, 5, 5}, &arena);
  EXPECT_EQ(offsets[0], 0u);
  EXPECT_EQ(offsets[1], 640u);
  EXPECT_EQ(offsets[2], 704u);
  EXPECT_EQ(offsets[3], 960u);
  EXPECT_EQ(offsets[4], 704u);
  EXPECT_EQ(offsets[5], 0u);
  EXPECT_EQ(arena, 1024u);
}

TEST(PlaceRegionsTest, NoTwoRegionsLiveTogetherOverlap) {
  // Pseudo-random sizes and lifetimes: check the invariant directly.
  std::vector<size_t> bytes, first, last;
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (size_t i = 0; i < 200; ++i) {
    bytes.push_back(1 + next() % 5000);
    first.push_back(i / 2);
    last.push_back(i / 2 + next() % 20);
  }
  size_t arena = 0;
  const std::vector<size_t> offsets = place_regions(bytes, first, last, &arena);
  for (size_t i = 0; i < bytes.size(); ++i) {
    EXPECT_EQ(offsets[i] % 64, 0u);
    EXPECT_LE(offsets[i] + bytes[i], arena);
    for (size_t j = 0; j < i; ++j) {
      const bool together = first[i] <= last[j] && first[j] <= last[i];
      const bool overlap = offsets[i] < offsets[j] + bytes[j] && offsets[j] < offsets[i] + bytes[i];
      EXPECT_FALSE(together && overlap) << "regions " << j << " and " << i;
    }
  }
}

// a = Relu(x), b = Reshape(a) (the same memory), c = Sigmoid(b), d = c + b, y = Tanh(d), also = Reshape(d) (a graph
// output that aliases an intermediate), z = Reshape(-a) * y.
std::string chain_model() {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{2}, int64_t{3}, int64_t{40}, int64_t{40}});
  testing::add_int64_initializer(g, "flat", {2}, {2, 4800});
  testing::add_int64_initializer(g, "back", {4}, {2, 3, 40, 40});
  add_node(g, "Relu", {"x"}, {"a"});
  add_node(g, "Reshape", {"a", "flat"}, {"b"});
  add_node(g, "Sigmoid", {"b"}, {"c"});
  add_node(g, "Add", {"c", "b"}, {"d"});
  add_node(g, "Tanh", {"d"}, {"y"});
  add_node(g, "Reshape", {"d", "back"}, {"also"});
  add_node(g, "Neg", {"a"}, {"n"});
  add_node(g, "Reshape", {"n", "flat"}, {"nf"});
  add_node(g, "Mul", {"nf", "y"}, {"z"});
  add_output(g, "y", 1);
  add_output(g, "also", 1);
  add_output(g, "z", 1);
  return serialize(model);
}

std::vector<std::vector<float>> outputs_of(const Session& session, const Tensor& x) {
  std::vector<std::vector<float>> out;
  for (const RuntimeValue& v : session.run({{"x", x}})) out.push_back(values_of(v.tensor()));
  return out;
}

TEST(MemoryPlanTest, PlannedRunsMatchUnplannedOnes) {
  const std::string bytes = chain_model();
  const Session planned = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  const Tensor x = filled({2, 3, 40, 40}, 0.37f, -0.1f);
  const auto want = outputs_of(plain, x);
  EXPECT_EQ(plain.memory_plan(), nullptr);
  EXPECT_EQ(planned.memory_plan(), nullptr) << "nothing recorded before the first run";
  for (int run = 0; run < 3; ++run) {
    EXPECT_EQ(outputs_of(planned, x), want) << "run " << run;
    const std::shared_ptr<const MemoryPlan> plan = planned.memory_plan();
    ASSERT_NE(plan, nullptr);
    EXPECT_TRUE(plan->usable);
    EXPECT_GT(plan->arena_bytes, 0u);
  }
}

// Records where every node's outputs lie; keeps nothing past the call, so runs observed by it are planned.
class WhereOutputsLie final : public NodeObserver {
 public:
  void before_node(size_t, const Node&, const std::string&, const std::vector<const RuntimeValue*>&) override {}
  void after_node(size_t index, const Node&, const std::string&,
                  const std::vector<const RuntimeValue*>& outputs) override {
    if (addresses.size() <= index) addresses.resize(index + 1);
    addresses[index].clear();
    for (const RuntimeValue* v : outputs)
      addresses[index].push_back(v != nullptr && v->is_tensor() ? static_cast<const uint8_t*>(v->tensor().raw_data())
                                                                : nullptr);
  }
  bool keeps_values() const override { return false; }
  std::vector<std::vector<const uint8_t*>> addresses;  // [step][output]
};

// y = x W W W W: three intermediates, each made by a MatMul (never in place), the first dead once the second is made.
TEST(MemoryPlanTest, IntermediatesLieAtTheirPlannedOffsets) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{64}, int64_t{64}});
  std::vector<float> w(64 * 64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(static_cast<int>(i % 13) - 6);
  testing::add_float_initializer(g, "W", {64, 64}, w);
  add_node(g, "MatMul", {"x", "W"}, {"a"});
  add_node(g, "MatMul", {"a", "W"}, {"b"});
  add_node(g, "MatMul", {"b", "W"}, {"c"});
  add_node(g, "MatMul", {"c", "W"}, {"y"});
  add_output(g, "y", 1);
  const std::string bytes = serialize(model);
  const Session session = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  const Tensor x = filled({64, 64}, 0.37f, -0.1f);
  WhereOutputsLie observer;
  RunControl control;
  control.observer = &observer;
  session.run({{"x", x}}, {}, control);                                        // recorded
  const std::vector<RuntimeValue> out = session.run({{"x", x}}, {}, control);  // planned
  EXPECT_EQ(values_of(out[0].tensor()), values_of(plain.run({{"x", x}})[0].tensor()));
  const std::shared_ptr<const MemoryPlan> plan = session.memory_plan();
  ASSERT_NE(plan, nullptr);
  ASSERT_TRUE(plan->usable);
  ASSERT_EQ(plan->created.size(), 4u);
  ASSERT_EQ(observer.addresses.size(), 4u);
  for (size_t step = 0; step < 3; ++step) ASSERT_GE(plan->created[step][0].region, 0) << "step " << step;
  EXPECT_LT(plan->created[3][0].region, 0) << "the graph output keeps memory of its own";
  const auto offset = [&](size_t step) {
    return plan->regions[static_cast<size_t>(plan->created[step][0].region)].offset;
  };
  const uint8_t* base = observer.addresses[0][0] - offset(0);
  for (size_t step = 0; step < 3; ++step) EXPECT_EQ(observer.addresses[step][0], base + offset(step)) << step;
  EXPECT_EQ(offset(0), offset(2)) << "a is dead once b is made, so c takes its memory";
  EXPECT_NE(offset(0), offset(1));
  EXPECT_EQ(plan->arena_bytes, 2u * 64 * 64 * sizeof(float));
}

TEST(MemoryPlanTest, OutputsOfOneRunSurviveTheNext) {
  const std::string bytes = chain_model();
  const Session session = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  const Tensor x1 = filled({2, 3, 40, 40}, 0.37f, -0.1f), x2 = filled({2, 3, 40, 40}, 0.13f, 0.3f);
  session.run({{"x", x1}});  // recorded
  const std::vector<RuntimeValue> first = session.run({{"x", x1}});
  const std::vector<RuntimeValue> second = session.run({{"x", x2}});
  const auto want1 = outputs_of(plain, x1), want2 = outputs_of(plain, x2);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(values_of(first[i].tensor()), want1[i]) << "output " << i << " of the first planned run";
    EXPECT_EQ(values_of(second[i].tensor()), want2[i]) << "output " << i << " of the second";
  }
}

// y = Relu(x) + Exp(Relu(x)), x of symbolic shape [n, m].
std::string relu_exp_model() {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("n"), std::string("m")});
  add_node(g, "Relu", {"x"}, {"a"});
  add_node(g, "Exp", {"a"}, {"b"});
  add_node(g, "Add", {"a", "b"}, {"y"});
  add_output(g, "y", 1);
  return serialize(model);
}

TEST(MemoryPlanTest, NewFeedShapesRecordANewPlan) {
  const std::string bytes = relu_exp_model();
  const Session session = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{64, 300}, {8, 9}, {64, 300}, {64, 300}, {8, 9}}) {
    const Tensor x = filled(shape, 0.05f, -0.5f);
    EXPECT_EQ(values_of(session.run({{"x", x}})[0].tensor()), values_of(plain.run({{"x", x}})[0].tensor()));
    ASSERT_NE(session.memory_plan(), nullptr);
    EXPECT_EQ(session.memory_plan()->feed_shapes, std::vector<std::vector<int64_t>>{shape});
  }
}

// A server's few batch sizes: the plans of the last ExecutionPlan::kMemoryPlans feed shapes are kept, so runs
// alternating between them are planned, not recorded again.
TEST(MemoryPlanTest, PlansOfRecentShapesAreKept) {
  const std::string bytes = relu_exp_model();
  const Session session = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  std::map<int64_t, std::shared_ptr<const MemoryPlan>> plans;
  const auto run = [&](int64_t n) {
    const Tensor x = filled({n, 32}, 0.05f, -0.5f);
    EXPECT_EQ(values_of(session.run({{"x", x}})[0].tensor()), values_of(plain.run({{"x", x}})[0].tensor()));
    return session.memory_plan();
  };
  for (int64_t n : {1, 2, 4, 8}) plans[n] = run(n);
  for (int round = 0; round < 2; ++round) {
    for (int64_t n : {8, 1, 4, 2}) EXPECT_EQ(run(n), plans[n]) << "batch " << n << " recorded again";
  }
  run(16);  // a fifth shape: the least recently used plan (batch 8) goes
  EXPECT_NE(run(8), plans[8]);
  EXPECT_EQ(run(2), plans[2]);
}

// y = Relu(Conv1x1(x) + Relu(z)): FusedConv writes over its residual in place, in the recorded run and the planned.
TEST(MemoryPlanTest, InPlaceResidualUnderThePlan) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{1}, int64_t{8}, int64_t{12}, int64_t{12}});
  add_input(g, "z", 1, {int64_t{1}, int64_t{4}, int64_t{12}, int64_t{12}});
  std::vector<float> w(32);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(static_cast<int>(i % 7) - 3);
  testing::add_float_initializer(g, "W", {4, 8, 1, 1}, w);
  add_node(g, "Relu", {"z"}, {"r"});
  add_node(g, "Conv", {"x", "W"}, {"c"});
  add_node(g, "Add", {"c", "r"}, {"s"});
  add_node(g, "Relu", {"s"}, {"y"});
  add_output(g, "y", 1);
  const std::string bytes = serialize(model);
  const Session session = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  for (int run = 0; run < 4; ++run) {
    const Tensor x = filled({1, 8, 12, 12}, 0.3f + 0.1f * static_cast<float>(run), 0.0f);
    const Tensor z = filled({1, 4, 12, 12}, 0.11f, -0.2f);
    EXPECT_EQ(values_of(session.run({{"x", x}, {"z", z}})[0].tensor()),
              values_of(plain.run({{"x", x}, {"z", z}})[0].tensor()))
        << "run " << run;
  }
}

TEST(MemoryPlanTest, ConcurrentPlannedRunsEachHaveTheirOwnArena) {
  const std::string bytes = chain_model();
  const Session session = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  std::vector<Tensor> xs;
  std::vector<std::vector<std::vector<float>>> want;
  for (int t = 0; t < 4; ++t) {
    xs.push_back(filled({2, 3, 40, 40}, 0.1f * static_cast<float>(t + 1), 0.05f * static_cast<float>(t)));
    want.push_back(outputs_of(plain, xs.back()));
  }
  session.run({{"x", xs[0]}});  // recorded
  std::vector<int> mismatches(xs.size(), 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < xs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int run = 0; run < 20; ++run)
        if (outputs_of(session, xs[t]) != want[t]) ++mismatches[t];
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t t = 0; t < xs.size(); ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// A sequence may hold tensors that share memory with other values: a run that makes one is not planned.
TEST(MemoryPlanTest, ARunWithASequenceIsNotPlanned) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{16}, int64_t{16}});
  testing::add_int64_initializer(g, "zero", {}, {0});
  add_node(g, "Relu", {"x"}, {"a"});
  add_node(g, "Exp", {"a"}, {"e"});
  add_node(g, "SequenceConstruct", {"a", "e"}, {"s"});
  add_node(g, "SequenceAt", {"s", "zero"}, {"b"});
  add_node(g, "Mul", {"b", "e"}, {"y"});
  add_output(g, "y", 1);
  const std::string bytes = serialize(model);
  const Session session = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain = Session::from_bytes(bytes, {.intra_op_threads = 1, .memory_pattern = false});
  for (int run = 0; run < 3; ++run) {
    const Tensor x = filled({16, 16}, 0.2f + 0.1f * static_cast<float>(run), -0.3f);
    EXPECT_EQ(values_of(session.run({{"x", x}})[0].tensor()), values_of(plain.run({{"x", x}})[0].tensor()));
    ASSERT_NE(session.memory_plan(), nullptr);
    EXPECT_FALSE(session.memory_plan()->usable);
  }
}

// The check a planned run makes after every step: outside the arena is fine, inside only in the expected region.
TEST(MemoryPlanTest, PlacedAsPlannedAcceptsOnlyTheExpectedRegion) {
  MemoryPlan plan;
  plan.usable = true;
  plan.arena_bytes = 1024;
  plan.regions = {{0, 512}, {512, 512}};
  plan.expected = {{0, -1}, {1}};
  auto block = std::make_shared<std::vector<uint8_t>>(2048);
  const uint8_t* base = block->data();
  const auto view = [&](size_t offset, int64_t floats) {
    return Tensor(DType::kFloat, {floats},
                  Storage::part_of(block->data() + offset, static_cast<size_t>(floats) * 4, block));
  };
  EXPECT_TRUE(plan.placed_as_planned(0, 0, view(0, 128), base)) << "its own region, whole";
  EXPECT_TRUE(plan.placed_as_planned(0, 0, view(256, 32), base)) << "a view inside its region";
  EXPECT_FALSE(plan.placed_as_planned(0, 0, view(448, 32), base)) << "crosses into region 1";
  EXPECT_FALSE(plan.placed_as_planned(0, 0, view(512, 16), base)) << "another region";
  EXPECT_FALSE(plan.placed_as_planned(0, 1, view(0, 16), base)) << "an output that must not lie in the arena";
  EXPECT_TRUE(plan.placed_as_planned(0, 1, view(1024, 16), base)) << "past the arena";
  EXPECT_TRUE(plan.placed_as_planned(1, 0, view(512, 128), base));
  EXPECT_TRUE(plan.lies_in_arena(view(1020, 4), base));
  EXPECT_FALSE(plan.lies_in_arena(view(1024, 4), base));
}

TEST(MemoryPlanTest, PartOfABlockCountsAsOwnedAndIsNotFreedAlone) {
  auto block = std::make_shared<std::vector<float>>(64, 1.0f);
  std::weak_ptr<std::vector<float>> watch = block;
  {
    const std::shared_ptr<Storage> part = Storage::part_of(block->data() + 16, 64, block);
    block.reset();
    EXPECT_TRUE(part->owned());
    EXPECT_FALSE(watch.expired()) << "the part keeps its block";
    EXPECT_EQ(static_cast<float*>(part->data())[0], 1.0f);
  }
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace tessera

// One session, 8 threads calling run at once on a small conv + matmul model, and on two convolutions joined by a
// Concat (written in place at batch 1, copied at other batches, so the Concat's remembered shapes change under
// the threads): every output must be bitwise what the same session computes for the same input one run at a time.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_int64_initializer;
using testing::add_node;
using testing::add_output;

std::vector<float> random_values(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(rng);
  return values;
}

// x: float[batch,3,16,16] -> Conv 3x3 (8 channels, pads 1) + bias -> Relu -> Reshape [batch, 2048] -> MatMul
// [2048,10] -> Add bias -> y: float[batch,10].
Session conv_matmul_session(int pool_threads) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("batch"), int64_t{3}, int64_t{16}, int64_t{16}});
  testing::add_float_initializer(g, "w", {8, 3, 3, 3}, random_values(8 * 3 * 3 * 3, 1));
  testing::add_float_initializer(g, "conv_bias", {8}, random_values(8, 2));
  testing::add_float_initializer(g, "b", {2048, 10}, random_values(2048 * 10, 3));
  testing::add_float_initializer(g, "fc_bias", {10}, random_values(10, 4));
  add_int64_initializer(g, "flat", {2}, {-1, 2048});
  auto* conv = add_node(g, "Conv", {"x", "w", "conv_bias"}, {"c"}, "conv");
  testing::add_ints_attribute(conv, "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"c"}, {"r"}, "relu");
  add_node(g, "Reshape", {"r", "flat"}, {"f"}, "flatten");
  add_node(g, "MatMul", {"f", "b"}, {"m"}, "matmul");
  add_node(g, "Add", {"m", "fc_bias"}, {"y"}, "bias");
  add_output(g, "y", 1);
  return Session::from_bytes(testing::serialize(model), {.intra_op_threads = pool_threads});
}

// x: float[batch,3,16,16] -> y = Concat(Relu(Conv 3x3 (8 channels, pads 1)), Conv 1x1 (8 channels), axis 1):
// float[batch,16,16,16]. At batch 1 both convolutions write into y in place (ExecutionPlan's Concat in place).
Session conv_concat_session(int pool_threads) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("batch"), int64_t{3}, int64_t{16}, int64_t{16}});
  testing::add_float_initializer(g, "w", {8, 3, 3, 3}, random_values(8 * 3 * 3 * 3, 5));
  testing::add_float_initializer(g, "w1", {8, 3, 1, 1}, random_values(8 * 3, 6));
  auto* conv = add_node(g, "Conv", {"x", "w"}, {"c"}, "conv");
  testing::add_ints_attribute(conv, "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"c"}, {"r"}, "relu");
  add_node(g, "Conv", {"x", "w1"}, {"p"}, "pointwise");
  testing::add_int_attribute(add_node(g, "Concat", {"r", "p"}, {"y"}, "concat"), "axis", 1);
  add_output(g, "y", 1);
  return Session::from_bytes(testing::serialize(model), {.intra_op_threads = pool_threads});
}

Tensor input_for(int thread, int run) {
  const int64_t batch = 1 + (thread + run) % 4;
  Tensor x(DType::kFloat, {batch, 3, 16, 16});
  const std::vector<float> values =
      random_values(static_cast<size_t>(x.element_count()), static_cast<uint32_t>(1000 * thread + run));
  std::memcpy(x.raw_data(), values.data(), x.byte_size());
  return x;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

// Runs `make_session(pool_threads)` from kThreads threads at once against its one-run-at-a-time outputs.
template <typename MakeSession>
void expect_concurrent_runs_match(MakeSession make_session) {
  constexpr int kThreads = 8, kRuns = 40;
  for (int pool_threads : {1, 2}) {
    SCOPED_TRACE("intra-op threads " + std::to_string(pool_threads));
    const Session session = make_session(pool_threads);
    std::vector<std::vector<Tensor>> expected(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      for (int r = 0; r < kRuns; ++r) expected[t].push_back(session.run({{"x", input_for(t, r)}})[0].tensor());
    }
    std::atomic<int> compared{0}, mismatches{0}, errors{0};
    std::atomic<bool> start{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!start.load()) std::this_thread::yield();  // all threads begin together
        for (int r = 0; r < kRuns; ++r) {
          try {
            const Tensor y = session.run({{"x", input_for(t, r)}})[0].tensor();
            if (!same_bits(y, expected[t][r])) ++mismatches;
            ++compared;
          } catch (...) {
            ++errors;
          }
        }
      });
    }
    start = true;
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_EQ(compared.load(), kThreads * kRuns);
  }
}

TEST(SessionConcurrencyTest, EightThreadsMatchTheSequentialReferenceBitwise) {
  expect_concurrent_runs_match(conv_matmul_session);
}

TEST(SessionConcurrencyTest, ConcatInPlaceUnderEightThreadsMatchesTheSequentialReference) {
  expect_concurrent_runs_match(conv_concat_session);
}

}  // namespace
}  // namespace tessera

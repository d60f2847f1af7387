// SessionOptions::denormals_as_zero: with it, a product that would be a denormal float is 0 and a denormal input
// reads as 0 on every thread that runs the model (the caller and the pool's workers); without it both stay
// denormal. The caller's own setting is restored after the run.
#include <gtest/gtest.h>
#include <xmmintrin.h>

#include <cmath>
#include <limits>

#include "ir/graph_builder.h"
#include "runtime/session.h"

namespace tessera {
namespace {

constexpr int64_t kCount = 1 << 20;  // large enough that the elementwise kernels split it over the pool

// y = x * 1e-30 (denormal for x = 1e-10) and z = d + 0 (d denormal).
Model denormal_model() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {kCount})
      .input("d", DType::kFloat, {kCount})
      .initializer("tiny", Tensor::scalar<float>(DType::kFloat, 1e-30f))
      .initializer("zero", Tensor::scalar<float>(DType::kFloat, 0.0f))
      .node("Mul", {"x", "tiny"}, {"y"})
      .node("Add", {"d", "zero"}, {"z"})
      .output("y")
      .output("z")
      .build();
}

std::vector<RuntimeValue> run(bool flush, int threads) {
  SessionOptions options;
  options.denormals_as_zero = flush;
  options.intra_op_threads = threads;
  options.optimization_level = OptimizationLevel::kDisabled;  // keep the nodes as written
  Session session(denormal_model(), options);
  Tensor x(DType::kFloat, {kCount}), d(DType::kFloat, {kCount});
  for (int64_t i = 0; i < kCount; ++i) {
    x.data<float>()[i] = 1e-10f;
    d.data<float>()[i] = std::numeric_limits<float>::denorm_min() * 1000;
  }
  return session.run({{"x", x}, {"d", d}});
}

int64_t zeros(const Tensor& t) {
  int64_t n = 0;
  for (int64_t i = 0; i < t.element_count(); ++i) n += t.data<float>()[i] == 0.0f ? 1 : 0;
  return n;
}

TEST(DenormalsTest, FlushedOnEveryThreadOnlyWhenAsked) {
  for (int threads : {1, 2}) {
    const unsigned before = _mm_getcsr();
    const auto flushed = run(true, threads);
    EXPECT_EQ(_mm_getcsr(), before) << "the caller's MXCSR is restored";
    EXPECT_EQ(zeros(flushed[0].tensor()), kCount) << threads << " threads";
    EXPECT_EQ(zeros(flushed[1].tensor()), kCount) << threads << " threads";
    const auto kept = run(false, threads);
    EXPECT_EQ(zeros(kept[0].tensor()), 0) << threads << " threads";
    EXPECT_EQ(zeros(kept[1].tensor()), 0) << threads << " threads";
    EXPECT_TRUE(std::fpclassify(kept[0].tensor().data<float>()[kCount - 1]) == FP_SUBNORMAL);
  }
}

}  // namespace
}  // namespace tessera

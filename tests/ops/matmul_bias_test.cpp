// com.tessera MatMulBias (the bias and GELU in the f32 GEMM's epilogue) against the unfused MatMul + Add / BiasGelu /
// FastGelu, bit for bit, for every f32-gemm micro-kernel and every f32-vunary variant this CPU runs, on one and two
// threads: shapes with partial tiles, several depth, row and column blocks, and a batched B that is not shared.
// Also the GEMM epilogue's rows_activation hook on its own, and MatMulBias's errors.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "base/error.h"
#include "ir/graph_builder.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using pass_test::random_floats;

struct Case {
  std::vector<int64_t> a, b;
  bool constant_b;
};

// MatMul(x, w) then `op` with a bias row; `fused` writes it as one MatMulBias node instead.
Model linear(const Case& c, const std::string& op, bool fused) {
  GraphBuilder g(17);
  g.opset(kMicrosoftDomain, 1).opset(kTesseraDomain, 1);
  g.input("x", DType::kFloat, c.a);
  if (c.constant_b)
    g.initializer("w", random_floats(c.b, 1));
  else
    g.input("w", DType::kFloat, c.b);
  g.initializer("bias", random_floats({c.b.back()}, 2));
  if (fused) {
    g.node("MatMulBias", {"x", "w", "bias"}, {"y"}, kTesseraDomain);
    if (op != "Add") g.attr_string("activation", op == "BiasGelu" ? "Gelu" : "FastGelu");
  } else {
    g.node("MatMul", {"x", "w"}, {"h"});
    if (op == "Add")
      g.node("Add", {"h", "bias"}, {"y"});
    else
      g.node(op, {"h", "bias"}, {"y"}, kMicrosoftDomain);
  }
  return g.output("y").build();
}

Tensor run(const Case& c, const std::string& op, bool fused, int threads) {
  SessionOptions options;
  options.optimization_level = OptimizationLevel::kDisabled;
  options.intra_op_threads = threads;
  Session session(linear(c, op, fused), options);
  std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats(c.a, 3)}};
  if (!c.constant_b) feeds.emplace_back("w", random_floats(c.b, 1));
  return session.run(feeds)[0].tensor();
}

TEST(MatMulBiasTest, BitIdenticalToUnfusedOnEveryKernel) {
  const std::vector<Case> cases = {
      {{2, 9, 40}, {40, 70}, true}, {{1, 150, 600}, {600, 1100}, true}, {{2, 9, 40}, {2, 40, 70}, false}};
  for (const std::string& gemm : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(gemm));
    for (const std::string& vunary : vunary_f32_kernel_names()) {
      ASSERT_TRUE(vunary_f32_select_kernel(vunary));
      for (const Case& c : cases) {
        for (const char* op : {"Add", "BiasGelu", "FastGelu"}) {
          for (int threads : {1, 2}) {
            SCOPED_TRACE(gemm + " " + vunary + " " + op + " threads " + std::to_string(threads) + " N " +
                         std::to_string(c.b.back()));
            const Tensor want = run(c, op, false, threads);
            const Tensor got = run(c, op, true, threads);
            ASSERT_EQ(want.shape(), got.shape());
            ASSERT_EQ(std::memcmp(want.raw_data(), got.raw_data(), want.byte_size()), 0);
          }
        }
      }
    }
  }
  gemm_f32_select_kernel("");
  vunary_f32_select_kernel("");
}

// rows_activation sees every element of C exactly once, after the biases, on every kernel and thread count.
void add_thousand(float* c, int64_t rows, int64_t cols, int64_t ldc) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) c[i * ldc + j] += 1000.0f;
  }
}

TEST(MatMulBiasTest, GemmRowsActivationRunsOncePerElement) {
  ThreadPool pool(2);
  const int64_t m = 45, n = 1100, k = 600, ldc = n + 3;
  const auto a = random_floats({m, k}, 4), b = random_floats({k, n}, 5), bias = random_floats({n}, 6);
  for (const std::string& gemm : gemm_f32_kernel_names()) {
    ASSERT_TRUE(gemm_f32_select_kernel(gemm));
    for (Parallelism* parallelism : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
      SCOPED_TRACE(gemm);
      const PackedGemmF32 packed = pack_gemm_b_f32(false, k, n, b.data<float>(), n);
      std::vector<float> plain(static_cast<size_t>(m * ldc)), hooked(plain.size());
      GemmEpilogueF32 epilogue;
      epilogue.column_bias = bias.data<float>();
      const GemmOperandF32 a_op{nullptr, a.data<float>(), k, false};
      gemm_f32_packed(m, n, k, 1.0f, a_op, GemmOperandF32{&packed}, 0.0f, plain.data(), ldc, parallelism, &epilogue);
      epilogue.rows_activation = add_thousand;
      gemm_f32_packed(m, n, k, 1.0f, a_op, GemmOperandF32{&packed}, 0.0f, hooked.data(), ldc, parallelism, &epilogue);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          const size_t at = static_cast<size_t>(i * ldc + j);
          ASSERT_EQ(hooked[at], plain[at] + 1000.0f) << i << "," << j;
        }
      }
    }
  }
  gemm_f32_select_kernel("");
}

TEST(MatMulBiasTest, RejectsBadBiasAndActivation) {
  const Case c{{2, 3, 4}, {4, 5}, true};
  Model wrong_bias = GraphBuilder(17)
                         .opset(kTesseraDomain, 1)
                         .input("x", DType::kFloat, {2, 3, 4})
                         .initializer("w", random_floats({4, 5}, 1))
                         .initializer("bias", random_floats({4}, 2))
                         .node("MatMulBias", {"x", "w", "bias"}, {"y"}, kTesseraDomain)
                         .output("y")
                         .build();
  SessionOptions options;
  options.optimization_level = OptimizationLevel::kDisabled;
  options.intra_op_threads = 1;
  Session session(std::move(wrong_bias), options);
  EXPECT_THROW(session.run({{"x", random_floats(c.a, 3)}}), Error);
  Model model = linear(c, "Add", true);
  model.graph->nodes[0]->set_attr_string("activation", "Swish");
  EXPECT_THROW(Session(std::move(model), options), Error);
}

}  // namespace
}  // namespace tessera

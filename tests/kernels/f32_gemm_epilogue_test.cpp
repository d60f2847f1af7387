// The f32 GEMM's output stage for every micro-kernel this CPU runs: the sum (residual) input, and C stored
// transposed (GemmEpilogueF32::store_transposed). A transposed C must be exactly the transpose of the plain one
// (the same arithmetic in the same order) and the plain one must match a double-precision reference, over odd
// shapes, several depth blocks, alpha and beta, row and column biases, the clamp and a rows_activation, on one
// thread and on a pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "gemm_test_util.h"
#include "kernels/f32-gemm/gemm.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using gemm_test::square_rows;
using pass_test::random_floats;

struct Case {
  int64_t m, n, k;
  float alpha, beta;
  bool trans_a, packed_b, activation;
};

// Runs the case with C plain (ldc = n + 3) or transposed (ldc = m + 2) and returns C as plain m x n.
std::vector<float> run(const Case& c, const Tensor& a, const Tensor& b, const Tensor& bias_m, const Tensor& bias_n,
                       const std::vector<float>& sum_plain, const std::vector<float>& c0_plain, bool transposed,
                       Parallelism* parallelism) {
  const int64_t ldc = transposed ? c.m + 2 : c.n + 3;
  // C's starting values and the sum, laid out as this run stores C.
  std::vector<float> out(static_cast<size_t>((transposed ? c.n : c.m) * ldc), -7.0f);
  std::vector<float> sum(out.size(), 0.0f);
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      const size_t at = static_cast<size_t>(transposed ? j * ldc + i : i * ldc + j);
      out[at] = c0_plain[static_cast<size_t>(i * c.n + j)];
      sum[at] = sum_plain[static_cast<size_t>(i * c.n + j)];
    }
  }
  GemmEpilogueF32 epilogue;
  epilogue.row_bias = bias_m.data<float>();
  epilogue.column_bias = bias_n.data<float>();
  epilogue.sum = sum.data();
  epilogue.sum_ld = ldc;
  epilogue.min = -1.5f;
  epilogue.max = 2.0f;
  epilogue.rows_activation = c.activation ? square_rows : nullptr;
  epilogue.store_transposed = transposed;
  const PackedGemmF32 packed = pack_gemm_b_f32(false, c.k, c.n, b.data<float>(), c.n);
  const GemmOperandF32 left{nullptr, a.data<float>(), c.trans_a ? c.m : c.k, c.trans_a};
  const GemmOperandF32 right =
      c.packed_b ? GemmOperandF32{&packed} : GemmOperandF32{nullptr, b.data<float>(), c.n, false};
  gemm_f32_packed(c.m, c.n, c.k, c.alpha, left, right, c.beta, out.data(), ldc, parallelism, &epilogue);
  std::vector<float> plain(static_cast<size_t>(c.m * c.n));
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j)
      plain[static_cast<size_t>(i * c.n + j)] = out[static_cast<size_t>(transposed ? j * ldc + i : i * ldc + j)];
  }
  return plain;
}

TEST(F32GemmEpilogueTest, SumAndTransposedStoreMatchTheReference) {
  ThreadPool two(2);
  const std::vector<Case> cases = {
      {1, 1, 1, 1.0f, 0.0f, false, true, false},
      {13, 37, 5, 0.5f, 0.0f, true, true, false},
      {29, 70, 900, 1.0f, 1.0f, true, true, false},
      {50, 33, 384, 1.0f, 0.0f, false, false, true},
      {196, 64, 40, 1.0f, 0.0f, true, true, true},
      {45, 96, 130, 2.0f, 0.25f, true, false, false},
      // Several depth blocks with beta 0: the transposed C's earlier sums are kept plain and stored once.
      {29, 70, 900, 1.0f, 0.0f, true, true, true},
      {37, 45, 1000, 0.5f, 0.0f, false, false, false},
  };
  for (const Case& c : cases) {
    const Tensor a = random_floats({c.m, c.k}, 1, 0.5f), b = random_floats({c.k, c.n}, 2, 0.5f);
    const Tensor bias_m = random_floats({c.m}, 3), bias_n = random_floats({c.n}, 4);
    const Tensor sum_t = random_floats({c.m, c.n}, 5), c0_t = random_floats({c.m, c.n}, 6);
    const std::vector<float> sum(sum_t.data<float>(), sum_t.data<float>() + c.m * c.n);
    const std::vector<float> c0(c0_t.data<float>(), c0_t.data<float>() + c.m * c.n);
    // The reference in double. A is stored k x m when trans_a (the same random values read the other way).
    std::vector<double> want(static_cast<size_t>(c.m * c.n));
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < c.k; ++p) {
          const float av = c.trans_a ? a.data<float>()[p * c.m + i] : a.data<float>()[i * c.k + p];
          acc += static_cast<double>(av) * b.data<float>()[p * c.n + j];
        }
        const size_t at = static_cast<size_t>(i * c.n + j);
        double r = c.alpha * acc + c.beta * c0[at] + bias_m.data<float>()[i] + bias_n.data<float>()[j] + sum[at];
        r = std::clamp(r, -1.5, 2.0);
        want[at] = c.activation ? r * r : r;
      }
    }
    for (const std::string& name : gemm_f32_kernel_names()) {
      ASSERT_TRUE(gemm_f32_select_kernel(name));
      for (Parallelism* pool : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&two)}) {
        SCOPED_TRACE(name + " " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k) +
                     (pool ? " two threads" : " one thread"));
        const std::vector<float> plain = run(c, a, b, bias_m, bias_n, sum, c0, false, pool);
        const std::vector<float> transposed = run(c, a, b, bias_m, bias_n, sum, c0, true, pool);
        for (size_t i = 0; i < plain.size(); ++i) {
          ASSERT_NEAR(plain[i], want[i], 1e-4 * (1.0 + std::abs(want[i]))) << "element " << i;
          // beta 0 or 1 makes the FMA with C exact either way: then the bits must agree.
          if (c.beta == 0.0f || c.beta == 1.0f) ASSERT_EQ(transposed[i], plain[i]) << "element " << i;
          else ASSERT_NEAR(transposed[i], plain[i], 1e-5 * (1.0 + std::abs(plain[i]))) << "element " << i;
        }
      }
    }
  }
  gemm_f32_select_kernel("");
}

}  // namespace
}  // namespace tessera

// com.microsoft CDist: float32 (either side constant and packed at creation, or both per run, with more rows on
// either side, one and two threads) and double against a direct loop; the euclidean metric; clear errors for
// mismatched shapes, types and an unknown metric.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr const char* kMs = "com.microsoft";

std::vector<double> direct(const Tensor& a, const Tensor& b, bool euclidean) {
  const std::vector<double> av = values_of(a), bv = values_of(b);
  const int64_t n = a.dim(0), m = b.dim(0), k = a.dim(1);
  std::vector<double> out;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += (av[i * k + p] - bv[j * k + p]) * (av[i * k + p] - bv[j * k + p]);
      out.push_back(euclidean ? std::sqrt(sum) : sum);
    }
  }
  return out;
}

Tensor to_double(const Tensor& t) {
  Tensor d(DType::kDouble, t.shape());
  for (int64_t i = 0; i < t.element_count(); ++i) d.data<double>()[i] = t.data<float>()[i];
  return d;
}

TEST(CDistTest, FloatMatchesDirectLoopWithEitherSideConstant) {
  ThreadPool pool(2);
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{1, 300}, {300, 1}, {37, 53}, {5, 5}, {70, 200}};
  for (const auto& [n, m] : sizes) {
    const Tensor a = random_float({n, 13}, 1), b = random_float({m, 13}, 2);
    const std::vector<double> expected = direct(a, b, false);
    for (const std::vector<bool>& constant :
         std::vector<std::vector<bool>>{{false, false}, {false, true}, {true, false}, {true, true}}) {
      for (Parallelism* threads : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
        const std::vector<Tensor> y = run_op("CDist", 1, {}, {a, b}, 1, threads, kMs, constant);
        expect_close(y[0], expected, {n, m}, 1e-5, 1e-5);
      }
    }
  }
}

TEST(CDistTest, EuclideanAndDouble) {
  const Tensor a = random_float({9, 4}, 3), b = random_float({20, 4}, 4);
  expect_close(run_op("CDist", 1, {string_attr("metric", "euclidean")}, {a, b}, 1, nullptr, kMs)[0], direct(a, b, true),
               {9, 20}, 1e-5, 1e-5);
  const std::vector<Tensor> d =
      run_op("CDist", 1, {string_attr("metric", "euclidean")}, {to_double(a), to_double(b)}, 1, nullptr, kMs);
  ASSERT_EQ(d[0].dtype(), DType::kDouble);
  expect_close(d[0], direct(a, b, true), {9, 20}, 1e-12, 1e-12);
}

TEST(CDistTest, BadInputsAreClearErrors) {
  const Tensor a = random_float({3, 4}, 5), b = random_float({2, 5}, 6);
  try {
    run_op("CDist", 1, {}, {a, b}, 1, nullptr, kMs);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[3,4]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2,5]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(error_code_of([&] {
              run_op("CDist", 1, {}, {a, to_double(random_float({2, 4}, 7))}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("CDist", 1, {string_attr("metric", "cosine")}, {a, random_float({2, 4}, 7)}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidModel);
}

}  // namespace
}  // namespace tessera

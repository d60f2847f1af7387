// com.microsoft EmbedLayerNormalization against a naive reference: embeddings summed, LayerNorm, mask_index counts.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

Tensor ids_of(const std::vector<int32_t>& v, std::vector<int64_t> shape) {
  Tensor t(DType::kInt32, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.data<int32_t>()[i] = v[i];
  return t;
}

TEST(EmbedLayerNormTest, SegmentsPositionIdsMaskIndexAndSum) {
  const int64_t hidden = 6;
  const Tensor ids = ids_of({1, 4, 2, 0, 3, 3}, {2, 3}), segments = ids_of({0, 1, 1, 0, 0, 1}, {2, 3});
  const Tensor positions = ids_of({2, 0, 1}, {1, 3}), mask = ids_of({1, 1, 0, 1, 0, 0}, {2, 3});
  const Tensor words = random_float({5, hidden}, 1), pos_table = random_float({4, hidden}, 2);
  const Tensor seg_table = random_float({2, hidden}, 3), gamma = random_float({hidden}, 4),
               beta = random_float({hidden}, 5);
  const std::vector<Tensor> r =
      run_op("EmbedLayerNormalization", 1, {float_attr("epsilon", 1e-5f)},
             {ids, segments, words, pos_table, seg_table, gamma, beta, mask, positions}, 3, nullptr, "com.microsoft");
  const std::vector<double> w = values_of(words), p = values_of(pos_table), s = values_of(seg_table);
  const std::vector<double> g = values_of(gamma), b = values_of(beta);
  std::vector<double> y, sum;
  for (int64_t r0 = 0; r0 < 6; ++r0) {
    std::vector<double> e(hidden);
    double mean = 0, var = 0;
    for (int64_t i = 0; i < hidden; ++i) {
      e[i] = w[ids.data<int32_t>()[r0] * hidden + i] + p[positions.data<int32_t>()[r0 % 3] * hidden + i] +
             s[segments.data<int32_t>()[r0] * hidden + i];
      mean += e[i] / hidden;
      sum.push_back(e[i]);
    }
    for (double v : e) var += (v - mean) * (v - mean) / hidden;
    for (int64_t i = 0; i < hidden; ++i) y.push_back((e[i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i]);
  }
  expect_close(r[0], y, {2, 3, hidden});
  expect_close(r[1], {2, 1}, {2});
  expect_close(r[2], sum, {2, 3, hidden});
}

TEST(EmbedLayerNormTest, OutOfRangeIdAndBadShapesAreClearErrors) {
  const Tensor words = random_float({5, 4}, 6), pos = random_float({3, 4}, 7), gamma = random_float({4}, 8);
  EXPECT_EQ(error_code_of([&] {
              run_op("EmbedLayerNormalization", 1, {}, {ids_of({1, 5}, {1, 2}), Tensor(), words, pos, Tensor(), gamma},
                     1, nullptr, "com.microsoft");
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("EmbedLayerNormalization", 1, {},
                     {ids_of({1, 2}, {1, 2}), Tensor(), words, pos, Tensor(), random_float({3}, 9)}, 1, nullptr,
                     "com.microsoft");
            }),
            ErrorCode::kInvalidArgument);
  // three positions in the table, four tokens
  EXPECT_EQ(error_code_of([&] {
              run_op("EmbedLayerNormalization", 1, {},
                     {ids_of({1, 2, 3, 4}, {1, 4}), Tensor(), words, pos, Tensor(), gamma}, 1, nullptr,
                     "com.microsoft");
            }),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera

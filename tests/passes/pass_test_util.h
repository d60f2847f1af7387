// Helpers for pass tests: random float and int8 tensors, float vectors, and a check that a model gives the same outputs
// with optimizations disabled and at a given level.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "runtime/session.h"

namespace tessera::pass_test {

inline Tensor random_floats(const std::vector<int64_t>& shape, unsigned seed, float scale = 2.0f) {
  Tensor t(DType::kFloat, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-scale, scale);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = uniform(rng);
  return t;
}

// int8 values uniform in [-127, 127] from `seed`.
inline Tensor random_int8(const std::vector<int64_t>& shape, unsigned seed) {
  Tensor t(DType::kInt8, shape);
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<int8_t>()[i] = static_cast<int8_t>(int(rng() % 255) - 127);
  return t;
}

// A float32 vector [n] of `values`.
inline Tensor floats(const std::vector<float>& values) {
  Tensor t(DType::kFloat, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = values[i];
  return t;
}

// How many nodes of `graph` (not of its subgraphs) have op type `op_type`, in any domain.
inline int count_ops(const Graph& graph, const std::string& op_type) {
  int n = 0;
  for (const auto& node : graph.nodes) n += node->op_type == op_type;
  return n;
}

// Runs `make_model()` at kDisabled and at `level` on `feeds` and expects every output equal within
// `tolerance` (absolute + relative).
inline void expect_same_outputs(const std::function<Model()>& make_model,
                                const std::vector<std::pair<std::string, RuntimeValue>>& feeds, OptimizationLevel level,
                                double tolerance) {
  SessionOptions off;
  off.optimization_level = OptimizationLevel::kDisabled;
  SessionOptions on;
  on.optimization_level = level;
  Session plain(make_model(), off);
  Session optimized(make_model(), on);
  const auto a = plain.run(feeds);
  const auto b = optimized.run(feeds);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    const Tensor& x = a[k].tensor();
    const Tensor& y = b[k].tensor();
    ASSERT_EQ(x.shape(), y.shape());
    ASSERT_EQ(x.dtype(), y.dtype()) << "output " << k;
    if (x.dtype() != DType::kFloat) {
      // Other types exactly, byte for byte.
      ASSERT_EQ(std::memcmp(x.raw_data(), y.raw_data(), x.byte_size()), 0) << "output " << k;
      continue;
    }
    for (int64_t i = 0; i < x.element_count(); ++i) {
      const double e = x.data<float>()[i];
      ASSERT_NEAR(y.data<float>()[i], e, tolerance * (1.0 + std::fabs(e))) << "output " << k << " element " << i;
    }
  }
}

}  // namespace tessera::pass_test

// The Attention kernel's mask-only path (the mask row added in place, vectorized row loops; taken when there is no
// causal, window or nonpad_kv_seqlen masking and the mask covers every key) against the general path, which builds
// a bias row per query. nonpad_kv_seqlen equal to the key count masks nothing but selects the general path, so the
// two runs must agree to the bit. Shapes are BERT-like (packed heads of 64, padded keys, fully masked rows), plus
// 4-D inputs, boolean masks, float16 and two threads; one case is also checked against a double reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ops/nn_test_util.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr float kLowest = -std::numeric_limits<float>::max();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Inputs {
  Tensor q, k, v, mask;
};

// Packed (3-D) or 4-D Q, K, V of `heads` heads of `size`, and `mask` as given.
Inputs make_inputs(bool packed, int64_t batch, int64_t seq, int64_t heads, int64_t size, Tensor mask, uint32_t seed) {
  const std::vector<int64_t> shape =
      packed ? std::vector<int64_t>{batch, seq, heads * size} : std::vector<int64_t>{batch, heads, seq, size};
  return {random_float(shape, seed), random_float(shape, seed + 1), random_float(shape, seed + 2), std::move(mask)};
}

std::vector<Attribute> attrs_for(bool packed, int64_t heads) {
  if (!packed) return {float_attr("scale", 0.125f)};
  return {int_attr("q_num_heads", heads), int_attr("kv_num_heads", heads), float_attr("scale", 0.125f)};
}

// Attention-24 on the inputs: the mask-only path, or (`general`) the general one through nonpad_kv_seqlen = seq.
Tensor run(const Inputs& in, bool packed, int64_t heads, bool general, Parallelism* parallelism = nullptr) {
  std::vector<Tensor> inputs = {in.q, in.k, in.v, in.mask};
  if (general) {
    const int64_t batch = in.q.dim(0), seq = packed ? in.k.dim(1) : in.k.dim(2);
    Tensor nonpad(DType::kInt64, {batch});
    for (int64_t b = 0; b < batch; ++b) nonpad.data<int64_t>()[b] = seq;
    inputs.push_back(Tensor());
    inputs.push_back(Tensor());
    inputs.push_back(nonpad);
  }
  return run_op("Attention", 24, attrs_for(packed, heads), inputs, 1, parallelism)[0];
}

void expect_same_bits(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(shape_to_string(a.shape()), shape_to_string(b.shape()));
  ASSERT_EQ(a.dtype(), b.dtype());
  const size_t bytes = static_cast<size_t>(a.element_count()) * dtype_size(a.dtype());
  EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), bytes), 0);
}

// A float key-padding mask [batch, 1, 1, seq]: batch b keeps its first seq - 17 * b keys, the rest get `fill`.
Tensor padding_mask(int64_t batch, int64_t seq, float fill) {
  Tensor m(DType::kFloat, {batch, 1, 1, seq});
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t j = 0; j < seq; ++j) m.data<float>()[b * seq + j] = j < seq - 17 * b ? 0.0f : fill;
  }
  return m;
}

// Naive double-precision attention over packed inputs with an additive mask [batch, 1, 1, seq].
std::vector<double> naive_packed(const Inputs& in, int64_t heads, int64_t size) {
  const int64_t batch = in.q.dim(0), seq = in.q.dim(1), hidden = heads * size;
  const std::vector<double> q = values_of(in.q), k = values_of(in.k), v = values_of(in.v), m = values_of(in.mask);
  std::vector<double> y(static_cast<size_t>(batch * seq * hidden));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < seq; ++i) {
        std::vector<double> p(static_cast<size_t>(seq));
        double max = -kInf, total = 0;
        for (int64_t j = 0; j < seq; ++j) {
          double dot = 0;
          for (int64_t t = 0; t < size; ++t)
            dot += q[(b * seq + i) * hidden + h * size + t] * k[(b * seq + j) * hidden + h * size + t];
          p[j] = dot * 0.125 + m[b * seq + j];
          max = std::max(max, p[j]);
        }
        for (double& x : p) total += (x = std::exp(x - max));
        for (int64_t t = 0; t < size; ++t) {
          double sum = 0;
          for (int64_t j = 0; j < seq; ++j) sum += p[j] / total * v[(b * seq + j) * hidden + h * size + t];
          y[(b * seq + i) * hidden + h * size + t] = sum;
        }
      }
    }
  }
  return y;
}

TEST(AttentionFastPathTest, BertShapePaddedFloatMaskMatchesGeneralPathAndNaive) {
  const Inputs in = make_inputs(true, 2, 128, 12, 64, padding_mask(2, 128, kLowest), 11);
  const Tensor fast = run(in, true, 12, false);
  expect_same_bits(fast, run(in, true, 12, true));
  expect_close(fast, naive_packed(in, 12, 64), {2, 128, 768}, 1e-4, 1e-5);
}

TEST(AttentionFastPathTest, OddLengthsAndInfinitePaddingMatchGeneralPath) {
  // Lengths that are not multiples of the vector width; -inf padding.
  const Inputs in = make_inputs(true, 3, 37, 3, 24, padding_mask(3, 37, -kInf), 21);
  expect_same_bits(run(in, true, 3, false), run(in, true, 3, true));
}

TEST(AttentionFastPathTest, PerQueryMaskWithFullyMaskedRowsMatchesGeneralPath) {
  // A [batch, heads, seq, seq] float mask: random values, and some query rows -inf throughout (zero output rows).
  const int64_t batch = 2, heads = 4, seq = 45;
  Tensor mask = random_float({batch, heads, seq, seq}, 31, -2.0f, 2.0f);
  float* m = mask.data<float>();
  for (int64_t row = 0; row < batch * heads * seq; row += 7) {
    for (int64_t j = 0; j < seq; ++j) m[row * seq + j] = -kInf;
  }
  m[3 * seq + 5] = kInf;  // +inf in a float mask gives NaN, on both paths
  const Inputs in = make_inputs(false, batch, seq, heads, 16, mask, 41);
  const Tensor fast = run(in, false, heads, false);
  expect_same_bits(fast, run(in, false, heads, true));
  const float* y = fast.data<float>();
  for (int64_t t = 0; t < 16; ++t) EXPECT_EQ(y[t], 0.0f);  // row 0 of head 0 is fully masked
}

TEST(AttentionFastPathTest, BooleanPaddingMaskMatchesGeneralPath) {
  const int64_t batch = 2, heads = 6, seq = 70;
  Tensor mask(DType::kBool, {batch, 1, seq, seq});
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < seq; ++i) {
      for (int64_t j = 0; j < seq; ++j) mask.data<bool>()[(b * seq + i) * seq + j] = i != 9 && (j + b * 13) < seq;
    }
  }
  const Inputs in = make_inputs(true, batch, seq, heads, 32, mask, 51);
  expect_same_bits(run(in, true, heads, false), run(in, true, heads, true));
}

TEST(AttentionFastPathTest, Float16MatchesGeneralPath) {
  Inputs in = make_inputs(true, 2, 50, 4, 32, to_dtype(padding_mask(2, 50, -30000.0f), DType::kFloat16), 61);
  in.q = to_dtype(in.q, DType::kFloat16);
  in.k = to_dtype(in.k, DType::kFloat16);
  in.v = to_dtype(in.v, DType::kFloat16);
  expect_same_bits(run(in, true, 4, false), run(in, true, 4, true));
}

TEST(AttentionFastPathTest, TwoThreadsMatchOne) {
  const Inputs in = make_inputs(true, 1, 128, 12, 64, padding_mask(1, 128, kLowest), 71);
  ThreadPool pool(2);
  expect_same_bits(run(in, true, 12, false, &pool), run(in, true, 12, false));
}

}  // namespace
}  // namespace tessera

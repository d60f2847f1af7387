// com.microsoft Attention (ONNX Runtime's contrib op) against a naive reference written from ContribOperators.md:
// packed QKV projection, per-head scaled scores plus mask_filter_value where mask_index or causality masks a key,
// softmax, weighted V.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

constexpr const char* kMs = "com.microsoft";

struct Case {
  int64_t batch = 2, seq = 5, hidden = 8, heads = 2;
  bool unidirectional = false;
  float filter = -10000.0f;
};

// Naive output [B, S, hidden]; `attended(b, s, t)` says whether mask_index lets query s see key t.
template <typename Attended>
std::vector<double> naive_attention(const Case& c, const Tensor& x, const Tensor& w, const Tensor& bias,
                                    Attended attended) {
  const std::vector<double> xv = values_of(x), wv = values_of(w), bv = values_of(bias);
  const int64_t h3 = 3 * c.hidden, d = c.hidden / c.heads;
  std::vector<double> qkv(static_cast<size_t>(c.batch * c.seq * h3));
  for (int64_t r = 0; r < c.batch * c.seq; ++r) {
    for (int64_t j = 0; j < h3; ++j) {
      double sum = bv[j];
      for (int64_t i = 0; i < c.hidden; ++i) sum += xv[r * c.hidden + i] * wv[i * h3 + j];
      qkv[r * h3 + j] = sum;
    }
  }
  std::vector<double> y(static_cast<size_t>(c.batch * c.seq * c.hidden));
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < c.heads; ++h) {
      for (int64_t s = 0; s < c.seq; ++s) {
        std::vector<double> p(static_cast<size_t>(c.seq));
        double max = -1e300, total = 0;
        for (int64_t t = 0; t < c.seq; ++t) {
          double dot = 0;
          for (int64_t k = 0; k < d; ++k)
            dot += qkv[(b * c.seq + s) * h3 + h * d + k] * qkv[(b * c.seq + t) * h3 + c.hidden + h * d + k];
          p[t] = dot / std::sqrt(static_cast<double>(d));
          if (!attended(b, s, t)) p[t] += c.filter;
          if (c.unidirectional && t > s) p[t] += c.filter;
          max = std::max(max, p[t]);
        }
        for (double& v : p) total += (v = std::exp(v - max));
        for (int64_t k = 0; k < d; ++k) {
          double sum = 0;
          for (int64_t t = 0; t < c.seq; ++t)
            sum += p[t] / total * qkv[(b * c.seq + t) * h3 + 2 * c.hidden + h * d + k];
          y[(b * c.seq + s) * c.hidden + h * d + k] = sum;
        }
      }
    }
  }
  return y;
}

TEST(ContribAttentionTest, RawMaskUnidirectionalMatchesNaive) {
  Case c;
  c.unidirectional = true;
  c.filter = -5000.0f;
  const Tensor x = random_float({c.batch, c.seq, c.hidden}, 1),
               w = random_float({c.hidden, 3 * c.hidden}, 2, -0.5f, 0.5f);
  const Tensor bias = random_float({3 * c.hidden}, 3);
  Tensor mask(DType::kInt32, {c.batch, c.seq});
  for (int64_t i = 0; i < mask.element_count(); ++i) mask.data<int32_t>()[i] = (i % 3 == 2) ? 0 : 1;
  const std::vector<Tensor> r =
      run_op("Attention", 1,
             {int_attr("num_heads", c.heads), int_attr("unidirectional", 1), float_attr("mask_filter_value", c.filter)},
             {x, w, bias, mask}, 1, nullptr, kMs);
  const auto attended = [&](int64_t b, int64_t, int64_t t) { return mask.data<int32_t>()[b * c.seq + t] > 0; };
  expect_close(r[0], naive_attention(c, x, w, bias, attended), {c.batch, c.seq, c.hidden});
}

TEST(ContribAttentionTest, SequenceEndsAndPresent) {
  Case c;
  const Tensor x = random_float({c.batch, c.seq, c.hidden}, 4),
               w = random_float({c.hidden, 3 * c.hidden}, 5, -0.5f, 0.5f);
  const Tensor bias = random_float({3 * c.hidden}, 6);
  Tensor ends(DType::kInt32, {c.batch});
  ends.data<int32_t>()[0] = 5, ends.data<int32_t>()[1] = 2;
  const std::vector<Tensor> r =
      run_op("Attention", 1, {int_attr("num_heads", c.heads)}, {x, w, bias, ends}, 2, nullptr, kMs);
  const auto attended = [&](int64_t b, int64_t, int64_t t) { return t < ends.data<int32_t>()[b]; };
  expect_close(r[0], naive_attention(c, x, w, bias, attended), {c.batch, c.seq, c.hidden});
  ASSERT_EQ(shape_to_string(r[1].shape()), shape_to_string({2, c.batch, c.heads, c.seq, c.hidden / c.heads}));
}

TEST(ContribAttentionTest, ClearErrors) {
  const Tensor x = random_float({1, 3, 4}, 7), w = random_float({4, 12}, 8), bias = random_float({12}, 9);
  EXPECT_EQ(error_code_of([&] {
              run_op("Attention", 1, {}, {x, w, bias}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] {
              run_op("Attention", 1, {int_attr("num_heads", 2)}, {x, random_float({5, 12}, 10), bias}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  Tensor mask4(DType::kInt32, {1, 1, 3, 3});
  EXPECT_EQ(error_code_of([&] {
              run_op("Attention", 1, {int_attr("num_heads", 2)}, {x, w, bias, mask4}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("Attention", 1, {int_attr("num_heads", 2)},
                     {x, w, bias, Tensor(), Tensor(), Tensor(), Tensor(DType::kInt32, {})}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidModel);  // past_sequence_length
  EXPECT_EQ(error_code_of([&] {
              run_op("Attention", 1, {int_attr("num_heads", 2)},
                     {x, w, bias, Tensor(), random_float({2, 1, 2, 1, 3}, 11)}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);  // past with a head size of 3 where K's is 2
}

// MultiHeadAttention: its numbers are compared with ONNX Runtime by models.contrib-ops (mha_*); here the forms it
// refuses and bad shapes.
TEST(ContribAttentionTest, MultiHeadAttentionClearErrors) {
  const Tensor q = random_float({1, 3, 4}, 12), k = random_float({1, 5, 4}, 13), v = random_float({1, 5, 6}, 14);
  EXPECT_EQ(error_code_of([&] {
              run_op("MultiHeadAttention", 1, {int_attr("num_heads", 2)}, {q, Tensor(), Tensor()}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidModel);  // packed QKV
  EXPECT_EQ(error_code_of([&] {
              run_op("MultiHeadAttention", 1, {int_attr("num_heads", 2)}, {q, random_float({1, 5, 3}, 15), v}, 1,
                     nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);  // key size differs from the query's
  EXPECT_EQ(
      error_code_of([&] {
        run_op("MultiHeadAttention", 1, {int_attr("num_heads", 2)}, {q, k, v, random_float({7}, 16)}, 1, nullptr, kMs);
      }),
      ErrorCode::kInvalidArgument);  // bias is not [4 + 4 + 6]
  EXPECT_EQ(error_code_of([&] {
              run_op("MultiHeadAttention", 1, {int_attr("num_heads", 2)},
                     {q, k, v, Tensor(), Tensor(DType::kInt32, {1, 3})}, 1, nullptr, kMs);
            }),
            ErrorCode::kInvalidArgument);  // key_padding_mask [B, S] where [B, L] is needed
  const Tensor y = run_op("MultiHeadAttention", 1, {int_attr("num_heads", 2)}, {q, k, v}, 1, nullptr, kMs)[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{1, 3, 6}));
}

}  // namespace
}  // namespace tessera

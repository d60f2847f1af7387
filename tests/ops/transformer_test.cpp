// Tests of the transformer operators (src/ops/transformer): Attention against a naive double-precision reference on
// odd sizes (GQA, masks, causal with caches, softcap, qk outputs, packed 3-D inputs, several task partitions),
// RMSNormalization, RotaryEmbedding, TensorScatter, SwiGLU, CausalConvWithState and LinearAttention against naive
// loops or their own stepwise consistency, and the error cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "ops/nn_test_util.h"

namespace tessera {
namespace {

using nn_test::error_code_of;
using nn_test::expect_close;
using nn_test::float_attr;
using nn_test::int_attr;
using nn_test::random_float;
using nn_test::run_op;
using nn_test::string_attr;
using nn_test::to_dtype;
using nn_test::values_of;

// Runs parallel_for as `chunks` serial pieces, to exercise the task partition without threads.
class ChunkedParallelism final : public Parallelism {
 public:
  explicit ChunkedParallelism(int chunks) : chunks_(chunks) {}
  int thread_count() const override { return chunks_; }
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) override {
    for (int c = 0; c < chunks_; ++c) {
      const int64_t begin = count * c / chunks_, end = count * (c + 1) / chunks_;
      if (begin < end) fn(begin, end);
    }
  }

 private:
  int chunks_;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

// As expect_close, with infinities compared for equality (the masked scores of qk_matmul_output mode 2).
void expect_close_inf(const Tensor& actual, const std::vector<double>& expected, const std::vector<int64_t>& shape,
                      double rtol, double atol) {
  ASSERT_EQ(shape_to_string(actual.shape()), shape_to_string(shape));
  const std::vector<double> a = values_of(actual);
  ASSERT_EQ(a.size(), expected.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(expected[i]))
      ASSERT_EQ(a[i], expected[i]) << "at " << i;
    else
      ASSERT_NEAR(a[i], expected[i], atol + rtol * std::abs(expected[i])) << "at " << i;
  }
}

// ---------------------------------------------------------------------------------------------------- Attention

struct AttentionCase {
  int64_t batch = 2, q_heads = 3, kv_heads = 3, q_len = 5, kv_len = 7, past_len = 0, head = 6, v_head = 5;
  bool causal = false;
  float softcap = 0;
  std::optional<float> scale;
  std::vector<int64_t> mask_shape;  // empty: no mask
  bool bool_mask = false;
  std::vector<int64_t> nonpad;  // empty: none
  int64_t left_window = -1, right_window = -1;
};

struct AttentionData {
  Tensor q, k, v, mask, past_key, past_value, nonpad;
};

AttentionData make_attention_data(const AttentionCase& c, uint32_t seed) {
  AttentionData d;
  d.q = random_float({c.batch, c.q_heads, c.q_len, c.head}, seed);
  d.k = random_float({c.batch, c.kv_heads, c.kv_len, c.head}, seed + 1);
  d.v = random_float({c.batch, c.kv_heads, c.kv_len, c.v_head}, seed + 2);
  if (c.past_len > 0) {
    d.past_key = random_float({c.batch, c.kv_heads, c.past_len, c.head}, seed + 3);
    d.past_value = random_float({c.batch, c.kv_heads, c.past_len, c.v_head}, seed + 4);
  }
  if (!c.mask_shape.empty()) {
    Tensor m = random_float(c.mask_shape, seed + 5, -2.0f, 2.0f);
    if (c.bool_mask) {
      Tensor b(DType::kBool, c.mask_shape);
      for (int64_t i = 0; i < m.element_count(); ++i) b.data<bool>()[i] = m.data<float>()[i] > -1.0f;
      d.mask = b;
    } else {
      d.mask = m;
    }
  }
  if (!c.nonpad.empty()) d.nonpad = Tensor::from_vector(DType::kInt64, c.nonpad);
  return d;
}

// Y, and the 4 qk_matmul_output modes, from plain loops in double.
struct AttentionExpected {
  std::vector<double> y;
  std::vector<double> qk[4];
};

double mask_value(const AttentionCase& c, const std::vector<double>& mask, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (c.mask_shape.empty()) return 0;
  const int64_t len = c.mask_shape.back();
  if (j >= len) return -kInf;
  const int64_t index[3] = {b, h, i};
  const size_t lead = c.mask_shape.size() - 1;
  int64_t offset = 0;
  for (size_t a = 0; a < lead; ++a) {
    const size_t target_axis = 3 - lead + a;
    const int64_t size = c.mask_shape[a];
    offset = offset * size + (size == 1 ? 0 : index[target_axis]);
  }
  const double m = mask[static_cast<size_t>(offset * len + j)];
  if (c.bool_mask) return m != 0 ? 0 : -kInf;
  return m;
}

AttentionExpected naive_attention(const AttentionCase& c, const AttentionData& d) {
  const std::vector<double> q = values_of(d.q), k = values_of(d.k), v = values_of(d.v);
  const std::vector<double> pk = c.past_len ? values_of(d.past_key) : std::vector<double>();
  const std::vector<double> pv = c.past_len ? values_of(d.past_value) : std::vector<double>();
  const std::vector<double> mask = c.mask_shape.empty() ? std::vector<double>() : values_of(d.mask);
  const int64_t total = c.past_len + c.kv_len;
  const double scale = c.scale ? *c.scale : 1.0 / std::sqrt(static_cast<double>(c.head));
  auto key = [&](int64_t b, int64_t h, int64_t j, int64_t x) {
    return j < c.past_len ? pk[static_cast<size_t>(((b * c.kv_heads + h) * c.past_len + j) * c.head + x)]
                          : k[static_cast<size_t>(((b * c.kv_heads + h) * c.kv_len + j - c.past_len) * c.head + x)];
  };
  auto value = [&](int64_t b, int64_t h, int64_t j, int64_t x) {
    return j < c.past_len ? pv[static_cast<size_t>(((b * c.kv_heads + h) * c.past_len + j) * c.v_head + x)]
                          : v[static_cast<size_t>(((b * c.kv_heads + h) * c.kv_len + j - c.past_len) * c.v_head + x)];
  };
  AttentionExpected e;
  for (int64_t b = 0; b < c.batch; ++b) {
    const int64_t offset = c.nonpad.empty() ? c.past_len : c.nonpad[static_cast<size_t>(b)] - c.q_len;
    const int64_t valid = c.nonpad.empty() ? total : c.nonpad[static_cast<size_t>(b)];
    for (int64_t h = 0; h < c.q_heads; ++h) {
      const int64_t kvh = h / (c.q_heads / c.kv_heads);
      for (int64_t i = 0; i < c.q_len; ++i) {
        std::vector<double> s(static_cast<size_t>(total)), bias(static_cast<size_t>(total));
        bool all_masked = true;
        for (int64_t j = 0; j < total; ++j) {
          double dot = 0;
          for (int64_t x = 0; x < c.head; ++x) {
            dot += q[static_cast<size_t>(((b * c.q_heads + h) * c.q_len + i) * c.head + x)] * key(b, kvh, j, x);
          }
          s[j] = dot * scale;
          e.qk[0].push_back(s[j]);
          if (c.softcap > 0) s[j] = c.softcap * std::tanh(s[j] / c.softcap);
          e.qk[1].push_back(s[j]);
          const int64_t pos = offset + i;
          bool allowed = j < valid && (!c.causal || j <= pos);
          if (c.left_window >= 0 && pos - j > c.left_window) allowed = false;
          if (c.right_window >= 0 && j - pos > c.right_window) allowed = false;
          bias[j] = mask_value(c, mask, b, h, i, j) + (allowed ? 0 : -kInf);
          if (bias[j] != -kInf) all_masked = false;
          s[j] += bias[j];
          e.qk[2].push_back(s[j]);
        }
        double max = -kInf, sum = 0;
        for (double x : s) max = std::max(max, x);
        for (double& x : s) sum += (x = all_masked ? 0 : std::exp(x - max));
        for (double& x : s) {
          x = all_masked ? 0 : x / sum;
          e.qk[3].push_back(x);
        }
        for (int64_t x = 0; x < c.v_head; ++x) {
          double acc = 0;
          for (int64_t j = 0; j < total; ++j) acc += s[j] * value(b, kvh, j, x);
          e.y.push_back(acc);
        }
      }
    }
  }
  return e;
}

std::vector<Attribute> attention_attrs(const AttentionCase& c, int64_t qk_mode) {
  std::vector<Attribute> attrs;
  if (c.causal) attrs.push_back(int_attr("is_causal", 1));
  if (c.softcap > 0) attrs.push_back(float_attr("softcap", c.softcap));
  if (c.scale) attrs.push_back(float_attr("scale", *c.scale));
  if (qk_mode) attrs.push_back(int_attr("qk_matmul_output_mode", qk_mode));
  if (c.left_window >= 0) attrs.push_back(int_attr("left_window_size", c.left_window));
  if (c.right_window >= 0) attrs.push_back(int_attr("right_window_size", c.right_window));
  return attrs;
}

std::vector<Tensor> run_attention(const AttentionCase& c, const AttentionData& d, int64_t qk_mode,
                                  Parallelism* parallelism = nullptr, size_t outputs = 4) {
  std::vector<Tensor> inputs = {d.q, d.k, d.v, d.mask, d.past_key, d.past_value};
  if (!c.nonpad.empty()) inputs.push_back(d.nonpad);
  return run_op("Attention", 25, attention_attrs(c, qk_mode), inputs, outputs, parallelism);
}

void check_attention(const AttentionCase& c, uint32_t seed) {
  const AttentionData d = make_attention_data(c, seed);
  const AttentionExpected e = naive_attention(c, d);
  const int64_t total = c.past_len + c.kv_len;
  for (int64_t mode = 0; mode < 4; ++mode) {
    ChunkedParallelism chunks(static_cast<int>(mode) + 1);
    const std::vector<Tensor> out = run_attention(c, d, mode, &chunks);
    expect_close(out[0], e.y, {c.batch, c.q_heads, c.q_len, c.v_head}, 1e-4, 1e-5);
    expect_close_inf(out[3], e.qk[mode], {c.batch, c.q_heads, c.q_len, total}, 1e-4, 1e-5);
    ASSERT_EQ(shape_to_string(out[1].shape()), shape_to_string({c.batch, c.kv_heads, total, c.head}));
    ASSERT_EQ(shape_to_string(out[2].shape()), shape_to_string({c.batch, c.kv_heads, total, c.v_head}));
  }
  // Without qk_matmul_output the keys masked for a whole block of rows are skipped.
  ChunkedParallelism chunks(2);
  const std::vector<Tensor> y_only = run_attention(c, d, 0, &chunks, 1);
  expect_close(y_only[0], e.y, {c.batch, c.q_heads, c.q_len, c.v_head}, 1e-4, 1e-5);
}

TEST(AttentionTest, PlainMatchesNaive) { check_attention(AttentionCase{}, 1); }

TEST(AttentionTest, GroupedHeadsCausalWithPastAndFloatMask) {
  AttentionCase c;
  c.q_heads = 6, c.kv_heads = 2, c.q_len = 37, c.kv_len = 3, c.past_len = 30, c.causal = true;
  c.mask_shape = {2, 1, 37, 31};  // shorter than the 33 keys: the rest is masked out
  check_attention(c, 2);
}

TEST(AttentionTest, BoolMaskBroadcastSoftcapScale) {
  AttentionCase c;
  c.q_len = 9, c.kv_len = 11, c.softcap = 1.5f, c.scale = 0.3f, c.bool_mask = true;
  c.mask_shape = {3, 9, 11};
  check_attention(c, 3);
}

TEST(AttentionTest, NonpadCausalWindows) {
  AttentionCase c;
  c.batch = 3, c.q_heads = 4, c.kv_heads = 1, c.q_len = 4, c.kv_len = 10, c.causal = true, c.left_window = 2;
  c.nonpad = {10, 6, 2};  // the last batch has a negative offset: leading rows fully masked give zeros
  check_attention(c, 4);
  c.causal = false, c.left_window = 1, c.right_window = 2, c.mask_shape = {10};
  check_attention(c, 5);
}

TEST(AttentionTest, FullyMaskedRowsAreZero) {
  AttentionCase c;
  c.mask_shape = {5, 7};
  c.bool_mask = true;
  AttentionData d = make_attention_data(c, 6);
  for (int64_t j = 0; j < 7; ++j) d.mask.data<bool>()[2 * 7 + j] = false;
  const std::vector<Tensor> out = run_attention(c, d, 3);
  for (double y : values_of(out[0])) EXPECT_FALSE(std::isnan(y));
  const std::vector<double> y = values_of(out[0]);
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < c.q_heads; ++h) {
      for (int64_t x = 0; x < c.v_head; ++x) EXPECT_EQ(y[static_cast<size_t>(((b * 3 + h) * 5 + 2) * 5 + x)], 0.0);
    }
  }
}

// Packs (batch, heads, len, size) into (batch, len, heads * size).
Tensor pack_heads(const Tensor& t) {
  const int64_t b = t.dim(0), h = t.dim(1), s = t.dim(2), d = t.dim(3);
  Tensor out(t.dtype(), {b, s, h * d});
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < h; ++j)
      for (int64_t k = 0; k < s; ++k)
        for (int64_t x = 0; x < d; ++x)
          out.data<float>()[((i * s + k) * h + j) * d + x] = t.data<float>()[((i * h + j) * s + k) * d + x];
  return out;
}

TEST(AttentionTest, PackedInputsMatchFourD) {
  AttentionCase c;
  c.q_heads = 4, c.kv_heads = 2, c.past_len = 3, c.causal = true;
  const AttentionData d = make_attention_data(c, 7);
  const std::vector<Tensor> four = run_attention(c, d, 0);
  std::vector<Attribute> attrs = attention_attrs(c, 0);
  attrs.push_back(int_attr("q_num_heads", 4));
  attrs.push_back(int_attr("kv_num_heads", 2));
  const std::vector<Tensor> three =
      run_op("Attention", 23, attrs,
             {pack_heads(d.q), pack_heads(d.k), pack_heads(d.v), Tensor(), d.past_key, d.past_value}, 3);
  expect_close(three[0], values_of(pack_heads(four[0])), {c.batch, c.q_len, c.q_heads * c.v_head}, 0, 0);
  expect_close(three[1], values_of(four[1]), four[1].shape(), 0, 0);
  expect_close(three[2], values_of(four[2]), four[2].shape(), 0, 0);
}

TEST(AttentionTest, HalfTypesStayClose) {
  AttentionCase c;
  c.causal = true, c.mask_shape = {5, 7};
  const AttentionData d = make_attention_data(c, 8);
  const AttentionExpected e = naive_attention(c, d);
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    const std::vector<Tensor> out =
        run_op("Attention", 23, attention_attrs(c, 0),
               {to_dtype(d.q, dtype), to_dtype(d.k, dtype), to_dtype(d.v, dtype), to_dtype(d.mask, dtype)}, 1);
    EXPECT_EQ(out[0].dtype(), dtype);
    expect_close(out[0], e.y, {c.batch, c.q_heads, c.q_len, c.v_head}, 0.05, 0.05);
  }
}

TEST(AttentionTest, RejectsBadInputs) {
  AttentionCase c;
  const AttentionData d = make_attention_data(c, 9);
  auto code = [&](const std::vector<Attribute>& attrs, const std::vector<Tensor>& inputs, int64_t opset = 24) {
    return error_code_of([&] { run_op("Attention", opset, attrs, inputs, 1); });
  };
  EXPECT_EQ(code({}, {d.q, random_float({2, 3, 7, 4}, 1), d.v}), ErrorCode::kInvalidArgument);  // head sizes
  EXPECT_EQ(code({}, {d.q, random_float({2, 2, 7, 6}, 1), random_float({2, 2, 7, 5}, 1)}),
            ErrorCode::kInvalidArgument);  // 3 query heads over 2 KV heads
  EXPECT_EQ(code({}, {d.q, d.k, d.v, random_float({5, 8}, 1)}), ErrorCode::kInvalidArgument);  // mask too long
  EXPECT_EQ(code({}, {d.q, d.k, d.v, random_float({4, 7}, 1)}), ErrorCode::kInvalidArgument);  // mask rows
  EXPECT_EQ(code({}, {d.q, d.k, d.v, Tensor(), random_float({2, 3, 2, 6}, 1)}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      code({}, {d.q, d.k, d.v, Tensor(), Tensor(), Tensor(), Tensor::from_vector<int64_t>(DType::kInt64, {8, 1})}),
      ErrorCode::kInvalidArgument);  // nonpad past the keys
  EXPECT_EQ(code({}, {pack_heads(d.q), pack_heads(d.k), pack_heads(d.v)}), ErrorCode::kInvalidArgument);  // no heads
  EXPECT_EQ(code({int_attr("qk_matmul_output_mode", 4)}, {d.q, d.k, d.v}), ErrorCode::kInvalidModel);
  EXPECT_EQ(code({int_attr("softmax_precision", 7)}, {d.q, d.k, d.v}), ErrorCode::kInvalidModel);
  EXPECT_EQ(code({int_attr("left_window_size", -2)}, {d.q, d.k, d.v}, 25), ErrorCode::kInvalidModel);
}

// ---------------------------------------------------------------------------------------------- RMSNormalization

TEST(RmsNormalizationTest, MatchesNaiveForEveryAxis) {
  const Tensor x = random_float({3, 5, 7}, 11);
  for (int64_t axis = -3; axis < 3; ++axis) {
    const int64_t a = axis < 0 ? axis + 3 : axis;
    std::vector<int64_t> scale_shape(x.shape().begin() + a, x.shape().end());
    const Tensor scale = random_float(scale_shape, 12);
    const std::vector<Tensor> out =
        run_op("RMSNormalization", 23, {int_attr("axis", axis), float_attr("epsilon", 0.01f)}, {x, scale}, 1, nullptr);
    const std::vector<double> xv = values_of(x), sv = values_of(scale);
    const size_t row = sv.size();
    std::vector<double> expected(xv.size());
    for (size_t r = 0; r < xv.size() / row; ++r) {
      double ms = 0;
      for (size_t i = 0; i < row; ++i) ms += xv[r * row + i] * xv[r * row + i];
      const double inv = 1.0 / std::sqrt(ms / static_cast<double>(row) + 0.01f);
      for (size_t i = 0; i < row; ++i) expected[r * row + i] = xv[r * row + i] * inv * sv[i];
    }
    expect_close(out[0], expected, x.shape());
  }
}

TEST(RmsNormalizationTest, RejectsBadAxisAndScale) {
  const Tensor x = random_float({3, 4}, 13);
  EXPECT_EQ(error_code_of([&] {
              run_op("RMSNormalization", 23, {int_attr("axis", 2)}, {x, random_float({4}, 1)});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("RMSNormalization", 23, {}, {x, random_float({5}, 1)});
            }),
            ErrorCode::kInvalidArgument);
}

// ----------------------------------------------------------------------------------------------- RotaryEmbedding

TEST(RotaryEmbeddingTest, MatchesNaive) {
  const int64_t batch = 2, heads = 3, seq = 5, head = 10;
  const Tensor x = random_float({batch, heads, seq, head}, 21);
  for (int interleaved = 0; interleaved < 2; ++interleaved) {
    for (int64_t rotary : {int64_t{0}, int64_t{6}}) {
      const int64_t dim = rotary == 0 ? head : rotary, half = dim / 2;
      const Tensor cos = random_float({9, half}, 22), sin = random_float({9, half}, 23);
      const Tensor ids = Tensor::from_vector<int64_t>(DType::kInt64, {0, 3, 8, 1, 2, 7, 7, 4, 5, 6}).reshaped({2, 5});
      const std::vector<Tensor> out =
          run_op("RotaryEmbedding", 23,
                 {int_attr("interleaved", interleaved), int_attr("rotary_embedding_dim", rotary)}, {x, cos, sin, ids});
      const std::vector<double> xv = values_of(x), cv = values_of(cos), sv = values_of(sin);
      std::vector<double> expected = xv;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t s = 0; s < seq; ++s) {
            const int64_t base = ((b * heads + h) * seq + s) * head;
            const int64_t pos = ids.data<int64_t>()[b * seq + s];
            for (int64_t j = 0; j < half; ++j) {
              const int64_t i1 = interleaved ? 2 * j : j, i2 = interleaved ? 2 * j + 1 : j + half;
              const double c = cv[pos * half + j], sn = sv[pos * half + j];
              expected[base + i1] = c * xv[base + i1] - sn * xv[base + i2];
              expected[base + i2] = sn * xv[base + i1] + c * xv[base + i2];
            }
          }
      expect_close(out[0], expected, x.shape());
    }
  }
}

TEST(RotaryEmbeddingTest, RejectsBadPositionsAndShapes) {
  const Tensor x = random_float({1, 2, 3, 4}, 24);
  const Tensor cos = random_float({4, 2}, 25);
  const Tensor ids = Tensor::from_vector<int64_t>(DType::kInt64, {0, 1, 4}).reshaped({1, 3});
  EXPECT_EQ(error_code_of([&] { run_op("RotaryEmbedding", 23, {}, {x, cos, cos, ids}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("RotaryEmbedding", 23, {}, {random_float({1, 3, 8}, 1), cos, cos, ids});
            }),
            ErrorCode::kInvalidArgument);  // 3-D without num_heads
  EXPECT_EQ(error_code_of([&] {
              run_op("RotaryEmbedding", 23, {int_attr("rotary_embedding_dim", 3)}, {x, cos, cos});
            }),
            ErrorCode::kInvalidArgument);
}

// ------------------------------------------------------------------------------------------------- TensorScatter

TEST(TensorScatterTest, LinearAndCircular) {
  const Tensor past = random_float({2, 3, 5, 2}, 31);
  const Tensor update = random_float({2, 3, 2, 2}, 32);
  const Tensor write = Tensor::from_vector<int64_t>(DType::kInt64, {1, 4});
  const std::vector<Tensor> circular =
      run_op("TensorScatter", 24, {string_attr("mode", "circular")}, {past, update, write});
  std::vector<double> expected = values_of(past);
  const std::vector<double> u = values_of(update);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t pos = (write.data<int64_t>()[b] + s) % 5;
        for (int64_t x = 0; x < 2; ++x) expected[((b * 3 + h) * 5 + pos) * 2 + x] = u[((b * 3 + h) * 2 + s) * 2 + x];
      }
  expect_close(circular[0], expected, past.shape(), 0, 0);
  EXPECT_EQ(error_code_of([&] {
              run_op("TensorScatter", 24, {}, {past, update, write});
            }),
            ErrorCode::kInvalidArgument);  // 4 + 2 overruns 5 in linear mode
  EXPECT_EQ(error_code_of([&] {
              run_op("TensorScatter", 24, {int_attr("axis", 0)}, {past, update});
            }),
            ErrorCode::kInvalidArgument);
}

// -------------------------------------------------------------------------------------------------------- SwiGLU

TEST(SwiGluTest, MatchesFormulaAndRejectsBroadcast) {
  const Tensor a = random_float({3, 7}, 41), b = random_float({3, 7}, 42);
  const std::vector<Tensor> out = run_op("SwiGLU", 28, {float_attr("alpha", 0.7f)}, {a, b});
  const std::vector<double> av = values_of(a), bv = values_of(b);
  std::vector<double> expected(av.size());
  for (size_t i = 0; i < av.size(); ++i) expected[i] = av[i] / (1 + std::exp(-0.7f * av[i])) * bv[i];
  expect_close(out[0], expected, a.shape());
  EXPECT_EQ(error_code_of([&] {
              run_op("SwiGLU", 28, {}, {a, random_float({1, 7}, 1)});
            }),
            ErrorCode::kInvalidArgument);
}

// ------------------------------------------------------------------------------------------- CausalConvWithState

TEST(CausalConvWithStateTest, ChunkedRunsEqualOneRun) {
  const int64_t batch = 2, channels = 3, length = 9, kernel = 4;
  const Tensor x = random_float({batch, channels, length}, 51);
  const Tensor w = random_float({channels, 1, kernel}, 52), bias = random_float({channels}, 53);
  const std::vector<Attribute> attrs = {string_attr("activation", "silu")};
  const std::vector<Tensor> whole = run_op("CausalConvWithState", 27, attrs, {x, w, bias}, 2);
  // Naive: zero history, then silu(bias + sum w * x).
  const std::vector<double> xv = values_of(x), wv = values_of(w), bv = values_of(bias);
  std::vector<double> expected;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t t = 0; t < length; ++t) {
        double sum = bv[c];
        for (int64_t i = 0; i < kernel; ++i) {
          const int64_t src = t + i - (kernel - 1);
          if (src >= 0) sum += wv[c * kernel + i] * xv[(b * channels + c) * length + src];
        }
        expected.push_back(sum / (1 + std::exp(-sum)));
      }
  expect_close(whole[0], expected, x.shape());
  // The first 5 steps, then the last 4 from the carried state.
  Tensor first(DType::kFloat, {batch, channels, 5}), second(DType::kFloat, {batch, channels, 4});
  for (int64_t r = 0; r < batch * channels; ++r)
    for (int64_t t = 0; t < length; ++t)
      (t < 5 ? first.data<float>()[r * 5 + t] : second.data<float>()[r * 4 + t - 5]) = x.data<float>()[r * length + t];
  const std::vector<Tensor> a = run_op("CausalConvWithState", 27, attrs, {first, w, bias}, 2);
  const std::vector<Tensor> b = run_op("CausalConvWithState", 27, attrs, {second, w, bias, a[1]}, 2);
  expect_close(b[1], values_of(whole[1]), {batch, channels, kernel - 1});
  const std::vector<double> tail = values_of(b[0]);
  for (int64_t r = 0; r < batch * channels; ++r)
    for (int64_t t = 0; t < 4; ++t) EXPECT_NEAR(tail[r * 4 + t], expected[r * length + 5 + t], 1e-5);
  EXPECT_EQ(
      error_code_of([&] {
        run_op("CausalConvWithState", 27, {}, {x, random_float({3, 1, 4}, 1), Tensor(), random_float({2, 3, 2}, 1)}, 2);
      }),
      ErrorCode::kInvalidArgument);  // past_state must hold k - 1 positions
}

// ----------------------------------------------------------------------------------------------- LinearAttention

TEST(LinearAttentionTest, LinearRuleMatchesCausalSumAndStepsChain) {
  const int64_t batch = 2, steps = 5, q_heads = 4, kv_heads = 2, d_k = 3, d_v = 5;
  const Tensor q = random_float({batch, steps, q_heads * d_k}, 61);
  const Tensor k = random_float({batch, steps, kv_heads * d_k}, 62);
  const Tensor v = random_float({batch, steps, kv_heads * d_v}, 63);
  const std::vector<Attribute> attrs = {int_attr("q_num_heads", q_heads), int_attr("kv_num_heads", kv_heads),
                                        string_attr("update_rule", "linear"), float_attr("scale", 0.5f)};
  const std::vector<Tensor> out = run_op("LinearAttention", 27, attrs, {q, k, v}, 2);
  const std::vector<double> qv = values_of(q), kv = values_of(k), vv = values_of(v);
  std::vector<double> expected;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t h = 0; h < q_heads; ++h)
        for (int64_t j = 0; j < d_v; ++j) {
          const int64_t g = h / (q_heads / kv_heads);
          double acc = 0;
          for (int64_t s = 0; s <= t; ++s) {
            double dot = 0;
            for (int64_t i = 0; i < d_k; ++i) {
              dot += qv[(b * steps + t) * q_heads * d_k + h * d_k + i] *
                     kv[(b * steps + s) * kv_heads * d_k + g * d_k + i];
            }
            acc += dot * vv[(b * steps + s) * kv_heads * d_v + g * d_v + j];
          }
          expected.push_back(0.5 * acc);
        }
  expect_close(out[0], expected, {batch, steps, q_heads * d_v});
}

TEST(LinearAttentionTest, GatedDeltaPrefillEqualsDecodeSteps) {
  const int64_t batch = 1, steps = 4, heads = 2, d_k = 3, d_v = 2;
  const Tensor q = random_float({batch, steps, heads * d_k}, 71), k = random_float({batch, steps, heads * d_k}, 72);
  const Tensor v = random_float({batch, steps, heads * d_v}, 73);
  const Tensor decay = random_float({batch, steps, heads}, 74, -1.0f, 0.0f);
  const Tensor beta = random_float({batch, steps, heads}, 75, 0.0f, 1.0f);
  const std::vector<Attribute> attrs = {int_attr("q_num_heads", heads), int_attr("kv_num_heads", heads)};
  const std::vector<Tensor> whole = run_op("LinearAttention", 27, attrs, {q, k, v, Tensor(), decay, beta}, 2);
  auto step = [](const Tensor& t, int64_t i) {
    const int64_t width = t.dim(2);
    Tensor out(DType::kFloat, {1, 1, width});
    for (int64_t x = 0; x < width; ++x) out.data<float>()[x] = t.data<float>()[i * width + x];
    return out;
  };
  Tensor state(DType::kFloat, {batch, heads, d_k, d_v});
  std::vector<double> outputs;
  for (int64_t t = 0; t < steps; ++t) {
    const std::vector<Tensor> r = run_op("LinearAttention", 27, attrs,
                                         {step(q, t), step(k, t), step(v, t), state, step(decay, t), step(beta, t)}, 2);
    for (double y : values_of(r[0])) outputs.push_back(y);
    state = r[1];
  }
  expect_close(whole[0], outputs, {batch, steps, heads * d_v});
  expect_close(whole[1], values_of(state), {batch, heads, d_k, d_v});
  EXPECT_EQ(error_code_of([&] { run_op("LinearAttention", 27, attrs, {q, k, v}, 2); }), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera

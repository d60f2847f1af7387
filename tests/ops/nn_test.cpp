// Tests of the nn families (pool, normalization, resize): the kernels against naive references on random,
// odd-sized inputs (serially and on a two-thread pool), the fast pooling walk against the generic one, the
// narrow-float and integer paths, shape inference, and the error cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "ops/common/op_utils.h"
#include "ops/nn_test_util.h"
#include "ops/pool/pool_common.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;

// ---- pooling --------------------------------------------------------------------------------------------

// A reducer that records a fingerprint of every window: which offsets it visited and the counts reported.
struct RecordingReducer {
  std::vector<double>* out;
  double acc = 0;
  void begin() { acc = 0; }
  void add(int64_t offset) { acc += std::sqrt(static_cast<double>(offset) + 1.0); }
  void finish(int64_t o, int64_t count, int64_t padded) { (*out)[o] = acc + 1000.0 * count + 1e6 * padded; }
};

TEST(PoolWalk, FastLoopMatchesGenericWalk) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t rank = 1 + trial % 3;
    PoolAttributes attrs;
    std::vector<int64_t> input;
    for (size_t a = 0; a < rank; ++a) {
      attrs.kernel.push_back(1 + rng() % 4);
      attrs.strides.push_back(1 + rng() % 3);
      attrs.dilations.push_back(1 + rng() % 2);
      input.push_back(5 + rng() % 7);
    }
    for (size_t a = 0; a < 2 * rank; ++a) attrs.pads.push_back(rng() % 3);
    attrs.ceil_mode = trial % 2 == 0;
    std::vector<int64_t> shape{1, 1};
    shape.insert(shape.end(), input.begin(), input.end());
    const PoolGeometry g = resolve_pool_geometry(attrs, Tensor(DType::kFloat, shape), "test");
    const std::vector<AxisWindows> w = make_axis_windows(g);
    std::vector<double> fast(static_cast<size_t>(g.output_size)), generic(fast.size());
    RecordingReducer rf{&fast}, rg{&generic};
    pool_plane(g, w, rf);
    pool_plane_generic(g, w, rg);
    for (size_t i = 0; i < fast.size(); ++i) ASSERT_DOUBLE_EQ(fast[i], generic[i]) << "trial " << trial;
  }
}

enum class NaivePool { kMax, kAverage, kAverageIncludePad, kLp };

struct NaivePoolSpec {
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begin..., end...
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
  double p = 2;
};

// Pools x [N, C, spatial...] directly from the formulas of the spec (PyTorch's ceil_mode rule, padded-extent
// divisor for count_include_pad); fills `indices` (row-major, flat) for max.
std::vector<double> naive_pool(const Tensor& x, const NaivePoolSpec& s, NaivePool kind, std::vector<int64_t>& out_shape,
                               std::vector<int64_t>* indices = nullptr) {
  const size_t rank = s.kernel.size();
  std::vector<int64_t> in(x.shape().begin() + 2, x.shape().end()), out(rank), pb(rank), pe(rank);
  for (size_t a = 0; a < rank; ++a) {
    const int64_t ext = (s.kernel[a] - 1) * s.dilations[a] + 1;
    if (s.auto_pad == "SAME_UPPER" || s.auto_pad == "SAME_LOWER") {
      out[a] = (in[a] + s.strides[a] - 1) / s.strides[a];
      const int64_t total = std::max<int64_t>(0, (out[a] - 1) * s.strides[a] + ext - in[a]);
      pb[a] = s.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe[a] = total - pb[a];
    } else if (s.auto_pad == "VALID") {
      out[a] = (in[a] - ext) / s.strides[a] + 1;
    } else {
      pb[a] = s.pads[a];
      pe[a] = s.pads[a + rank];
      const double span = static_cast<double>(in[a] + pb[a] + pe[a] - ext) / s.strides[a];
      out[a] = static_cast<int64_t>(s.ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
      if (s.ceil_mode && (out[a] - 1) * s.strides[a] >= in[a] + pb[a]) --out[a];
    }
  }
  out_shape = {x.dim(0), x.dim(1)};
  out_shape.insert(out_shape.end(), out.begin(), out.end());
  const std::vector<double> xv = values_of(x);
  const int64_t in_size = shape_element_count(in), out_size = shape_element_count(out);
  std::vector<double> y;
  for (int64_t plane = 0; plane < x.dim(0) * x.dim(1); ++plane) {
    std::vector<int64_t> o(rank, 0);
    for (int64_t oi = 0; oi < out_size; ++oi) {
      double acc = kind == NaivePool::kMax ? -INFINITY : 0;
      int64_t count = 0, padded = 0, best = -1;
      std::vector<int64_t> k(rank, 0);
      for (int64_t ki = 0; ki < shape_element_count(s.kernel); ++ki) {
        bool inside = true, in_pad = true;
        int64_t offset = 0;
        for (size_t a = 0; a < rank; ++a) {
          const int64_t pos = o[a] * s.strides[a] - pb[a] + k[a] * s.dilations[a];
          inside = inside && pos >= 0 && pos < in[a];
          in_pad = in_pad && pos < in[a] + pe[a];
          offset = offset * in[a] + pos;
        }
        padded += in_pad ? 1 : 0;
        if (inside) {
          const double v = xv[plane * in_size + offset];
          ++count;
          if (kind == NaivePool::kMax) {
            if (v > acc) {
              acc = v;
              best = plane * in_size + offset;
            }
          } else {
            acc += kind == NaivePool::kLp ? std::pow(std::abs(v), s.p) : v;
          }
        }
        for (size_t a = rank; a-- > 0;) {
          if (++k[a] < s.kernel[a]) break;
          k[a] = 0;
        }
      }
      if (kind == NaivePool::kAverage) acc /= count;
      if (kind == NaivePool::kAverageIncludePad) acc /= padded;
      if (kind == NaivePool::kLp) acc = std::pow(acc, 1 / s.p);
      y.push_back(acc);
      if (indices) indices->push_back(best);
      for (size_t a = rank; a-- > 0;) {
        if (++o[a] < out[a]) break;
        o[a] = 0;
      }
    }
  }
  return y;
}

std::vector<Attribute> pool_attrs(const NaivePoolSpec& s) {
  std::vector<Attribute> attrs{ints_attr("kernel_shape", s.kernel), ints_attr("strides", s.strides),
                               ints_attr("dilations", s.dilations), string_attr("auto_pad", s.auto_pad),
                               int_attr("ceil_mode", s.ceil_mode ? 1 : 0)};
  if (s.auto_pad == "NOTSET") attrs.push_back(ints_attr("pads", s.pads));
  return attrs;
}

NaivePoolSpec random_pool_spec(std::mt19937& rng, size_t rank, int trial) {
  NaivePoolSpec s;
  for (size_t a = 0; a < rank; ++a) {
    s.kernel.push_back(1 + rng() % 3);
    s.strides.push_back(1 + rng() % 3);
    s.dilations.push_back(1 + rng() % 2);
  }
  for (size_t a = 0; a < 2 * rank; ++a) s.pads.push_back(std::min<int64_t>(rng() % 3, s.kernel[a % rank] - 1));
  const char* modes[] = {"NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  s.auto_pad = modes[trial % 5];
  s.ceil_mode = s.auto_pad == "NOTSET" && trial % 2 == 1;
  return s;
}

// A value in [lo, hi] drawn from rng.
int64_t random_between(std::mt19937& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng() % static_cast<uint32_t>(hi - lo + 1));
}

TEST(MaxPool, MatchesNaiveWithIndicesAcrossRanksAndThreads) {
  std::mt19937 rng(11);
  ThreadPool pool(2);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t rank = 1 + trial % 3;
    const NaivePoolSpec s = random_pool_spec(rng, rank, trial);
    std::vector<int64_t> shape{2, 3};
    for (size_t a = 0; a < rank; ++a) shape.push_back(6 + rng() % 6);
    const Tensor x = random_float(shape, 100 + trial);
    std::vector<int64_t> out_shape, indices;
    const std::vector<double> expected = naive_pool(x, s, NaivePool::kMax, out_shape, &indices);
    const std::vector<Tensor> y = run_op("MaxPool", 12, pool_attrs(s), {x}, 2, trial % 2 ? &pool : nullptr);
    expect_close(y[0], expected, out_shape, 0, 0);
    // Without Indices the separable pool runs.
    expect_close(run_op("MaxPool", 12, pool_attrs(s), {x}, 1, trial % 2 ? nullptr : &pool)[0], expected, out_shape, 0,
                 0);
    const std::vector<double> got = values_of(y[1]);
    for (size_t i = 0; i < indices.size(); ++i)
      ASSERT_EQ(static_cast<int64_t>(got[i]), indices[i]) << "trial " << trial;
  }
}

// One image on two threads pools by bands of output rows (max_pool_2d_f32's row bands: at least 16 rows each,
// planes beyond the small-plane path): every geometry, the same values as the naive pool.
TEST(MaxPool, RowBandsOfOneImageMatchNaive) {
  std::mt19937 rng(31);
  ThreadPool pool(2);
  for (int trial = 0; trial < 20; ++trial) {
    const NaivePoolSpec s = random_pool_spec(rng, 2, trial);
    const Tensor x = random_float({1, 3, random_between(rng, 100, 119), random_between(rng, 11, 40)}, 500 + trial);
    std::vector<int64_t> out_shape;
    const std::vector<double> expected = naive_pool(x, s, NaivePool::kMax, out_shape, nullptr);
    ASSERT_GE(out_shape[2], 32) << "trial " << trial;
    expect_close(run_op("MaxPool", 12, pool_attrs(s), {x}, 1, &pool)[0], expected, out_shape, 0, 0);
  }
}

// Many channels on small planes pool 16 channels at a time (maxpool2d_f32_channels): every geometry, a partial
// last block (2 x 19 planes), one and two threads, NaN; the same values as the naive pool, and the same bits as
// each plane pooled alone where a NaN is in the window.
TEST(MaxPool, ChannelBlocksOnSmallPlanesMatchNaive) {
  std::mt19937 rng(23);
  ThreadPool pool(2);
  for (int trial = 0; trial < 20; ++trial) {
    const NaivePoolSpec s = random_pool_spec(rng, 2, trial);
    const int64_t h = random_between(rng, 5, 13), w = random_between(rng, 5, 13);
    Tensor x = random_float({2, 19, h, w}, 300 + trial);
    if (trial % 3 == 0) x.data<float>()[(trial * 37) % x.element_count()] = std::numeric_limits<float>::quiet_NaN();
    std::vector<int64_t> out_shape;
    const std::vector<double> expected = naive_pool(x, s, NaivePool::kMax, out_shape, nullptr);
    const Tensor y = run_op("MaxPool", 12, pool_attrs(s), {x}, 1, trial % 2 ? &pool : nullptr)[0];
    ASSERT_EQ(y.shape(), out_shape);
    const int64_t plane_in = h * w, plane_out = out_shape[2] * out_shape[3];
    for (int64_t plane = 0; plane < 2 * 19; ++plane) {
      Tensor one(DType::kFloat, {1, 1, h, w});
      std::copy_n(x.data<float>() + plane * plane_in, plane_in, one.data<float>());
      const Tensor alone = run_op("MaxPool", 12, pool_attrs(s), {one})[0];
      for (int64_t i = 0; i < plane_out; ++i) {
        const float v = y.data<float>()[plane * plane_out + i], a = alone.data<float>()[i];
        const double e = expected[static_cast<size_t>(plane * plane_out + i)];
        ASSERT_TRUE(std::isnan(a) ? std::isnan(v) : v == a) << "trial " << trial << " plane " << plane << " " << i;
        if (!std::isnan(a)) {
          ASSERT_EQ(v, e) << "trial " << trial << " plane " << plane << " " << i;
        }
      }
    }
  }
}

TEST(MaxPool, NanPropagatesInBothPaths) {
  Tensor x = random_float({1, 1, 4, 4}, 8);
  x.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Attribute> attrs{ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})};
  for (size_t outputs : {1, 2}) {
    const std::vector<double> y = values_of(run_op("MaxPool", 12, attrs, {x}, outputs)[0]);
    EXPECT_TRUE(std::isnan(y[0]));
    EXPECT_FALSE(std::isnan(y[1]) || std::isnan(y[2]) || std::isnan(y[3]));
  }
}

TEST(MaxPool, ColumnMajorIndicesAndIntegerTypes) {
  // storage_order = 1: the index of (h, w) in an H x W plane is h + w * H.
  Tensor x(DType::kFloat, {1, 1, 2, 3});
  const float v[] = {1, 9, 2, 8, 3, 7};
  std::copy(v, v + 6, x.data<float>());
  const std::vector<Tensor> y =
      run_op("MaxPool", 12, {ints_attr("kernel_shape", {2, 2}), int_attr("storage_order", 1)}, {x}, 2);
  expect_close(y[0], {9, 9}, {1, 1, 1, 2});
  expect_close(y[1], {2, 2}, {1, 1, 1, 2});  // (0, 1) -> 0 + 1 * 2
  // int8 and uint8 from opset 12 (2-D: through the float kernel plane by plane).
  for (const DType dtype : {DType::kInt8, DType::kUint8}) {
    const bool s8 = dtype == DType::kInt8;
    const Tensor xi = to_dtype(random_float({1, 2, 9, 8}, 3, s8 ? -128 : 0, s8 ? 127 : 255), dtype);
    NaivePoolSpec s{{3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}};
    std::vector<int64_t> out_shape;
    const std::vector<double> expected = naive_pool(xi, s, NaivePool::kMax, out_shape);
    expect_close(run_op("MaxPool", 12, pool_attrs(s), {xi})[0], expected, out_shape, 0, 0);
    EXPECT_EQ(error_code_of([&] { run_op("MaxPool", 11, pool_attrs(s), {xi}); }), ErrorCode::kInvalidArgument);
  }
}

TEST(AveragePool, MatchesNaiveWithAndWithoutPadCounting) {
  std::mt19937 rng(5);
  ThreadPool pool(2);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t rank = 1 + trial % 3;
    const NaivePoolSpec s = random_pool_spec(rng, rank, trial);
    std::vector<int64_t> shape{1, 3};
    for (size_t a = 0; a < rank; ++a) shape.push_back(5 + rng() % 7);
    const Tensor x = random_float(shape, 200 + trial);
    const bool include = trial % 4 >= 2;
    std::vector<int64_t> out_shape;
    const std::vector<double> expected =
        naive_pool(x, s, include ? NaivePool::kAverageIncludePad : NaivePool::kAverage, out_shape);
    std::vector<Attribute> attrs = pool_attrs(s);
    attrs.push_back(int_attr("count_include_pad", include ? 1 : 0));
    expect_close(run_op("AveragePool", 19, attrs, {x}, 1, trial % 2 ? &pool : nullptr)[0], expected, out_shape);
  }
}

TEST(LpPool, MatchesNaiveForSeveralP) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 15; ++trial) {
    NaivePoolSpec s = random_pool_spec(rng, 2, trial);
    s.p = 1 + trial % 3;
    const Tensor x = random_float({2, 2, 7, 6}, 300 + trial);
    std::vector<int64_t> out_shape;
    const std::vector<double> expected = naive_pool(x, s, NaivePool::kLp, out_shape);
    std::vector<Attribute> attrs = pool_attrs(s);
    attrs.push_back(int_attr("p", static_cast<int64_t>(s.p)));
    expect_close(run_op("LpPool", 18, attrs, {x})[0], expected, out_shape);
  }
  // Opset 1 gives p as a float.
  const Tensor x = random_float({1, 1, 4, 4}, 1);
  NaivePoolSpec s{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}};
  s.p = 3;
  std::vector<int64_t> out_shape;
  const std::vector<double> expected = naive_pool(x, s, NaivePool::kLp, out_shape);
  expect_close(run_op("LpPool", 1,
                      {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2}), float_attr("p", 3.0f)}, {x})[0],
               expected, out_shape);
}

TEST(GlobalPool, AverageMaxAndLpOverEveryPlane) {
  const Tensor x = random_float({2, 3, 5, 7}, 4);
  const std::vector<double> v = values_of(x);
  std::vector<double> avg, mx, lp;
  for (int p = 0; p < 6; ++p) {
    const auto b = v.begin() + p * 35, e = b + 35;
    avg.push_back(std::accumulate(b, e, 0.0) / 35);
    mx.push_back(*std::max_element(b, e));
    lp.push_back(std::sqrt(std::inner_product(b, e, b, 0.0)));
  }
  ThreadPool pool(2);
  expect_close(run_op("GlobalAveragePool", 1, {}, {x}, 1, &pool)[0], avg, {2, 3, 1, 1});
  expect_close(run_op("GlobalMaxPool", 22, {}, {x})[0], mx, {2, 3, 1, 1});
  expect_close(run_op("GlobalLpPool", 2, {}, {x})[0], lp, {2, 3, 1, 1});
  // float16 through float.
  const Tensor xh = to_dtype(x, DType::kFloat16);
  const Tensor yh = run_op("GlobalAveragePool", 1, {}, {xh})[0];
  EXPECT_EQ(yh.dtype(), DType::kFloat16);
  expect_close(yh, avg, {2, 3, 1, 1}, 2e-3, 2e-3);
}

TEST(Pool, NarrowFloatsMatchFloat) {
  const Tensor x = random_float({1, 2, 9, 8}, 12);
  const std::vector<Attribute> attrs{ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {2, 2}),
                                     ints_attr("pads", {1, 1, 1, 1})};
  for (const char* op : {"MaxPool", "AveragePool"}) {
    const std::vector<double> expected = values_of(run_op(op, 22, attrs, {x})[0]);
    for (DType d : {DType::kFloat16, DType::kBFloat16, DType::kDouble}) {
      const Tensor y = run_op(op, 22, attrs, {to_dtype(x, d)})[0];
      EXPECT_EQ(y.dtype(), d);
      expect_close(y, expected, {1, 2, 5, 4}, 1e-2, 1e-2);
    }
  }
}

TEST(Pool, ShapeInferenceKeepsSymbolsAndComputesSpatialDims) {
  Node node = make_node(
      "MaxPool", 12, {ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {2, 2}), int_attr("ceil_mode", 1)}, 1, 2);
  TypeInfo x =
      TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::named("N"), Dim::known(3), Dim::known(112), Dim{}});
  InferenceContext ctx(node, {&x}, {nullptr});
  OpRegistry::instance().find("", "MaxPool", 12)->infer(ctx);
  EXPECT_EQ(ctx.output_types()[0].to_string(), "float[N,3,56,?]");
  EXPECT_EQ(ctx.output_types()[1].to_string(), "int64[N,3,56,?]");
  // A window that cannot fit is refused at inference, naming the node.
  TypeInfo tiny = TypeInfo::tensor_of_shape(DType::kFloat, {1, 3, 2, 2});
  InferenceContext bad(node, {&tiny}, {nullptr});
  try {
    OpRegistry::instance().find("", "MaxPool", 12)->infer(bad);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()).rfind(node.label(), 0), 0u) << e.what();
  }
}

TEST(Pool, ErrorsNameTheProblem) {
  const Tensor x = random_float({1, 1, 4, 4}, 1);
  EXPECT_EQ(error_code_of([&] { run_op("MaxPool", 12, {}, {x}); }), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] {
              run_op("MaxPool", 12, {ints_attr("kernel_shape", {2, 2}), ints_attr("pads", {1})}, {x});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] {
              run_op("AveragePool", 11, {ints_attr("kernel_shape", {2, 2}), string_attr("auto_pad", "SAME")}, {x});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] { run_op("MaxPool", 12, {ints_attr("kernel_shape", {2})}, {x}); }),
            ErrorCode::kInvalidArgument);  // rank mismatch
  EXPECT_EQ(error_code_of([&] {
              run_op("AveragePool", 11, {ints_attr("kernel_shape", {5, 5})}, {x});
            }),
            ErrorCode::kInvalidArgument);  // window larger than the input
  EXPECT_EQ(error_code_of([&] { run_op("GlobalMaxPool", 1, {}, {to_dtype(x, DType::kInt32)}); }),
            ErrorCode::kInvalidArgument);
}

TEST(MaxUnpool, InvertsMaxPoolAndRejectsBadIndices) {
  const Tensor x = random_float({1, 2, 4, 4}, 21);
  const std::vector<Attribute> attrs{ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})};
  const std::vector<Tensor> pooled = run_op("MaxPool", 12, attrs, {x}, 2);
  const Tensor y = run_op("MaxUnpool", 11, attrs, {pooled[0], pooled[1]})[0];
  ASSERT_EQ(y.shape(), x.shape());
  const std::vector<double> yv = values_of(y), xv = values_of(x), idx = values_of(pooled[1]);
  double kept = 0;
  for (double i : idx) kept += yv[static_cast<size_t>(i)] == xv[static_cast<size_t>(i)] ? 1 : 0;
  EXPECT_EQ(kept, 8);
  EXPECT_EQ(std::count(yv.begin(), yv.end(), 0.0), 24);
  Tensor bad = pooled[1].clone();
  bad.data<int64_t>()[0] = 99;
  EXPECT_EQ(error_code_of([&] { run_op("MaxUnpool", 11, attrs, {pooled[0], bad}); }), ErrorCode::kInvalidArgument);
}

// ---- normalization --------------------------------------------------------------------------------------

TEST(BatchNormalization, InferenceMatchesNaiveAndTrainingUpdatesStatistics) {
  const Tensor x = random_float({3, 4, 5, 3}, 31);
  const Tensor scale = random_float({4}, 32), bias = random_float({4}, 33), mean = random_float({4}, 34);
  const Tensor var = random_float({4}, 35, 0.1f, 2.0f);
  const std::vector<double> xv = values_of(x), s = values_of(scale), b = values_of(bias), m = values_of(mean),
                            v = values_of(var);
  std::vector<double> expected(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 15) % 4;
    expected[i] = (xv[i] - m[c]) / std::sqrt(v[c] + 1e-3) * s[c] + b[c];
  }
  ThreadPool pool(2);
  expect_close(
      run_op("BatchNormalization", 15, {float_attr("epsilon", 1e-3f)}, {x, scale, bias, mean, var}, 1, &pool)[0],
      expected, x.shape());
  // Training: normalize with batch statistics; running = input * momentum + batch * (1 - momentum).
  const std::vector<Tensor> t =
      run_op("BatchNormalization", 15, {int_attr("training_mode", 1), float_attr("momentum", 0.8f)},
             {x, scale, bias, mean, var}, 3);
  std::vector<double> bm(4, 0), bv(4, 0);
  for (size_t i = 0; i < xv.size(); ++i) bm[(i / 15) % 4] += xv[i] / 45;
  for (size_t i = 0; i < xv.size(); ++i) bv[(i / 15) % 4] += std::pow(xv[i] - bm[(i / 15) % 4], 2) / 45;
  std::vector<double> rm(4), rv(4);
  for (size_t c = 0; c < 4; ++c) {
    rm[c] = m[c] * 0.8 + bm[c] * 0.2;
    rv[c] = v[c] * 0.8 + bv[c] * 0.2;
  }
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 15) % 4;
    expected[i] = (xv[i] - bm[c]) / std::sqrt(bv[c] + 1e-5) * s[c] + b[c];
  }
  expect_close(t[0], expected, x.shape());
  expect_close(t[1], rm, {4});
  expect_close(t[2], rv, {4});
  EXPECT_EQ(error_code_of([&] {
              run_op("BatchNormalization", 15, {}, {x, random_float({3}, 1), bias, mean, var});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(InstanceAndGroupNormalization, MatchNaive) {
  const Tensor x = random_float({2, 6, 4, 5}, 41);
  const std::vector<double> xv = values_of(x);
  const Tensor scale6 = random_float({6}, 42), bias6 = random_float({6}, 43);
  const Tensor scale3 = random_float({3}, 44), bias3 = random_float({3}, 45);
  // Groups of `per` channels (per = 1: instance normalization).
  auto naive = [&](int64_t per, const Tensor& scale, const Tensor& bias, bool per_channel) {
    const std::vector<double> s = values_of(scale), b = values_of(bias);
    std::vector<double> y(xv.size());
    const int64_t block = per * 20;
    for (int64_t start = 0; start < static_cast<int64_t>(xv.size()); start += block) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < block; ++i) mean += xv[start + i] / block;
      for (int64_t i = 0; i < block; ++i) var += std::pow(xv[start + i] - mean, 2) / block;
      for (int64_t i = 0; i < block; ++i) {
        const int64_t c = (start + i) / 20 % 6;
        const int64_t p = per_channel ? c : c / per;
        y[start + i] = (xv[start + i] - mean) / std::sqrt(var + 1e-5) * s[p] + b[p];
      }
    }
    return y;
  };
  ThreadPool pool(2);
  expect_close(run_op("InstanceNormalization", 6, {}, {x, scale6, bias6}, 1, &pool)[0], naive(1, scale6, bias6, true),
               x.shape());
  expect_close(run_op("GroupNormalization", 21, {int_attr("num_groups", 3)}, {x, scale6, bias6})[0],
               naive(2, scale6, bias6, true), x.shape());
  expect_close(run_op("GroupNormalization", 18, {int_attr("num_groups", 3)}, {x, scale3, bias3}, 1, &pool)[0],
               naive(2, scale3, bias3, false), x.shape());
  EXPECT_EQ(error_code_of([&] {
              run_op("GroupNormalization", 21, {int_attr("num_groups", 4)}, {x, scale6, bias6});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("GroupNormalization", 21, {int_attr("num_groups", 3)}, {x, scale3, bias3});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(LayerNormalization, EveryAxisBroadcastAndStatistics) {
  const Tensor x = random_float({3, 4, 5}, 51);
  const std::vector<double> xv = values_of(x);
  for (int64_t axis : {-1, 1, 0, -2}) {
    const int64_t a = axis < 0 ? axis + 3 : axis;
    const int64_t row = a == 0 ? 60 : a == 1 ? 20 : 5;
    std::vector<int64_t> pshape(x.shape().begin() + a, x.shape().end());
    const Tensor scale = random_float(pshape, 52), bias = random_float(pshape, 53);
    const std::vector<double> s = values_of(scale), b = values_of(bias);
    std::vector<double> y(xv.size()), means, invs;
    for (int64_t r = 0; r < 60 / row; ++r) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < row; ++i) mean += xv[r * row + i] / row;
      for (int64_t i = 0; i < row; ++i) var += std::pow(xv[r * row + i] - mean, 2) / row;
      means.push_back(mean);
      invs.push_back(1 / std::sqrt(var + 1e-5));
      for (int64_t i = 0; i < row; ++i) y[r * row + i] = (xv[r * row + i] - mean) * invs.back() * s[i] + b[i];
    }
    const std::vector<Tensor> out = run_op("LayerNormalization", 17, {int_attr("axis", axis)}, {x, scale, bias}, 3);
    expect_close(out[0], y, x.shape());
    std::vector<int64_t> stat_shape(x.shape().begin(), x.shape().begin() + a);
    stat_shape.resize(3, 1);
    expect_close(out[1], means, stat_shape);
    expect_close(out[2], invs, stat_shape);
    EXPECT_EQ(out[1].dtype(), DType::kFloat);
  }
  // A scale that varies along a leading axis ([3, 1, 5]) and no bias.
  const Tensor scale = random_float({3, 1, 5}, 54);
  const std::vector<double> s = values_of(scale);
  std::vector<double> y(xv.size());
  for (int64_t r = 0; r < 12; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 5; ++i) mean += xv[r * 5 + i] / 5;
    for (int64_t i = 0; i < 5; ++i) var += std::pow(xv[r * 5 + i] - mean, 2) / 5;
    for (int64_t i = 0; i < 5; ++i) y[r * 5 + i] = (xv[r * 5 + i] - mean) / std::sqrt(var + 1e-5) * s[r / 4 * 5 + i];
  }
  expect_close(run_op("LayerNormalization", 17, {}, {x, scale})[0], y, x.shape());
  EXPECT_EQ(error_code_of([&] {
              run_op("LayerNormalization", 17, {int_attr("axis", 3)}, {x, scale});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("LayerNormalization", 17, {}, {x, random_float({4}, 1)});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(Lrn, MatchesNaiveAcrossChannels) {
  const Tensor x = random_float({2, 7, 3, 4}, 61);
  const std::vector<double> xv = values_of(x);
  const int64_t size = 4;
  std::vector<double> y(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const int64_t c = static_cast<int64_t>(i) / 12 % 7, base = static_cast<int64_t>(i) - c * 12;
    double sum = 0;
    for (int64_t q = std::max<int64_t>(0, c - 1); q <= std::min<int64_t>(6, c + 2); ++q)
      sum += std::pow(xv[base + q * 12], 2);
    y[i] = xv[i] / std::pow(2.0 + 0.01 / size * sum, 0.6);
  }
  ThreadPool pool(2);
  expect_close(
      run_op("LRN", 13,
             {int_attr("size", size), float_attr("alpha", 0.01f), float_attr("beta", 0.6f), float_attr("bias", 2.0f)},
             {x}, 1, &pool)[0],
      y, x.shape());
}

TEST(Dropout, InferenceIsIdentityAndSeededTrainingMatchesNumpy) {
  const Tensor x = random_float({5}, 71);
  for (int64_t opset : {7, 10, 13}) {
    const std::vector<Tensor> y = run_op("Dropout", opset, {}, {x}, 2);
    expect_close(y[0], values_of(x), {5}, 0, 0);
    EXPECT_EQ(y[1].dtype(), opset >= 10 ? DType::kBool : DType::kFloat);
    expect_close(y[1], std::vector<double>(5, 1), {5}, 0, 0);
  }
  // np.random.seed(0); np.random.uniform(0, 1, 5) = [0.5488, 0.7152, 0.6028, 0.5449, 0.4237].
  const Tensor ratio = Tensor::scalar<float>(DType::kFloat, 0.5f);
  const Tensor training = Tensor::scalar<bool>(DType::kBool, true);
  const std::vector<Tensor> y = run_op("Dropout", 13, {int_attr("seed", 0)}, {x, ratio, training}, 2);
  expect_close(y[1], {1, 1, 1, 1, 0}, {5}, 0, 0);
  const std::vector<double> xv = values_of(x);
  expect_close(y[0], {2 * xv[0], 2 * xv[1], 2 * xv[2], 2 * xv[3], 0}, {5});
  const Tensor one = Tensor::scalar<float>(DType::kFloat, 1.0f);
  EXPECT_EQ(error_code_of([&] { run_op("Dropout", 13, {}, {x, one, training}); }), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera

// Tests of the misc operator families: losses (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss), detection
// (NonMaxSuppression, RoiAlign), image (GridSample, AffineGrid, Col2Im, CenterCropPad, Unique) and the
// ai.onnx.preview.training optimizers. Kernels are checked against naive references or identities on random,
// odd-sized inputs (serially and on a two-thread pool where the kernel splits work), and on error cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

constexpr const char* kTraining = "ai.onnx.preview.training";

Attribute int_attr(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInt;
  a.i = v;
  return a;
}

Attribute float_attr(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloat;
  a.f = v;
  return a;
}

Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInts;
  a.ints = std::move(v);
  return a;
}

Attribute string_attr(const std::string& name, std::string v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kString;
  a.s = std::move(v);
  return a;
}

// Runs one node of `op_type` (in `domain`) at `opset` on `inputs` (an undefined Tensor is a missing input).
std::vector<Tensor> run_op(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                           const std::vector<Tensor>& inputs, size_t output_count = 1,
                           Parallelism* parallelism = nullptr, const std::string& domain = "") {
  Node node;
  node.name = "n";
  node.op_type = op_type;
  node.domain = domain;
  node.opset = opset;
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(inputs[i].defined() ? "in" + std::to_string(i) : "");
  for (size_t i = 0; i < output_count; ++i) node.outputs.push_back("out" + std::to_string(i));
  for (const Attribute& a : attrs) node.attributes[a.name] = a;
  const OpRegistration* reg = OpRegistry::instance().find(domain, op_type, opset);
  if (reg == nullptr) throw Error(ErrorCode::kUnsupported, "no kernel for " + op_type);
  std::vector<TypeInfo> input_types;
  for (const Tensor& t : inputs)
    input_types.push_back(t.defined() ? TypeInfo::tensor_of_shape(t.dtype(), t.shape()) : TypeInfo{});
  KernelInfo info{node, opset, input_types, {}, std::vector<const Tensor*>(inputs.size(), nullptr), {}};
  std::unique_ptr<Kernel> kernel = reg->factory(info);
  std::vector<RuntimeValue> values;
  for (const Tensor& t : inputs) values.emplace_back(t.defined() ? RuntimeValue(t) : RuntimeValue());
  std::vector<const RuntimeValue*> input_ptrs;
  for (const RuntimeValue& v : values) input_ptrs.push_back(&v);
  std::vector<RuntimeValue> outputs(output_count);
  SerialParallelism serial;
  KernelContext ctx(node, input_ptrs, outputs, parallelism ? *parallelism : serial, {});
  kernel->compute(ctx);
  std::vector<Tensor> result;
  for (RuntimeValue& v : outputs) result.push_back(v.tensor());
  return result;
}

ErrorCode error_code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected an Error";
  return ErrorCode::kRuntime;
}

Tensor random_float(const std::vector<int64_t>& shape, uint32_t seed, float lo = -3.0f, float hi = 3.0f) {
  Tensor t(DType::kFloat, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

Tensor random_int64(const std::vector<int64_t>& shape, uint32_t seed, int64_t lo, int64_t hi) {
  Tensor t(DType::kInt64, shape);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<int64_t>()[i] = dist(rng);
  return t;
}

Tensor floats(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  Tensor t(DType::kFloat, shape);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

Tensor int64s(const std::vector<int64_t>& shape, const std::vector<int64_t>& values) {
  Tensor t(DType::kInt64, shape);
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

std::vector<float> as_vector(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.element_count()}; }
std::vector<double> as_doubles(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.element_count()}; }
std::vector<int64_t> as_int64s(const Tensor& t) { return {t.data<int64_t>(), t.data<int64_t>() + t.element_count()}; }

void expect_near_all(const Tensor& actual, const std::vector<double>& expected, double tolerance) {
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = actual.data<float>()[i];
    if (std::isnan(expected[i]))
      EXPECT_TRUE(std::isnan(a)) << "at " << i;
    else
      EXPECT_NEAR(a, expected[i], tolerance * (1 + std::fabs(expected[i]))) << "at " << i;
  }
}

// ---- losses --------------------------------------------------------------------------------------------

// Naive NLL over (N, C, D) log-probabilities; returns per-sample losses and fills the reductions.
std::vector<double> naive_nll(const std::vector<double>& logp, int64_t n, int64_t c, int64_t d,
                              const std::vector<int64_t>& target, const std::vector<float>* weight,
                              int64_t ignore_index, double& sum, double& mean) {
  std::vector<double> loss(static_cast<size_t>(n * d), 0.0);
  double weight_sum = 0;
  sum = 0;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < d; ++i) {
      const int64_t t = target[static_cast<size_t>(b * d + i)];
      if (t == ignore_index) continue;
      const double w = weight ? (*weight)[static_cast<size_t>(t)] : 1.0;
      loss[static_cast<size_t>(b * d + i)] = -logp[static_cast<size_t>((b * c + t) * d + i)] * w;
      sum += loss[static_cast<size_t>(b * d + i)];
      weight_sum += w;
    }
  }
  mean = sum / weight_sum;
  return loss;
}

TEST(MiscLossTest, NegativeLogLikelihoodMatchesNaive) {
  const int64_t n = 3, c = 5, d1 = 7, d2 = 3;
  const Tensor input = random_float({n, c, d1, d2}, 1);
  Tensor target = random_int64({n, d1, d2}, 2, 0, c - 1);
  target.data<int64_t>()[4] = -7;  // ignored
  const Tensor weight = random_float({c}, 3, 0.1f, 2.0f);
  const std::vector<float> w = as_vector(weight);
  std::vector<double> logp = as_doubles(input);
  double sum = 0, mean = 0;
  const std::vector<double> none = naive_nll(logp, n, c, d1 * d2, as_int64s(target), &w, -7, sum, mean);
  const std::vector<Attribute> ii = {int_attr("ignore_index", -7)};
  for (int64_t opset : {12, 13, 22}) {
    auto attrs = ii;
    attrs.push_back(string_attr("reduction", "none"));
    const Tensor out = run_op("NegativeLogLikelihoodLoss", opset, attrs, {input, target, weight})[0];
    EXPECT_EQ(out.shape(), (std::vector<int64_t>{n, d1, d2}));
    expect_near_all(out, none, 1e-6);
    attrs.back() = string_attr("reduction", "sum");
    expect_near_all(run_op("NegativeLogLikelihoodLoss", opset, attrs, {input, target, weight})[0], {sum}, 1e-5);
    expect_near_all(run_op("NegativeLogLikelihoodLoss", opset, ii, {input, target, weight})[0], {mean}, 1e-5);
  }
}

TEST(MiscLossTest, NegativeLogLikelihoodAllIgnoredMeanIsNaN) {
  const Tensor input = random_float({2, 3}, 4);
  const Tensor target = int64s({2}, {1, 1});
  const Tensor out = run_op("NegativeLogLikelihoodLoss", 13, {int_attr("ignore_index", 1)}, {input, target})[0];
  EXPECT_TRUE(std::isnan(out.data<float>()[0]));
}

TEST(MiscLossTest, SoftmaxCrossEntropyMatchesNaive) {
  const int64_t n = 4, c = 6, d = 5;
  const Tensor scores = random_float({n, c, d}, 5);
  const Tensor labels = random_int64({n, d}, 6, 0, c - 1);
  std::vector<double> logp(static_cast<size_t>(n * c * d));
  const std::vector<float> x = as_vector(scores);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < d; ++i) {
      double total = 0;
      for (int64_t j = 0; j < c; ++j) total += std::exp(x[static_cast<size_t>((b * c + j) * d + i)]);
      for (int64_t j = 0; j < c; ++j) {
        const auto k = static_cast<size_t>((b * c + j) * d + i);
        logp[k] = x[k] - std::log(total);
      }
    }
  }
  double sum = 0, mean = 0;
  naive_nll(logp, n, c, d, as_int64s(labels), nullptr, INT64_MIN, sum, mean);
  ThreadPool pool(2);
  const std::vector<Tensor> out = run_op("SoftmaxCrossEntropyLoss", 13, {}, {scores, labels}, 2, &pool);
  expect_near_all(out[0], {mean}, 1e-5);
  expect_near_all(out[1], logp, 1e-5);
  // int32 labels give the same result.
  Tensor labels32(DType::kInt32, labels.shape());
  for (int64_t i = 0; i < labels.element_count(); ++i)
    labels32.data<int32_t>()[i] = static_cast<int32_t>(labels.data<int64_t>()[i]);
  expect_near_all(run_op("SoftmaxCrossEntropyLoss", 12, {string_attr("reduction", "sum")}, {scores, labels32})[0],
                  {sum}, 1e-5);
}

TEST(MiscLossTest, SoftmaxCrossEntropyFloat16) {
  const Tensor scores32 = random_float({3, 4}, 7);
  Tensor scores(DType::kFloat16, {3, 4});
  for (int64_t i = 0; i < 12; ++i) scores.data<Float16>()[i] = Float16{float_to_half(scores32.data<float>()[i])};
  const Tensor labels = int64s({3}, {0, 3, 2});
  const Tensor out = run_op("SoftmaxCrossEntropyLoss", 13, {}, {scores, labels})[0];
  const Tensor ref = run_op("SoftmaxCrossEntropyLoss", 13, {}, {scores32, labels})[0];
  EXPECT_EQ(out.dtype(), DType::kFloat16);
  EXPECT_NEAR(half_to_float(out.data<Float16>()[0].bits), ref.data<float>()[0], 1e-2);
}

TEST(MiscLossTest, LossErrors) {
  const Tensor input = random_float({2, 3, 4}, 8);
  const Tensor target = int64s({2, 4}, {0, 1, 2, 3, 0, 1, 2, 0});  // 3 is out of range
  EXPECT_EQ(error_code_of([&] {
              run_op("NegativeLogLikelihoodLoss", 13, {}, {input, target});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("NegativeLogLikelihoodLoss", 13, {}, {input, int64s({2, 3}, {0, 0, 0, 0, 0, 0})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("SoftmaxCrossEntropyLoss", 13, {}, {input, target, random_float({2}, 9)});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("SoftmaxCrossEntropyLoss", 13, {string_attr("reduction", "max")}, {input, target});
            }),
            ErrorCode::kInvalidModel);
}

// ---- NonMaxSuppression ---------------------------------------------------------------------------------

double naive_iou(const float* a, const float* b) {
  const double ay0 = std::min(a[0], a[2]), ay1 = std::max(a[0], a[2]), ax0 = std::min(a[1], a[3]),
               ax1 = std::max(a[1], a[3]);
  const double by0 = std::min(b[0], b[2]), by1 = std::max(b[0], b[2]), bx0 = std::min(b[1], b[3]),
               bx1 = std::max(b[1], b[3]);
  const double ih = std::max(0.0, std::min(ay1, by1) - std::max(ay0, by0));
  const double iw = std::max(0.0, std::min(ax1, bx1) - std::max(ax0, bx0));
  const double inter = ih * iw;
  return inter / ((ay1 - ay0) * (ax1 - ax0) + (by1 - by0) * (bx1 - bx0) - inter);
}

TEST(MiscDetectionTest, NonMaxSuppressionMatchesNaiveGreedy) {
  const int64_t batches = 2, classes = 3, count = 37, max_out = 6;
  const Tensor boxes = random_float({batches, count, 4}, 10, 0.0f, 10.0f);
  const Tensor scores = random_float({batches, classes, count}, 11, 0.0f, 1.0f);
  const float iou = 0.3f, score_threshold = 0.2f;
  std::vector<int64_t> expected;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t c = 0; c < classes; ++c) {
      const float* s = scores.data<float>() + (b * classes + c) * count;
      std::vector<int64_t> order;
      for (int64_t i = 0; i < count; ++i)
        if (s[i] > score_threshold) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
      std::vector<int64_t> kept;
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) == max_out) break;
        bool ok = true;
        for (int64_t k : kept) {
          if (naive_iou(boxes.data<float>() + (b * count + i) * 4, boxes.data<float>() + (b * count + k) * 4) > iou)
            ok = false;
        }
        if (ok) kept.push_back(i);
      }
      for (int64_t k : kept) expected.insert(expected.end(), {b, c, k});
    }
  }
  const std::vector<Tensor> inputs = {boxes, scores, int64s({1}, {max_out}), floats({1}, {iou}),
                                      floats({1}, {score_threshold})};
  const Tensor out = run_op("NonMaxSuppression", 11, {}, inputs)[0];
  EXPECT_EQ(as_int64s(out), expected);
  // The same boxes as [x_center, y_center, width, height] select the same indices.
  Tensor centered(DType::kFloat, boxes.shape());
  for (int64_t i = 0; i < batches * count; ++i) {
    const float* p = boxes.data<float>() + i * 4;
    float* q = centered.data<float>() + i * 4;
    q[0] = (p[1] + p[3]) / 2;
    q[1] = (p[0] + p[2]) / 2;
    q[2] = std::fabs(p[3] - p[1]);
    q[3] = std::fabs(p[2] - p[0]);
  }
  std::vector<Tensor> centered_inputs = inputs;
  centered_inputs[0] = centered;
  EXPECT_EQ(as_int64s(run_op("NonMaxSuppression", 10, {int_attr("center_point_box", 1)}, centered_inputs)[0]),
            expected);
  // Without max_output_boxes_per_class nothing is selected.
  EXPECT_EQ(run_op("NonMaxSuppression", 11, {}, {boxes, scores})[0].shape(), (std::vector<int64_t>{0, 3}));
}

TEST(MiscDetectionTest, NonMaxSuppressionErrors) {
  const Tensor boxes = random_float({1, 5, 4}, 12);
  const Tensor scores = random_float({1, 2, 5}, 13);
  EXPECT_EQ(error_code_of([&] {
              run_op("NonMaxSuppression", 11, {}, {boxes, random_float({1, 2, 4}, 14)});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("NonMaxSuppression", 11, {}, {boxes, scores, int64s({1}, {3}), floats({1}, {1.5f})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("NonMaxSuppression", 11, {int_attr("center_point_box", 2)}, {boxes, scores});
            }),
            ErrorCode::kInvalidModel);
}

// ---- RoiAlign ------------------------------------------------------------------------------------------

TEST(MiscDetectionTest, RoiAlignConstantImageAndParallel) {
  Tensor x(DType::kFloat, {2, 3, 9, 11});
  for (int64_t i = 0; i < x.element_count(); ++i) x.data<float>()[i] = 2.5f;
  const Tensor rois = floats({2, 4}, {1.0f, 1.5f, 6.0f, 7.0f, 0.5f, 0.5f, 9.0f, 8.0f});
  const Tensor batch = int64s({2}, {1, 0});
  const std::vector<Attribute> attrs = {int_attr("output_height", 3), int_attr("output_width", 4)};
  const Tensor out = run_op("RoiAlign", 16, attrs, {x, rois, batch})[0];
  EXPECT_EQ(out.shape(), (std::vector<int64_t>{2, 3, 3, 4}));
  for (float v : as_vector(out)) EXPECT_NEAR(v, 2.5f, 1e-5);
  const Tensor random_x = random_float({2, 5, 13, 7}, 15);
  ThreadPool pool(2);
  for (const char* mode : {"avg", "max"}) {
    auto with_mode = attrs;
    with_mode.push_back(string_attr("mode", mode));
    with_mode.push_back(int_attr("sampling_ratio", 2));
    EXPECT_EQ(as_vector(run_op("RoiAlign", 22, with_mode, {random_x, rois, batch})[0]),
              as_vector(run_op("RoiAlign", 22, with_mode, {random_x, rois, batch}, 1, &pool)[0]));
  }
}

TEST(MiscDetectionTest, RoiAlignOpset10IgnoresHalfPixel) {
  const Tensor x = random_float({1, 1, 8, 8}, 16);
  const Tensor rois = floats({1, 4}, {1.0f, 2.0f, 5.0f, 6.0f});
  const Tensor batch = int64s({1}, {0});
  const Tensor legacy = run_op("RoiAlign", 10, {}, {x, rois, batch})[0];
  const Tensor explicit_output_half_pixel =
      run_op("RoiAlign", 16, {string_attr("coordinate_transformation_mode", "output_half_pixel")}, {x, rois, batch})[0];
  const Tensor half_pixel = run_op("RoiAlign", 16, {}, {x, rois, batch})[0];
  EXPECT_EQ(as_vector(legacy), as_vector(explicit_output_half_pixel));
  EXPECT_NE(as_vector(legacy), as_vector(half_pixel));
}

TEST(MiscDetectionTest, RoiAlignErrors) {
  const Tensor x = random_float({1, 2, 4, 4}, 17);
  const Tensor rois = floats({1, 4}, {0, 0, 2, 2});
  EXPECT_EQ(error_code_of([&] {
              run_op("RoiAlign", 16, {}, {x, rois, int64s({1}, {1})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("RoiAlign", 16, {}, {x, floats({1, 3}, {0, 0, 2}), int64s({1}, {0})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("RoiAlign", 16, {string_attr("mode", "sum")}, {x, rois, int64s({1}, {0})});
            }),
            ErrorCode::kInvalidModel);
}

// ---- GridSample and AffineGrid -------------------------------------------------------------------------

// The grid that maps every output pixel to the centre of the same input pixel (align_corners = 1).
Tensor identity_grid(const std::vector<int64_t>& spatial, int64_t batch) {
  const Tensor theta = [&] {
    const int64_t r = static_cast<int64_t>(spatial.size());
    Tensor t(DType::kFloat, {batch, r, r + 1});
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < r; ++i) t.data<float>()[(b * r + i) * (r + 1) + i] = 1.0f;
    }
    return t;
  }();
  std::vector<int64_t> size = {batch, 1};
  size.insert(size.end(), spatial.begin(), spatial.end());
  return run_op("AffineGrid", 20, {int_attr("align_corners", 1)},
                {theta, int64s({static_cast<int64_t>(size.size())}, size)})[0];
}

TEST(MiscImageTest, GridSampleIdentityGridReproducesInput) {
  const Tensor x = random_float({2, 3, 7, 5}, 18);
  const Tensor grid = identity_grid({7, 5}, 2);
  EXPECT_EQ(grid.shape(), (std::vector<int64_t>{2, 7, 5, 2}));
  for (const char* mode : {"linear", "nearest", "cubic"}) {
    const std::vector<Attribute> attrs = {string_attr("mode", mode), int_attr("align_corners", 1)};
    expect_near_all(run_op("GridSample", 20, attrs, {x, grid})[0], as_doubles(x), 1e-5);
  }
  const Tensor x3 = random_float({1, 2, 3, 4, 5}, 19);
  for (const char* mode : {"linear", "nearest"}) {
    const std::vector<Attribute> attrs = {string_attr("mode", mode), int_attr("align_corners", 1)};
    expect_near_all(run_op("GridSample", 22, attrs, {x3, identity_grid({3, 4, 5}, 1)})[0], as_doubles(x3), 1e-5);
  }
}

// A naive bilinear GridSample (4-D, zeros padding, align_corners = 0).
double naive_bilinear(const float* plane, int64_t h, int64_t w, double gx, double gy) {
  const double x = ((gx + 1) * static_cast<double>(w) - 1) / 2, y = ((gy + 1) * static_cast<double>(h) - 1) / 2;
  const double x0 = std::floor(x), y0 = std::floor(y);
  double value = 0;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const auto xi = static_cast<int64_t>(x0) + dx, yi = static_cast<int64_t>(y0) + dy;
      if (xi < 0 || xi >= w || yi < 0 || yi >= h) continue;
      value += (dx ? x - x0 : 1 - (x - x0)) * (dy ? y - y0 : 1 - (y - y0)) * plane[yi * w + xi];
    }
  }
  return value;
}

TEST(MiscImageTest, GridSampleBilinearMatchesNaiveAndParallel) {
  const int64_t n = 2, c = 3, h = 6, w = 9, oh = 5, ow = 11;
  const Tensor x = random_float({n, c, h, w}, 20);
  const Tensor grid = random_float({n, oh, ow, 2}, 21, -1.3f, 1.3f);
  std::vector<double> expected;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t p = 0; p < oh * ow; ++p) {
        const float* g = grid.data<float>() + (b * oh * ow + p) * 2;
        expected.push_back(naive_bilinear(x.data<float>() + (b * c + ch) * h * w, h, w, g[0], g[1]));
      }
    }
  }
  ThreadPool pool(2);
  expect_near_all(run_op("GridSample", 16, {}, {x, grid})[0], expected, 1e-5);
  expect_near_all(run_op("GridSample", 20, {}, {x, grid}, 1, &pool)[0], expected, 1e-5);
  for (const char* padding : {"zeros", "border", "reflection"}) {
    for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
      const std::vector<Attribute> attrs = {string_attr("mode", mode), string_attr("padding_mode", padding)};
      EXPECT_EQ(as_vector(run_op("GridSample", 16, attrs, {x, grid})[0]),
                as_vector(run_op("GridSample", 16, attrs, {x, grid}, 1, &pool)[0]))
          << mode << " " << padding;
    }
  }
}

TEST(MiscImageTest, GridSampleIntegerAndStringInputs) {
  Tensor x(DType::kUint8, {1, 1, 2, 2});
  const uint8_t values[] = {0, 255, 255, 255};
  std::copy(values, values + 4, x.data<uint8_t>());
  const Tensor grid = floats({1, 1, 2, 2}, {0.0f, 0.0f, 0.9f, 0.9f});
  const Tensor out =
      run_op("GridSample", 20,
             {int_attr("align_corners", 1), string_attr("mode", "cubic"), string_attr("padding_mode", "border")},
             {x, grid})[0];
  EXPECT_EQ(out.dtype(), DType::kUint8);
  EXPECT_GE(out.data<uint8_t>()[1], 250);  // cubic overshoot saturates rather than wrapping
  Tensor s(DType::kString, {1, 1, 1, 2});
  s.data<std::string>()[0] = "left";
  s.data<std::string>()[1] = "right";
  const Tensor sg = floats({1, 1, 1, 2}, {0.6f, 0.0f});
  EXPECT_EQ(run_op("GridSample", 20, {string_attr("mode", "nearest")}, {s, sg})[0].data<std::string>()[0], "right");
  EXPECT_EQ(error_code_of([&] { run_op("GridSample", 20, {}, {s, sg}); }), ErrorCode::kInvalidArgument);
}

TEST(MiscImageTest, GridSampleErrors) {
  const Tensor x = random_float({1, 1, 4, 4}, 22);
  const Tensor grid = random_float({1, 3, 3, 2}, 23, -1, 1);
  EXPECT_EQ(error_code_of([&] {
              run_op("GridSample", 16, {string_attr("mode", "linear")}, {x, grid});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] {
              run_op("GridSample", 20, {string_attr("mode", "bilinear")}, {x, grid});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] {
              run_op("GridSample", 20, {}, {x, random_float({1, 3, 3, 3}, 24)});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("GridSample", 20, {}, {x, random_float({2, 3, 3, 2}, 25)});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("AffineGrid", 20, {}, {random_float({1, 2, 3}, 26), int64s({5}, {1, 1, 2, 2, 2})});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(MiscImageTest, AffineGridMatchesFormula) {
  const Tensor theta = random_float({2, 2, 3}, 27);
  const int64_t h = 3, w = 5;
  const Tensor grid = run_op("AffineGrid", 20, {}, {theta, int64s({4}, {2, 7, h, w})})[0];
  ASSERT_EQ(grid.shape(), (std::vector<int64_t>{2, h, w, 2}));
  std::vector<double> expected;
  for (int64_t b = 0; b < 2; ++b) {
    const float* t = theta.data<float>() + b * 6;
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < w; ++j) {
        const double x = (2.0 * static_cast<double>(j) + 1) / w - 1, y = (2.0 * static_cast<double>(i) + 1) / h - 1;
        expected.push_back(t[0] * x + t[1] * y + t[2]);
        expected.push_back(t[3] * x + t[4] * y + t[5]);
      }
    }
  }
  expect_near_all(grid, expected, 1e-6);
}

// ---- Col2Im --------------------------------------------------------------------------------------------

// Naive N-D im2col of image (C, dims...) into columns (C * prod(block), L) — Col2Im's adjoint.
std::vector<double> naive_im2col(const std::vector<float>& image, int64_t channels, const std::vector<int64_t>& dims,
                                 const std::vector<int64_t>& block, const std::vector<int64_t>& dil,
                                 const std::vector<int64_t>& pads, const std::vector<int64_t>& strides,
                                 int64_t& block_count) {
  const size_t r = dims.size();
  std::vector<int64_t> blocks(r);
  block_count = 1;
  int64_t block_size = 1, image_size = 1;
  for (size_t i = 0; i < r; ++i) {
    blocks[i] = (dims[i] + pads[i] + pads[i + r] - dil[i] * (block[i] - 1) - 1) / strides[i] + 1;
    block_count *= blocks[i];
    block_size *= block[i];
    image_size *= dims[i];
  }
  std::vector<double> cols(static_cast<size_t>(channels * block_size * block_count), 0.0);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t b = 0; b < block_size; ++b) {
      for (int64_t l = 0; l < block_count; ++l) {
        int64_t bb = b, ll = l, offset = 0;
        bool inside = true;
        std::vector<int64_t> pos(r);
        for (size_t i = r; i-- > 0;) {
          const int64_t k = bb % block[i], s = ll % blocks[i];
          bb /= block[i];
          ll /= blocks[i];
          pos[i] = s * strides[i] - pads[i] + k * dil[i];
          inside = inside && pos[i] >= 0 && pos[i] < dims[i];
        }
        if (!inside) continue;
        for (size_t i = 0; i < r; ++i) offset = offset * dims[i] + pos[i];
        cols[static_cast<size_t>((c * block_size + b) * block_count + l)] =
            image[static_cast<size_t>(c * image_size + offset)];
      }
    }
  }
  return cols;
}

TEST(MiscImageTest, Col2ImIsTheAdjointOfIm2Col) {
  struct Case {
    std::vector<int64_t> dims, block, dil, pads, strides;
  };
  const Case cases[] = {{{5, 7}, {2, 3}, {1, 2}, {1, 0, 2, 1}, {2, 1}},
                        {{4, 3, 5}, {2, 1, 3}, {1, 1, 1}, {0, 1, 1, 1, 0, 2}, {1, 2, 2}},
                        {{9, 6}, {3, 3}, {2, 1}, {0, 0, 0, 0}, {3, 2}}};
  ThreadPool pool(2);
  uint32_t seed = 30;
  for (const Case& k : cases) {
    const int64_t channels = 3;
    int64_t image_size = 1, block_size = 1;
    for (int64_t d : k.dims) image_size *= d;
    for (int64_t b : k.block) block_size *= b;
    const Tensor image = random_float({channels * image_size}, seed++);
    int64_t block_count = 0;
    const std::vector<double> cols =
        naive_im2col(as_vector(image), channels, k.dims, k.block, k.dil, k.pads, k.strides, block_count);
    const Tensor columns = random_float({1, channels * block_size, block_count}, seed++);
    const std::vector<Attribute> attrs = {ints_attr("dilations", k.dil), ints_attr("pads", k.pads),
                                          ints_attr("strides", k.strides)};
    const auto r = static_cast<int64_t>(k.dims.size());
    const Tensor out = run_op("Col2Im", 18, attrs, {columns, int64s({r}, k.dims), int64s({r}, k.block)}, 1, &pool)[0];
    ASSERT_EQ(out.element_count(), channels * image_size);
    // <col2im(columns), image> == <columns, im2col(image)>
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < out.element_count(); ++i) lhs += out.data<float>()[i] * image.data<float>()[i];
    for (size_t i = 0; i < cols.size(); ++i) rhs += columns.data<float>()[i] * cols[i];
    EXPECT_NEAR(lhs, rhs, 1e-3 * (1 + std::fabs(rhs)));
  }
}

TEST(MiscImageTest, Col2ImErrors) {
  const Tensor columns = random_float({1, 4, 5}, 40);
  EXPECT_EQ(error_code_of([&] {
              run_op("Col2Im", 18, {}, {columns, int64s({2}, {3, 3}), int64s({2}, {2, 2})});
            }),
            ErrorCode::kInvalidArgument);  // L should be 4
  EXPECT_EQ(error_code_of([&] {
              run_op("Col2Im", 18, {}, {columns, int64s({2}, {3, 3}), int64s({1}, {2})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("Col2Im", 18, {}, {columns, int64s({2}, {1, 1}), int64s({2}, {2, 2})});
            }),
            ErrorCode::kInvalidArgument);
}

// ---- CenterCropPad -------------------------------------------------------------------------------------

TEST(MiscImageTest, CenterCropPadCropsAndPads) {
  const Tensor x = random_float({5, 4, 3}, 41);
  // Axis 0: crop 5 -> 2 (start 1); axis 1: pad 4 -> 7 (1 before, 2 after); axis 2 unchanged.
  const Tensor out = run_op("CenterCropPad", 18, {ints_attr("axes", {0, -2})}, {x, int64s({2}, {2, 7})})[0];
  ASSERT_EQ(out.shape(), (std::vector<int64_t>{2, 7, 3}));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 7; ++j) {
      for (int64_t k = 0; k < 3; ++k) {
        const float expected = (j >= 1 && j < 5) ? x.data<float>()[((i + 1) * 4 + (j - 1)) * 3 + k] : 0.0f;
        EXPECT_EQ(out.data<float>()[(i * 7 + j) * 3 + k], expected);
      }
    }
  }
  Tensor s(DType::kString, {3});
  s.data<std::string>()[1] = "mid";
  EXPECT_EQ(run_op("CenterCropPad", 18, {}, {s, int64s({1}, {1})})[0].data<std::string>()[0], "mid");
  EXPECT_EQ(error_code_of([&] {
              run_op("CenterCropPad", 18, {ints_attr("axes", {0, -3})}, {x, int64s({2}, {1, 1})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("CenterCropPad", 18, {}, {x, int64s({2}, {1, 1})});
            }),
            ErrorCode::kInvalidArgument);
}

// ---- Unique --------------------------------------------------------------------------------------------

TEST(MiscImageTest, UniqueMatchesNaive) {
  const Tensor x = random_int64({6, 7}, 42, -4, 4);
  const std::vector<int64_t> v = as_int64s(x);
  std::map<int64_t, std::pair<int64_t, int64_t>> seen;  // value -> (first index, count)
  for (size_t i = 0; i < v.size(); ++i) {
    auto [it, fresh] = seen.try_emplace(v[i], static_cast<int64_t>(i), 0);
    it->second.second += 1;
  }
  std::vector<int64_t> values, first, counts;
  for (const auto& [value, info] : seen) {
    values.push_back(value);
    first.push_back(info.first);
    counts.push_back(info.second);
  }
  const std::vector<Tensor> sorted = run_op("Unique", 11, {}, {x}, 4);
  EXPECT_EQ(as_int64s(sorted[0]), values);
  EXPECT_EQ(as_int64s(sorted[1]), first);
  EXPECT_EQ(as_int64s(sorted[3]), counts);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(values[static_cast<size_t>(sorted[2].data<int64_t>()[i])], v[i]);
  const std::vector<Tensor> unsorted = run_op("Unique", 11, {int_attr("sorted", 0)}, {x}, 4);
  std::vector<int64_t> by_occurrence = first;
  std::sort(by_occurrence.begin(), by_occurrence.end());
  EXPECT_EQ(as_int64s(unsorted[1]), by_occurrence);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(unsorted[0].data<int64_t>()[unsorted[2].data<int64_t>()[i]], v[i]);
}

TEST(MiscImageTest, UniqueAlongAxis) {
  // Columns of a 2x5 matrix: c0 = c3, c1 = c4.
  const Tensor x = floats({2, 5}, {1, 0, 2, 1, 0, 3, 1, 2, 3, 1});
  const std::vector<Tensor> out = run_op("Unique", 11, {int_attr("axis", -1)}, {x}, 4);
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(as_vector(out[0]), (std::vector<float>{0, 1, 2, 1, 3, 2}));
  EXPECT_EQ(as_int64s(out[1]), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(as_int64s(out[2]), (std::vector<int64_t>{1, 0, 2, 1, 0}));
  EXPECT_EQ(as_int64s(out[3]), (std::vector<int64_t>{2, 2, 1}));
  Tensor s(DType::kString, {4});
  for (int i = 0; i < 4; ++i) s.data<std::string>()[i] = std::string(1, "bab c"[i]);
  EXPECT_EQ(run_op("Unique", 11, {}, {s})[0].element_count(), 3);
  EXPECT_EQ(error_code_of([&] { run_op("Unique", 11, {int_attr("axis", 2)}, {x}); }), ErrorCode::kInvalidArgument);
}

// ---- training ------------------------------------------------------------------------------------------

TEST(MiscTrainingTest, OptimizersMatchFormulasAndGroupIndependently) {
  const Tensor r = floats({}, {0.1f});
  const Tensor t = int64s({}, {3});
  const Tensor x1 = random_float({3}, 50), x2 = random_float({2, 2}, 51);
  const Tensor g1 = random_float({3}, 52), g2 = random_float({2, 2}, 53);
  const Tensor v1 = random_float({3}, 54), v2 = random_float({2, 2}, 55);
  const Tensor h1 = random_float({3}, 56, 0, 1), h2 = random_float({2, 2}, 57, 0, 1);
  const std::vector<Attribute> momentum = {float_attr("alpha", 0.9f), float_attr("beta", 0.5f),
                                           float_attr("norm_coefficient", 0.01f), string_attr("mode", "nesterov")};
  const auto both = run_op("Momentum", 1, momentum, {r, t, x1, x2, g1, g2, v1, v2}, 4, nullptr, kTraining);
  const auto one = run_op("Momentum", 1, momentum, {r, t, x2, g2, v2}, 2, nullptr, kTraining);
  EXPECT_EQ(as_vector(both[1]), as_vector(one[0]));
  EXPECT_EQ(as_vector(both[3]), as_vector(one[1]));
  const double x = x1.data<float>()[0], g = g1.data<float>()[0], v = v1.data<float>()[0];
  const double gr = 0.01f * x + g;
  const double v_new = 0.9f * v + 0.5 * gr;
  EXPECT_NEAR(both[2].data<float>()[0], v_new, 1e-5);
  EXPECT_NEAR(both[0].data<float>()[0], x - 0.1f * (gr + 0.9f * v_new), 1e-5);

  const auto adagrad = run_op("Adagrad", 1, {float_attr("epsilon", 1e-3f), float_attr("decay_factor", 0.5f)},
                              {r, t, x1, g1, h1}, 2, nullptr, kTraining);
  const double h = h1.data<float>()[0];
  EXPECT_NEAR(adagrad[1].data<float>()[0], h + g * g, 1e-5);
  EXPECT_NEAR(adagrad[0].data<float>()[0], x - 0.1f / 2.5 * g / (std::sqrt(h + g * g) + 1e-3f), 1e-5);

  const auto adam =
      run_op("Adam", 1, {float_attr("epsilon", 1e-2f)}, {r, t, x1, x2, g1, g2, v1, v2, h1, h2}, 6, nullptr, kTraining);
  const double am = 0.9f * v + (1 - 0.9f) * g, ah = 0.999f * h + (1 - 0.999f) * g * g;
  const double rate = 0.1f * std::sqrt(1 - std::pow(0.999f, 3)) / (1 - std::pow(0.9f, 3));
  EXPECT_NEAR(adam[2].data<float>()[0], am, 1e-5);
  EXPECT_NEAR(adam[4].data<float>()[0], ah, 1e-5);
  EXPECT_NEAR(adam[0].data<float>()[0], x - rate * am / (std::sqrt(ah) + 1e-2f), 1e-5);
}

TEST(MiscTrainingTest, OptimizerErrors) {
  const Tensor r = floats({}, {0.1f});
  const Tensor t = int64s({}, {0});
  const Tensor x = random_float({3}, 60);
  EXPECT_EQ(error_code_of([&] {
              run_op("Adagrad", 1, {}, {r, t, x, x}, 2, nullptr, kTraining);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("Adagrad", 1, {}, {r, t, x, random_float({4}, 61), x}, 2, nullptr, kTraining);
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("Momentum", 1, {}, {r, t, x, x, x}, 2, nullptr, kTraining);
            }),
            ErrorCode::kInvalidModel);
}

}  // namespace
}  // namespace tessera

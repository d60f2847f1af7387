// Tests of Resize and Upsample against a transcription of the ONNX reference algorithm (nested 1-D
// interpolation over edge-padded neighbours), across modes, coordinate transformations, nearest roundings,
// antialias, exclude_outside, axes and keep_aspect_ratio_policy; plus integer and narrow-float inputs,
// shape inference and the error cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "ops/nn_test_util.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;

struct RefOptions {
  std::string mode = "nearest";
  std::string ctm = "half_pixel";
  std::string nearest_mode = "round_prefer_floor";
  double a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation = 0;
};

std::vector<double> ref_coeffs(const RefOptions& o, double ratio, double scale) {
  const bool integer = ratio == std::floor(ratio);
  if (o.mode == "nearest") {
    if (integer) return {0, 1};
    if (o.nearest_mode == "round_prefer_floor") return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
    if (o.nearest_mode == "round_prefer_ceil") return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
    if (o.nearest_mode == "floor") return {1, 0};
    return {0, 1};
  }
  if (o.antialias) {
    const double s = std::min(scale, 1.0);
    const bool cubic = o.mode == "cubic";
    const int64_t start = static_cast<int64_t>(std::floor((cubic ? -2 : -1) / s)) + 1;
    std::vector<double> c;
    for (int64_t i = start; i < 2 - start; ++i) {
      const double x = std::abs(s * (i - ratio));
      if (!cubic) {
        c.push_back(std::clamp(1 - x, 0.0, 1.0));
      } else if (x <= 1) {
        c.push_back((o.a + 2) * x * x * x - (o.a + 3) * x * x + 1);
      } else if (x < 2) {
        c.push_back(o.a * x * x * x - 5 * o.a * x * x + 8 * o.a * x - 4 * o.a);
      } else {
        c.push_back(0);
      }
    }
    const double sum = std::accumulate(c.begin(), c.end(), 0.0);
    for (double& v : c) v /= sum;
    return c;
  }
  if (o.mode == "linear") return {1 - ratio, ratio};
  const double A = o.a, r = ratio;
  return {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A, ((A + 2) * r - (A + 3)) * r * r + 1,
          ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
          ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A};
}

// _interpolate_1d_with_x of the ONNX reference.
double ref_1d(const RefOptions& o, const std::vector<double>& data, double scale, double output_width,
              int64_t output_int, int64_t x, double roi_start, double roi_end) {
  const double in = static_cast<double>(data.size());
  double x_ori = 0;
  if (o.ctm == "align_corners")
    x_ori = output_width == 1 ? 0 : x * (in - 1) / (output_width - 1);
  else if (o.ctm == "asymmetric")
    x_ori = x / scale;
  else if (o.ctm == "pytorch_half_pixel")
    x_ori = output_width == 1 ? 0 : (x + 0.5) / scale - 0.5;
  else if (o.ctm == "half_pixel")
    x_ori = (x + 0.5) / scale - 0.5;
  else if (o.ctm == "half_pixel_symmetric") {
    const double adjustment = output_int / output_width;
    x_ori = in / 2 * (1 - adjustment) + (x + 0.5) / scale - 0.5;
  } else {  // tf_crop_and_resize
    x_ori = output_width == 1 ? (roi_end - roi_start) * (in - 1) / 2
                              : x * (roi_end - roi_start) * (in - 1) / (output_width - 1);
    x_ori += roi_start * (in - 1);
    if (x_ori < 0 || x_ori > in - 1) return o.extrapolation;
  }
  const double ratio = x_ori == std::floor(x_ori) ? 1 : x_ori - std::floor(x_ori);
  std::vector<double> coeffs = ref_coeffs(o, ratio, scale);
  const int64_t n = static_cast<int64_t>(coeffs.size());
  // The n nearest indexes of the edge-padded array (ties prefer the smaller index).
  const int64_t pad = (n + 1) / 2;
  const int64_t limit = static_cast<int64_t>(data.size()) + 2 * pad;
  std::vector<int64_t> idx(static_cast<size_t>(limit));
  std::iota(idx.begin(), idx.end(), 0);
  // Distances measured in unpadded coordinates: x_ori + pad can round (1 + 2^-52 + 1 == 2), which makes the
  // reference pick a neighbour the exact coordinate would not.
  auto distance = [&](int64_t p) { return std::abs(x_ori - static_cast<double>(p - pad)); };
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t p, int64_t q) { return distance(p) < distance(q); });
  idx.resize(static_cast<size_t>(n));
  std::sort(idx.begin(), idx.end());
  double sum = 0, value = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = idx[k] - pad;
    if (o.exclude_outside && (i < 0 || i >= static_cast<int64_t>(data.size()))) coeffs[k] = 0;
    sum += coeffs[k];
  }
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = std::clamp<int64_t>(idx[k] - pad, 0, static_cast<int64_t>(data.size()) - 1);
    value += (o.exclude_outside ? coeffs[k] / sum : coeffs[k]) * data[i];
  }
  return value;
}

struct RefAxis {
  double scale;
  double output_width;
  int64_t output;
  double roi_start = 0, roi_end = 1;
};

// _interpolate_nd_with_x: data of `shape`, recursing over the leading axis.
double ref_nd(const RefOptions& o, const std::vector<double>& data, const std::vector<int64_t>& shape,
              const std::vector<RefAxis>& axes, const std::vector<int64_t>& x, size_t axis) {
  const int64_t inner = shape_element_count(std::vector<int64_t>(shape.begin() + 1, shape.end()));
  std::vector<double> rows;
  for (int64_t i = 0; i < shape[0]; ++i) {
    if (shape.size() == 1) {
      rows.push_back(data[i]);
      continue;
    }
    const std::vector<double> sub(data.begin() + i * inner, data.begin() + (i + 1) * inner);
    rows.push_back(ref_nd(o, sub, std::vector<int64_t>(shape.begin() + 1, shape.end()), axes, x, axis + 1));
  }
  const RefAxis& a = axes[axis];
  return ref_1d(o, rows, a.scale, a.output_width, a.output, x[axis], a.roi_start, a.roi_end);
}

std::vector<double> ref_resize(const RefOptions& o, const Tensor& x, const std::vector<RefAxis>& axes,
                               std::vector<int64_t>& out_shape) {
  out_shape.clear();
  for (const RefAxis& a : axes) out_shape.push_back(a.output);
  const std::vector<double> data = values_of(x);
  std::vector<double> y;
  std::vector<int64_t> idx(out_shape.size(), 0);
  for (int64_t i = 0; i < shape_element_count(out_shape); ++i) {
    y.push_back(ref_nd(o, data, x.shape(), axes, idx, 0));
    for (size_t k = idx.size(); k-- > 0;) {
      if (++idx[k] < out_shape[k]) break;
      idx[k] = 0;
    }
  }
  return y;
}

std::vector<Attribute> resize_attrs(const RefOptions& o) {
  return {string_attr("mode", o.mode),
          string_attr("coordinate_transformation_mode", o.ctm),
          string_attr("nearest_mode", o.nearest_mode),
          float_attr("cubic_coeff_a", static_cast<float>(o.a)),
          int_attr("exclude_outside", o.exclude_outside ? 1 : 0),
          int_attr("antialias", o.antialias ? 1 : 0),
          float_attr("extrapolation_value", static_cast<float>(o.extrapolation))};
}

TEST(Resize, MatchesReferenceAcrossModesAndCoordinateTransforms) {
  const Tensor x = random_float({1, 2, 5, 7}, 81);
  const char* ctms[] = {"half_pixel",    "half_pixel_symmetric", "pytorch_half_pixel",
                        "align_corners", "asymmetric",           "tf_crop_and_resize"};
  const char* nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  const std::vector<std::vector<float>> scale_sets = {{1, 1, 0.6f, 1.7f}, {1, 1, 2.0f, 0.5f}, {1, 1, 1.3f, 3.0f}};
  ThreadPool pool(2);
  int trial = 0;
  for (const char* mode : {"nearest", "linear", "cubic"}) {
    for (const char* ctm : ctms) {
      for (const std::vector<float>& scales : scale_sets) {
        for (bool use_sizes : {false, true}) {
          ++trial;
          RefOptions o;
          o.mode = mode;
          o.ctm = ctm;
          o.nearest_mode = nearest[trial % 4];
          o.exclude_outside = trial % 3 == 0 && o.mode != "nearest";  // the reference divides by 0 there
          o.extrapolation = 10;
          std::vector<RefAxis> axes;
          std::vector<int64_t> sizes;
          const std::vector<double> roi{0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2};
          for (size_t d = 0; d < 4; ++d) {
            const double in = static_cast<double>(x.dim(d));
            RefAxis a;
            a.output = static_cast<int64_t>(std::floor(in * scales[d]));
            a.scale = use_sizes ? a.output / in : scales[d];
            a.output_width = use_sizes ? static_cast<double>(a.output) : in * scales[d];
            if (o.ctm == "tf_crop_and_resize") {
              a.roi_start = roi[d];
              a.roi_end = roi[d + 4];
            }
            axes.push_back(a);
            sizes.push_back(a.output);
          }
          std::vector<int64_t> out_shape;
          const std::vector<double> expected = ref_resize(o, x, axes, out_shape);
          const Tensor roi_t = Tensor::from_vector(DType::kFloat, std::vector<float>(roi.begin(), roi.end()));
          const Tensor y =
              use_sizes
                  ? run_op("Resize", 19, resize_attrs(o),
                           {x, roi_t, Tensor(), Tensor::from_vector(DType::kInt64, sizes)}, 1, &pool)[0]
                  : run_op("Resize", 19, resize_attrs(o), {x, roi_t, Tensor::from_vector(DType::kFloat, scales)})[0];
          SCOPED_TRACE(std::string(mode) + " " + ctm + " " + o.nearest_mode + (use_sizes ? " sizes" : " scales"));
          expect_close(y, expected, out_shape, 1e-4, 1e-4);
        }
      }
    }
  }
}

TEST(Resize, AntialiasDownsamplingMatchesReference) {
  const Tensor x = random_float({1, 1, 9, 11}, 82);
  for (const char* mode : {"linear", "cubic"}) {
    for (bool exclude : {false, true}) {
      RefOptions o;
      o.mode = mode;
      o.antialias = true;
      o.exclude_outside = exclude;
      const std::vector<float> scales{1, 1, 0.4f, 0.7f};
      std::vector<RefAxis> axes;
      for (size_t d = 0; d < 4; ++d) {
        const double in = static_cast<double>(x.dim(d));
        axes.push_back({scales[d], in * scales[d], static_cast<int64_t>(std::floor(in * scales[d]))});
      }
      std::vector<int64_t> out_shape;
      const std::vector<double> expected = ref_resize(o, x, axes, out_shape);
      const Tensor y =
          run_op("Resize", 18, resize_attrs(o), {x, Tensor(), Tensor::from_vector(DType::kFloat, scales)})[0];
      SCOPED_TRACE(mode);
      expect_close(y, expected, out_shape, 1e-4, 1e-4);
    }
  }
}

TEST(Resize, AxesAndKeepAspectRatioPolicies) {
  const Tensor x = random_float({2, 3, 4, 6}, 83);
  RefOptions o;
  o.mode = "linear";
  for (const char* policy : {"stretch", "not_larger", "not_smaller"}) {
    // sizes [5, 5] on axes (2, 3): stretch -> 5x5; not_larger -> scale min(5/4, 5/6); not_smaller -> max.
    const double s = std::string(policy) == "not_larger" ? 5.0 / 6 : 5.0 / 4;
    std::vector<RefAxis> axes{{1, 2, 2}, {1, 3, 3}};
    for (int64_t in : {4, 6}) {
      const bool stretch = std::string(policy) == "stretch";
      const int64_t out = stretch ? 5 : static_cast<int64_t>(s * in + 0.5);
      axes.push_back({stretch ? 5.0 / in : s, stretch ? 5.0 : s * in, out});
    }
    std::vector<int64_t> out_shape;
    const std::vector<double> expected = ref_resize(o, x, axes, out_shape);
    std::vector<Attribute> attrs = resize_attrs(o);
    attrs.push_back(ints_attr("axes", {-2, 3}));
    attrs.push_back(string_attr("keep_aspect_ratio_policy", policy));
    const Tensor y =
        run_op("Resize", 19, attrs, {x, Tensor(), Tensor(), Tensor::from_vector<int64_t>(DType::kInt64, {5, 5})})[0];
    SCOPED_TRACE(policy);
    expect_close(y, expected, out_shape, 1e-4, 1e-4);
  }
}

TEST(Resize, IntegerAndNarrowFloatInputs) {
  const Tensor xf = random_float({1, 1, 4, 5}, 84, 0, 250);
  const Tensor scales = Tensor::from_vector<float>(DType::kFloat, {1, 1, 1.5f, 0.8f});
  const std::vector<Attribute> attrs{string_attr("mode", "linear")};
  const std::vector<double> expected = values_of(run_op("Resize", 13, attrs, {xf, Tensor(), scales})[0]);
  // uint8: the float result rounded toward zero; float16 within its precision.
  const Tensor yu = run_op("Resize", 13, attrs, {to_dtype(xf, DType::kUint8), Tensor(), scales})[0];
  EXPECT_EQ(yu.dtype(), DType::kUint8);
  const std::vector<double> xu = values_of(to_dtype(xf, DType::kUint8));
  Tensor xu_float(DType::kFloat, xf.shape());
  for (size_t i = 0; i < xu.size(); ++i) xu_float.data<float>()[i] = static_cast<float>(xu[i]);
  std::vector<double> trunc = values_of(run_op("Resize", 13, attrs, {xu_float, Tensor(), scales})[0]);
  for (double& v : trunc) v = std::trunc(v);
  expect_close(yu, trunc, {1, 1, 6, 4}, 0, 1.0001);
  const Tensor yh = run_op("Resize", 13, attrs, {to_dtype(xf, DType::kFloat16), Tensor(), scales})[0];
  EXPECT_EQ(yh.dtype(), DType::kFloat16);
  expect_close(yh, expected, {1, 1, 6, 4}, 2e-3, 0.2);
  // Nearest copies any dtype, strings included.
  Tensor xs(DType::kString, {2});
  xs.data<std::string>()[0] = "a";
  xs.data<std::string>()[1] = "b";
  const Tensor ys = run_op("Resize", 13, {}, {xs, Tensor(), Tensor::from_vector<float>(DType::kFloat, {2.0f})})[0];
  ASSERT_EQ(ys.element_count(), 4);
  EXPECT_EQ(ys.data<std::string>()[0], "a");
  EXPECT_EQ(ys.data<std::string>()[3], "b");
}

TEST(Upsample, NearestRepeatsAndLinearIsAsymmetric) {
  Tensor x(DType::kFloat, {1, 1, 2, 2});
  const float v[] = {1, 2, 3, 4};
  std::copy(v, v + 4, x.data<float>());
  const Tensor nearest = run_op("Upsample", 9, {}, {x, Tensor::from_vector<float>(DType::kFloat, {1, 1, 2, 3})})[0];
  expect_close(nearest, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, {1, 1, 4, 6}, 0, 0);
  const Tensor linear =
      run_op("Upsample", 7, {string_attr("mode", "linear"), floats_attr("scales", {1, 1, 2, 2})}, {x})[0];
  expect_close(linear, {1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4}, {1, 1, 4, 4});
}

TEST(Resize, ShapeInferenceFromConstantScalesAndSizes) {
  Node node = make_node("Resize", 13, {}, 4, 1);
  node.inputs[1] = "";
  node.inputs[2] = "";
  TypeInfo x = TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::named("N"), Dim::known(3), Dim::known(10), Dim{}});
  const Tensor sizes = Tensor::from_vector<int64_t>(DType::kInt64, {1, 3, 20, 7});
  InferenceContext ctx(node, {&x, nullptr, nullptr, nullptr}, {nullptr, nullptr, nullptr, &sizes});
  OpRegistry::instance().find("", "Resize", 13)->infer(ctx);
  EXPECT_EQ(ctx.output_types()[0].to_string(), "float[1,3,20,7]");
}

TEST(Resize, ErrorsNameTheProblem) {
  const Tensor x = random_float({1, 1, 4, 4}, 85);
  const Tensor scales = Tensor::from_vector<float>(DType::kFloat, {1, 1, 2, 2});
  const Tensor sizes = Tensor::from_vector<int64_t>(DType::kInt64, {1, 1, 8, 8});
  EXPECT_EQ(error_code_of([&] {
              run_op("Resize", 13, {}, {x, Tensor(), scales, sizes});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { run_op("Resize", 13, {}, {x}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("Resize", 13, {}, {x, Tensor(), Tensor::from_vector<float>(DType::kFloat, {2, 2})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("Resize", 13, {}, {x, Tensor(), Tensor::from_vector<float>(DType::kFloat, {1, 1, -1, 2})});
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("Resize", 13, {string_attr("mode", "bicubic")}, {x, Tensor(), scales});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] {
              run_op("Resize", 13, {string_attr("coordinate_transformation_mode", "tf_crop_and_resize")},
                     {x, Tensor(), scales});
            }),
            ErrorCode::kInvalidArgument);  // roi missing
}

}  // namespace
}  // namespace tessera

#include "ops/resize/resize_common.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "base/lazy_text.h"

namespace tessera {

ResizeMode parse_resize_mode(const std::string& s) {
  if (s == "nearest") return ResizeMode::kNearest;
  if (s == "linear" || s == "bilinear" || s == "trilinear") return ResizeMode::kLinear;
  if (s == "cubic") return ResizeMode::kCubic;
  fail(ErrorCode::kInvalidModel, "resize mode '", s, "' is not nearest, linear or cubic");
}

CoordinateMode parse_coordinate_mode(const std::string& s) {
  if (s == "half_pixel") return CoordinateMode::kHalfPixel;
  if (s == "half_pixel_symmetric") return CoordinateMode::kHalfPixelSymmetric;
  if (s == "pytorch_half_pixel") return CoordinateMode::kPytorchHalfPixel;
  if (s == "align_corners") return CoordinateMode::kAlignCorners;
  if (s == "asymmetric") return CoordinateMode::kAsymmetric;
  if (s == "tf_half_pixel_for_nn") return CoordinateMode::kTfHalfPixelForNn;
  if (s == "tf_crop_and_resize") return CoordinateMode::kTfCropAndResize;
  fail(ErrorCode::kInvalidModel, "coordinate_transformation_mode '", s, "' is not supported");
}

NearestMode parse_nearest_mode(const std::string& s) {
  if (s == "round_prefer_floor") return NearestMode::kRoundPreferFloor;
  if (s == "round_prefer_ceil") return NearestMode::kRoundPreferCeil;
  if (s == "floor") return NearestMode::kFloor;
  if (s == "ceil") return NearestMode::kCeil;
  fail(ErrorCode::kInvalidModel, "nearest_mode '", s, "' is not round_prefer_floor, round_prefer_ceil, floor or ceil");
}

double original_coordinate(const ResizeOptions& options, const AxisResize& axis, int64_t o) {
  const double x = static_cast<double>(o);
  const double in = static_cast<double>(axis.input);
  switch (options.coordinates) {
    case CoordinateMode::kHalfPixel:
      return (x + 0.5) / axis.scale - 0.5;
    case CoordinateMode::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(axis.output) / axis.output_width;
      const double offset = in / 2 * (1 - adjustment);
      return offset + (x + 0.5) / axis.scale - 0.5;
    }
    case CoordinateMode::kPytorchHalfPixel:
      return axis.output_width > 1 ? (x + 0.5) / axis.scale - 0.5 : 0.0;
    case CoordinateMode::kAlignCorners:
      return axis.output_width == 1 ? 0.0 : x * (in - 1) / (axis.output_width - 1);
    case CoordinateMode::kAsymmetric:
      return x / axis.scale;
    case CoordinateMode::kTfHalfPixelForNn:
      return (x + 0.5) / axis.scale;
    case CoordinateMode::kTfCropAndResize: {
      const double span = (axis.roi_end - axis.roi_start) * (in - 1);
      const double start = axis.roi_start * (in - 1);
      return axis.output_width == 1 ? start + span / 2 : start + x * span / (axis.output_width - 1);
    }
  }
  return x;
}

namespace {

int64_t nearest_index(const ResizeOptions& options, const AxisResize& axis, double x) {
  double r;
  if (options.nearest == NearestMode::kSimple) {
    r = axis.scale < 1 ? std::ceil(x) : std::trunc(x);
  } else if (x == std::floor(x)) {
    r = x;
  } else {
    const double frac = x - std::floor(x);
    switch (options.nearest) {
      case NearestMode::kRoundPreferFloor:
        r = frac <= 0.5 ? std::floor(x) : std::ceil(x);
        break;
      case NearestMode::kRoundPreferCeil:
        r = frac < 0.5 ? std::floor(x) : std::ceil(x);
        break;
      case NearestMode::kFloor:
        r = std::floor(x);
        break;
      default:
        r = std::ceil(x);
        break;
    }
  }
  return static_cast<int64_t>(std::clamp(r, 0.0, static_cast<double>(axis.input - 1)));
}

// The cubic convolution kernel of Keys (1981) with coefficient a.
double cubic_kernel(double x, double a) {
  x = std::abs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

// Weights of offsets [first, first + count) around `base` for a fractional position `ratio` in (0, 1].
void interpolation_weights(const ResizeOptions& options, double scale, double ratio, int64_t& first,
                           std::vector<double>& weights) {
  weights.clear();
  const bool cubic = options.mode == ResizeMode::kCubic;
  if (options.antialias && scale < 1) {
    // The filter stretches by 1 / scale so every input under the output's footprint contributes.
    const double reach = cubic ? 2.0 : 1.0;
    first = static_cast<int64_t>(std::floor(-reach / scale)) + 1;
    for (int64_t i = first; i < 2 - first; ++i) {  // a footprint of 2 - 2 * first taps
      const double t = scale * (static_cast<double>(i) - ratio);
      weights.push_back(cubic ? cubic_kernel(t, options.cubic_coeff_a) : std::max(0.0, 1 - std::abs(t)));
    }
    const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    if (sum != 0)
      for (double& w : weights) w /= sum;
    return;
  }
  if (!cubic) {
    first = 0;
    weights = {1 - ratio, ratio};
    return;
  }
  first = -1;
  const double a = options.cubic_coeff_a;
  weights = {cubic_kernel(ratio + 1, a), cubic_kernel(ratio, a), cubic_kernel(1 - ratio, a),
             cubic_kernel(2 - ratio, a)};
}

}  // namespace

AxisPlan plan_axis(const ResizeOptions& options, const AxisResize& axis) {
  AxisPlan plan;
  plan.tap_begin.push_back(0);
  std::vector<double> weights;
  for (int64_t o = 0; o < axis.output; ++o) {
    const double x = original_coordinate(options, axis, o);
    const bool outside =
        options.coordinates == CoordinateMode::kTfCropAndResize && (x < 0 || x > static_cast<double>(axis.input - 1));
    plan.outside.push_back(outside ? 1 : 0);
    if (!outside && options.mode == ResizeMode::kNearest) {
      plan.index.push_back(nearest_index(options, axis, x));
      plan.weight.push_back(1);
    } else if (!outside) {
      // The reference picks the left neighbour for whole coordinates: base = x - 1 with ratio 1.
      double base = std::floor(x);
      double ratio = x - base;
      if (ratio == 0) {
        base -= 1;
        ratio = 1;
      }
      int64_t first = 0;
      interpolation_weights(options, axis.scale, ratio, first, weights);
      if (options.exclude_outside) {
        double sum = 0;
        for (size_t k = 0; k < weights.size(); ++k) {
          const double idx = base + static_cast<double>(first) + static_cast<double>(k);
          if (idx < 0 || idx >= static_cast<double>(axis.input)) weights[k] = 0;
          sum += weights[k];
        }
        if (sum != 0)
          for (double& w : weights) w /= sum;
      }
      for (size_t k = 0; k < weights.size(); ++k) {
        if (weights[k] == 0) continue;
        const double idx = base + static_cast<double>(first) + static_cast<double>(k);
        // Outside the input the edge value repeats.
        plan.index.push_back(static_cast<int64_t>(std::clamp(idx, 0.0, static_cast<double>(axis.input - 1))));
        plan.weight.push_back(weights[k]);
      }
    }
    plan.tap_begin.push_back(static_cast<int64_t>(plan.index.size()));
  }
  plan.identity = axis.output == axis.input;
  for (int64_t o = 0; plan.identity && o < axis.output; ++o) {
    const int64_t b = plan.tap_begin[o];
    plan.identity = plan.tap_begin[o + 1] - b == 1 && plan.index[b] == o && plan.weight[b] == 1 && !plan.outside[o];
  }
  return plan;
}

namespace {

template <typename T>
T value_from_double(double v) {
  if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
    return element_from_double<T>(v);
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (std::isnan(v)) return T(0);
    const double t = std::clamp(std::trunc(v), static_cast<double>(std::numeric_limits<T>::lowest()),
                                static_cast<double>(std::numeric_limits<T>::max()));
    return static_cast<T>(t);
  } else if constexpr (kIsSubByteInt<T>) {
    return element_from_double<T>(std::trunc(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
    return T(static_cast<typename T::value_type>(v));
  } else {
    return T{};
  }
}

// Nearest: a gather through one index table per axis (-1 marks an output that takes the extrapolation value).
Tensor gather_nearest(const ResizeOptions& options, const std::vector<AxisPlan>& plans,
                      const std::vector<int64_t>& out_shape, const Tensor& x, Parallelism& parallelism) {
  Tensor y(x.dtype(), out_shape);
  const size_t rank = out_shape.size();
  if (y.element_count() == 0) return y;
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t a = rank; a-- > 1;) in_strides[a - 1] = in_strides[a] * x.dim(a);
  std::vector<std::vector<int64_t>> source(rank);
  bool any_outside = false;
  for (size_t a = 0; a < rank; ++a) {
    for (int64_t o = 0; o < out_shape[a]; ++o) {
      const bool outside = plans[a].outside[o] != 0;
      any_outside = any_outside || outside;
      source[a].push_back(outside ? -1 : plans[a].index[plans[a].tap_begin[o]] * in_strides[a]);
    }
  }
  const int64_t width = out_shape[rank - 1];
  const int64_t rows = y.element_count() / width;
  const std::vector<int64_t>& last = source[rank - 1];
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    const T fill = value_from_double<T>(options.extrapolation_value);
    parallelism.parallel_for(rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        int64_t offset = 0;
        bool outside = false;
        int64_t rest = r;
        for (size_t a = rank - 1; a-- > 0;) {
          const int64_t s = source[a][rest % out_shape[a]];
          rest /= out_shape[a];
          outside = outside || s < 0;
          offset += s;
        }
        T* row = dst + r * width;
        const T* in_row = src + offset;
        if (outside) {
          std::fill_n(row, width, fill);
        } else if (!any_outside) {
          for (int64_t o = 0; o < width; ++o) row[o] = in_row[last[o]];
        } else {
          for (int64_t o = 0; o < width; ++o) row[o] = last[o] < 0 ? fill : in_row[last[o]];
        }
      }
    });
  });
  return y;
}

// One separable pass: [outer, in, inner] -> [outer, out, inner] along an axis.
template <typename C>
void interpolate_axis(const C* src, C* dst, int64_t outer, int64_t in, int64_t inner, const AxisPlan& plan, C fill,
                      Parallelism& parallelism) {
  const int64_t out = static_cast<int64_t>(plan.outside.size());
  const std::vector<C> weight(plan.weight.begin(), plan.weight.end());
  if (inner == 1) {
    // The last axis: each output is a short dot product over its taps; rows go to the threads.
    parallelism.parallel_for(outer, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        const C* s = src + n * in;
        C* d = dst + n * out;
        for (int64_t o = 0; o < out; ++o) {
          C acc = 0;
          for (int64_t t = plan.tap_begin[o]; t < plan.tap_begin[o + 1]; ++t) acc += weight[t] * s[plan.index[t]];
          d[o] = plan.outside[o] ? fill : acc;
        }
      }
    });
    return;
  }
  // An outer axis: whole rows of `inner` values blend, which vectorizes.
  parallelism.parallel_for(outer * out, [&](int64_t begin, int64_t end) {
    int64_t n = begin / out, o = begin % out;
    for (int64_t ro = begin; ro < end; ++ro) {
      C* d = dst + ro * inner;
      if (plan.outside[o]) {
        std::fill_n(d, inner, fill);
      } else {
        std::fill_n(d, inner, C(0));
        for (int64_t t = plan.tap_begin[o]; t < plan.tap_begin[o + 1]; ++t) {
          const C w = weight[t];
          const C* s = src + (n * in + plan.index[t]) * inner;
          for (int64_t k = 0; k < inner; ++k) d[k] += w * s[k];
        }
      }
      if (++o == out) {
        o = 0;
        ++n;
      }
    }
  });
}

// The order of the one-axis passes with the least estimated work: a pass costs its output size times its taps,
// four times more on the last axis (a scalar loop) than on an outer one (whole rows, vectorized).
std::vector<size_t> pass_order(const std::vector<AxisPlan>& plans, const std::vector<int64_t>& in_shape,
                               const std::vector<int64_t>& out_shape) {
  std::vector<size_t> order;
  for (size_t a = 0; a < plans.size(); ++a)
    if (!plans[a].identity) order.push_back(a);
  if (order.size() > 4) return order;
  std::vector<size_t> best = order;
  double best_cost = INFINITY;
  do {
    std::vector<int64_t> shape = in_shape;
    double cost = 0;
    for (size_t a : order) {
      shape[a] = out_shape[a];
      const double taps = static_cast<double>(plans[a].index.size()) / std::max<int64_t>(out_shape[a], 1);
      cost += static_cast<double>(shape_element_count(shape)) * std::max(taps, 1.0) * (a + 1 == shape.size() ? 4 : 1);
    }
    if (cost < best_cost) {
      best_cost = cost;
      best = order;
    }
  } while (std::next_permutation(order.begin(), order.end()));
  return best;
}

template <typename C>
Tensor interpolate(const ResizeOptions& options, const std::vector<AxisPlan>& plans,
                   const std::vector<int64_t>& out_shape, const Tensor& x, Parallelism& parallelism) {
  const size_t rank = out_shape.size();
  const bool native = x.dtype() == dtype_of<C>();
  // Other dtypes are converted to C once; a C input is read in place, and the last pass writes the output.
  std::vector<C> converted;
  if (!native) {
    converted.resize(static_cast<size_t>(x.element_count()));
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsPlainNumber<T> || kIsNarrowFloat<T> || kIsSubByteInt<T>) {
        const T* s = x.data<T>();
        for (size_t i = 0; i < converted.size(); ++i) converted[i] = static_cast<C>(element_to_double(s[i]));
      } else {
        fail(ErrorCode::kInvalidArgument, "linear and cubic resize need a numeric input, got ", x.description());
      }
    });
  }
  Tensor y(x.dtype(), out_shape);
  std::vector<int64_t> shape = x.shape();
  const std::vector<size_t> order = pass_order(plans, shape, out_shape);
  const C fill = static_cast<C>(options.extrapolation_value);
  const C* current = native ? x.data<C>() : converted.data();
  std::vector<C> buffers[2];
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t a = order[i];
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < a; ++k) outer *= shape[k];
    for (size_t k = a + 1; k < rank; ++k) inner *= shape[k];
    C* next;
    if (native && i + 1 == order.size()) {
      next = y.data<C>();
    } else {
      buffers[i % 2].resize(static_cast<size_t>(outer * out_shape[a] * inner));
      next = buffers[i % 2].data();
    }
    interpolate_axis<C>(current, next, outer, shape[a], inner, plans[a], fill, parallelism);
    current = next;
    shape[a] = out_shape[a];
  }
  if (!native) {
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsPlainNumber<T> || kIsNarrowFloat<T> || kIsSubByteInt<T>) {
        T* d = y.data<T>();
        for (int64_t i = 0; i < y.element_count(); ++i) d[i] = value_from_double<T>(static_cast<double>(current[i]));
      }
    });
  }
  return y;
}

}  // namespace

Tensor run_resize(const ResizeOptions& options, const std::vector<AxisResize>& axes, const Tensor& x,
                  Parallelism& parallelism) {
  check_argument(axes.size() == x.rank(), "resize expects one axis description per dimension of ", tensor_text(x));
  if (x.rank() == 0) return x;
  std::vector<AxisPlan> plans;
  std::vector<int64_t> out_shape;
  bool identity = true;
  for (size_t a = 0; a < axes.size(); ++a) {
    check_argument(axes[a].input == x.dim(a), "resize axis ", a, " expects length ", axes[a].input, " in ",
                   tensor_text(x));
    if (axes[a].output > 0) {
      check_argument(axes[a].input > 0, "cannot resize axis ", a, " of ", tensor_text(x), " from length 0 to ",
                     axes[a].output);
    }
    plans.push_back(plan_axis(options, axes[a]));
    out_shape.push_back(axes[a].output);
    identity = identity && plans.back().identity;
  }
  if (identity) return x;
  if (options.mode == ResizeMode::kNearest) return gather_nearest(options, plans, out_shape, x, parallelism);
  const DType d = x.dtype();
  const bool wide =
      d == DType::kDouble || d == DType::kInt32 || d == DType::kInt64 || d == DType::kUint32 || d == DType::kUint64;
  if (wide) return interpolate<double>(options, plans, out_shape, x, parallelism);
  return interpolate<float>(options, plans, out_shape, x, parallelism);
}

}  // namespace tessera

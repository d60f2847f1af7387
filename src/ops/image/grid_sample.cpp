// GridSample, opsets 16 (modes bilinear/nearest/bicubic), 20 (renamed linear/nearest/cubic, N-D inputs) and
// 22 (adds bfloat16): samples X (N, C, D1..Dr) at the normalized positions of grid (N, O1..Or, r), whose
// last axis lists coordinates innermost dimension first. Follows ONNX's reference (and PyTorch): positions
// outside the image are first clamped (border) or reflected (reflection), then each tap outside the image
// reads 0 (zeros), the nearest edge (border) or its reflection (reflection); nearest rounds half to even;
// cubic uses Keys' kernel with alpha = -0.75. Every rank r >= 1 is accepted at every opset. Integer and
// bool inputs are interpolated in double and converted back (saturating); strings take nearest only.
#include <algorithm>
#include <climits>
#include <cmath>
#include <complex>

#include "base/lazy_text.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {

enum class GridMode { kNearest, kLinear, kCubic };
enum class GridPadding { kZeros, kBorder, kReflection };

struct GridSampleAttributes {
  GridMode mode = GridMode::kLinear;
  GridPadding padding = GridPadding::kZeros;
  bool align_corners = false;
};

GridSampleAttributes parse_grid_sample_attributes(const Node& node, int64_t opset) {
  GridSampleAttributes a;
  const bool renamed = opset >= 20;
  const std::string mode = node.attr_string("mode", renamed ? "linear" : "bilinear");
  if (mode == "nearest")
    a.mode = GridMode::kNearest;
  else if (mode == (renamed ? "linear" : "bilinear"))
    a.mode = GridMode::kLinear;
  else if (mode == (renamed ? "cubic" : "bicubic"))
    a.mode = GridMode::kCubic;
  else
    fail(ErrorCode::kInvalidModel, node.label(), ": attribute 'mode' must be ",
         renamed ? "linear, nearest or cubic" : "bilinear, nearest or bicubic", " at opset ", opset, ", got '", mode,
         "'");
  const std::string padding = node.attr_string("padding_mode", "zeros");
  if (padding == "zeros")
    a.padding = GridPadding::kZeros;
  else if (padding == "border")
    a.padding = GridPadding::kBorder;
  else if (padding == "reflection")
    a.padding = GridPadding::kReflection;
  else
    fail(ErrorCode::kInvalidModel, node.label(),
         ": attribute 'padding_mode' must be zeros, border or reflection, got '", padding, "'");
  a.align_corners = node.attr_int("align_corners", 0) != 0;
  return a;
}

// Reflects x into [lo, hi] by the nearer border, repeatedly.
double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo || x > hi) {
    const double dx = x < lo ? lo - x : x - hi;
    const double n = std::floor(dx / range);
    const double r = dx - n * range;
    const bool even = std::fmod(n, 2.0) == 0.0;
    return (x < lo) == even ? lo + r : hi - r;
  }
  return x;
}

// One tap along one axis: the input index (-1 reads zero) and its weight.
struct AxisTap {
  int64_t index = -1;
  double weight = 0;
};

class AxisSampler {
 public:
  AxisSampler(int64_t size, const GridSampleAttributes& a)
      : size_(size),
        attrs_(a),
        lo_(a.align_corners ? 0.0 : -0.5),
        hi_(a.align_corners ? static_cast<double>(size) - 1 : static_cast<double>(size) - 0.5) {}

  // Fills taps for normalized coordinate g; returns how many (1, 2 or 4 by mode).
  int taps(double g, AxisTap* out) const {
    const int count = attrs_.mode == GridMode::kNearest ? 1 : (attrs_.mode == GridMode::kLinear ? 2 : 4);
    const double d = static_cast<double>(size_);
    // The reference holds the unnormalized coordinate in float32, which matters for rounding ties.
    auto x =
        static_cast<double>(static_cast<float>(attrs_.align_corners ? (g + 1) / 2 * (d - 1) : ((g + 1) * d - 1) / 2));
    if (attrs_.mode == GridMode::kNearest) x = std::nearbyint(x);
    if (x < lo_ || x > hi_) {
      if (attrs_.padding == GridPadding::kBorder)
        x = std::clamp(x, 0.0, d - 1);
      else if (attrs_.padding == GridPadding::kReflection && std::isfinite(x))
        x = reflect(x, lo_, hi_);
    }
    x = static_cast<float>(x);
    if (!std::isfinite(x)) {  // NaN positions (or infinite ones that cannot be reflected) read zeros
      for (int k = 0; k < count; ++k) out[k] = AxisTap{-1, k == 0 ? 1.0 : 0.0};
      return count;
    }
    // Past 4 pixels outside, every tap reads padding zeros; clamping keeps the index arithmetic in range.
    x = std::clamp(x, lo_ - 4, hi_ + 4);
    const double x0 = std::floor(x);
    const double t = x - x0;
    const auto i0 = static_cast<int64_t>(x0);
    if (attrs_.mode == GridMode::kNearest) {
      out[0] = {map_index(i0), 1.0};
    } else if (attrs_.mode == GridMode::kLinear) {
      out[0] = {map_index(i0), 1.0 - t};
      out[1] = {map_index(i0 + 1), t};
    } else {
      constexpr double kA = -0.75;
      const double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
      out[0] = {map_index(i0 - 1), ((kA * t1 - 5 * kA) * t1 + 8 * kA) * t1 - 4 * kA};
      out[1] = {map_index(i0), ((kA + 2) * t - (kA + 3)) * t * t + 1};
      out[2] = {map_index(i0 + 1), ((kA + 2) * t2 - (kA + 3)) * t2 * t2 + 1};
      out[3] = {map_index(i0 + 2), ((kA * t3 - 5 * kA) * t3 + 8 * kA) * t3 - 4 * kA};
    }
    return count;
  }

 private:
  int64_t map_index(int64_t i) const {
    if (i >= 0 && i < size_) return i;
    switch (attrs_.padding) {
      case GridPadding::kZeros:
        return -1;
      case GridPadding::kBorder:
        return std::clamp<int64_t>(i, 0, size_ - 1);
      case GridPadding::kReflection: {
        const auto r = static_cast<int64_t>(reflect(static_cast<double>(i), lo_, hi_));
        return std::clamp<int64_t>(r, 0, size_ - 1);
      }
    }
    return -1;
  }

  int64_t size_;
  GridSampleAttributes attrs_;
  double lo_, hi_;
};

// A tap of one output point into one input plane: the element offset (-1 reads zero) and its weight.
struct PlaneTap {
  int64_t offset = -1;
  double weight = 0;
};

// The geometry of one run: spatial dims of X, output points per plane, taps per point.
struct GridGeometry {
  std::vector<int64_t> in_dims;
  std::vector<int64_t> in_strides;
  int64_t in_plane = 1;
  int64_t out_points = 1;
  int64_t taps_per_point = 1;
};

// Fills the taps_per_point taps of one output point from its r grid coordinates (innermost first).
void point_taps(const double* coords, const GridGeometry& g, const std::vector<AxisSampler>& samplers, PlaneTap* out) {
  const size_t r = g.in_dims.size();
  AxisTap axis_taps[16][4];
  int counts[16];
  for (size_t i = 0; i < r; ++i) counts[i] = samplers[i].taps(coords[r - 1 - i], axis_taps[i]);
  out[0] = {0, 1.0};
  int64_t filled = 1;
  for (size_t i = 0; i < r; ++i) {
    // Expands every partial tap by the taps of axis i, innermost axis varying fastest.
    for (int64_t f = filled - 1; f >= 0; --f) {
      const PlaneTap base = out[f];
      for (int k = counts[i] - 1; k >= 0; --k) {
        const AxisTap& a = axis_taps[i][k];
        PlaneTap& t = out[f * counts[i] + k];
        t.offset = base.offset < 0 || a.index < 0 ? -1 : base.offset + a.index * g.in_strides[i];
        t.weight = base.weight * a.weight;
      }
    }
    filled *= counts[i];
  }
}

template <typename T>
void gather_plane(const T* plane, const PlaneTap* taps, int64_t points, int64_t k, T* out) {
  for (int64_t p = 0; p < points; ++p, taps += k) {
    if (k == 1) {  // nearest: a copy, exact for every type
      out[p] = taps[0].offset >= 0 ? plane[taps[0].offset] : T{};
    } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
      std::complex<double> acc = 0;
      for (int64_t j = 0; j < k; ++j) {
        if (taps[j].offset >= 0) acc += taps[j].weight * std::complex<double>(plane[taps[j].offset]);
      }
      out[p] = T(acc);
    } else if constexpr (kIsRealElement<T>) {
      double acc = 0;
      for (int64_t j = 0; j < k; ++j) {
        if (taps[j].offset >= 0) acc += taps[j].weight * element_to_double(plane[taps[j].offset]);
      }
      out[p] = element_from_double_saturating<T>(acc);
    }
  }
}

GridGeometry check_grid_sample_inputs(const Tensor& x, const Tensor& grid, const GridSampleAttributes& a) {
  check_argument(x.rank() >= 3 && x.rank() <= 18, "input 'X' ", tensor_text(x),
                 " must have shape (N, C, D1, ..., Dr) with 1 <= r <= 16");
  const size_t r = x.rank() - 2;
  check_argument(dtype_is_common_float(grid.dtype()) && grid.rank() == x.rank() && grid.dim(0) == x.dim(0) &&
                     grid.dim(grid.rank() - 1) == static_cast<int64_t>(r),
                 "input 'grid' ", tensor_text(grid), " must be a float tensor of shape (N, O1, ..., O", r, ", ", r,
                 ") for input 'X' ", tensor_text(x));
  check_argument(x.dtype() != DType::kString || a.mode == GridMode::kNearest, "input 'X' ", tensor_text(x),
                 ": strings can only be sampled with mode nearest");
  GridGeometry g;
  g.in_dims.assign(x.shape().begin() + 2, x.shape().end());
  g.in_strides.assign(r, 1);
  for (size_t i = r; i-- > 0;) {
    g.in_strides[i] = g.in_plane;
    g.in_plane *= g.in_dims[i];
  }
  for (size_t i = 1; i + 1 < grid.rank(); ++i) g.out_points *= grid.dim(i);
  const int64_t per_axis = a.mode == GridMode::kNearest ? 1 : (a.mode == GridMode::kLinear ? 2 : 4);
  for (size_t i = 0; i < r; ++i) g.taps_per_point *= per_axis;
  check_argument(g.taps_per_point <= 4096, "input 'X' ", tensor_text(x), " has too many spatial dimensions for mode ",
                 a.mode == GridMode::kCubic ? "cubic" : "linear");
  check_argument(g.in_plane > 0 || g.out_points == 0 || x.dim(0) * x.dim(1) == 0, "input 'X' ", tensor_text(x),
                 " has an empty spatial dimension to sample from");
  return g;
}

std::unique_ptr<Kernel> make_grid_sample(const KernelInfo& info) {
  const GridSampleAttributes attrs = parse_grid_sample_attributes(info.node, info.opset);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& grid = ctx.input(1);
    const GridGeometry g = check_grid_sample_inputs(x, grid, attrs);
    std::vector<int64_t> out_shape = {x.dim(0), x.dim(1)};
    out_shape.insert(out_shape.end(), grid.shape().begin() + 1, grid.shape().end() - 1);
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    if (y.element_count() == 0) return;
    std::vector<AxisSampler> samplers;
    for (int64_t d : g.in_dims) samplers.emplace_back(d, attrs);
    const std::vector<double> coords = tensor_to_doubles(grid, "input 'grid'");
    const int64_t batches = x.dim(0), channels = x.dim(1), r = static_cast<int64_t>(g.in_dims.size());
    constexpr int64_t kChunk = 64;  // output points whose taps are planned together, then gathered per channel
    const int64_t chunks_per_batch = (g.out_points + kChunk - 1) / kChunk;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = x.data<T>();
      T* out = y.data<T>();
      ctx.parallelism().parallel_for(batches * chunks_per_batch, [&](int64_t begin, int64_t end) {
        std::vector<PlaneTap> taps(static_cast<size_t>(kChunk * g.taps_per_point));
        for (int64_t job = begin; job < end; ++job) {
          const int64_t n = job / chunks_per_batch;
          const int64_t first = (job % chunks_per_batch) * kChunk;
          const int64_t count = std::min(kChunk, g.out_points - first);
          for (int64_t p = 0; p < count; ++p) {
            point_taps(&coords[static_cast<size_t>((n * g.out_points + first + p) * r)], g, samplers,
                       &taps[static_cast<size_t>(p * g.taps_per_point)]);
          }
          for (int64_t c = 0; c < channels; ++c) {
            gather_plane<T>(in + (n * channels + c) * g.in_plane, taps.data(), count, g.taps_per_point,
                            out + (n * channels + c) * g.out_points + first);
          }
        }
      });
    });
  });
}

void infer_grid_sample(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  const TypeInfo* grid = context.input_type(1);
  if (x == nullptr || !x->is_tensor()) return;
  if (!x->shape || grid == nullptr || !grid->is_tensor() || !grid->shape || grid->shape->size() < 2) {
    context.set_output_type(0, TypeInfo::tensor(x->elem_type));
    return;
  }
  std::vector<Dim> dims = {(*x->shape)[0], x->shape->size() > 1 ? (*x->shape)[1] : Dim{}};
  dims.insert(dims.end(), grid->shape->begin() + 1, grid->shape->end() - 1);
  context.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

const RegisterOp kGridSample16{{.op_type = "GridSample",
                                .since_version = 16,
                                .last_version = 19,
                                .factory = make_grid_sample,
                                .infer = infer_grid_sample}};
const RegisterOp kGridSample20{{.op_type = "GridSample",
                                .since_version = 20,
                                .last_version = INT_MAX,
                                .factory = make_grid_sample,
                                .infer = infer_grid_sample}};

}  // namespace
}  // namespace tessera

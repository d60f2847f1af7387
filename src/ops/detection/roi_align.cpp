// RoiAlign, opsets 10 (no coordinate_transformation_mode: the output_half_pixel behaviour), 16 (adds
// coordinate_transformation_mode, default half_pixel) and 22 (adds bfloat16): bilinear samples on a regular
// grid inside each output bin of each RoI, averaged (avg) or maxed (max). Follows ONNX's reference (and
// ONNX Runtime): samples outside [-1, size] count as 0, and max mode takes the largest weighted corner of
// each sample rather than the interpolated value.
#include <algorithm>
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct RoiAlignAttributes {
  bool max_mode = false;
  bool half_pixel = false;
  int64_t output_height = 1;
  int64_t output_width = 1;
  int64_t sampling_ratio = 0;
  double spatial_scale = 1.0;
};

RoiAlignAttributes parse_roi_align_attributes(const Node& node, int64_t opset) {
  RoiAlignAttributes a;
  const std::string mode = node.attr_string("mode", "avg");
  check_model(mode == "avg" || mode == "max", node.label(), ": attribute 'mode' must be avg or max, got '", mode, "'");
  a.max_mode = mode == "max";
  if (opset >= 16) {
    const std::string ctm = node.attr_string("coordinate_transformation_mode", "half_pixel");
    check_model(ctm == "half_pixel" || ctm == "output_half_pixel", node.label(),
                ": attribute 'coordinate_transformation_mode' must be half_pixel or output_half_pixel, got '", ctm,
                "'");
    a.half_pixel = ctm == "half_pixel";
  }
  a.output_height = node.attr_int("output_height", 1);
  a.output_width = node.attr_int("output_width", 1);
  a.sampling_ratio = node.attr_int("sampling_ratio", 0);
  a.spatial_scale = node.attr_float("spatial_scale", 1.0f);
  check_model(a.output_height > 0 && a.output_width > 0, node.label(),
              ": attributes 'output_height' and 'output_width' must be positive");
  check_model(a.sampling_ratio >= 0, node.label(), ": attribute 'sampling_ratio' must be >= 0");
  return a;
}

// One bilinear sample: four input offsets (within a channel plane) and their weights.
struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

Sample bilinear_sample(double y, double x, int64_t height, int64_t width) {
  Sample s;
  if (y < -1.0 || y > static_cast<double>(height) || x < -1.0 || x > static_cast<double>(width)) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  auto y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x);
  int64_t y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<double>(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<double>(x_low);
  } else {
    x_high = x_low + 1;
  }
  const double ly = y - static_cast<double>(y_low), lx = x - static_cast<double>(x_low);
  const double hy = 1.0 - ly, hx = 1.0 - lx;
  s.pos[0] = y_low * width + x_low;
  s.pos[1] = y_low * width + x_high;
  s.pos[2] = y_high * width + x_low;
  s.pos[3] = y_high * width + x_high;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

// The samples of every output bin of one RoI, bin-major; `grid_h` x `grid_w` samples per bin.
struct RoiSamples {
  std::vector<Sample> samples;
  int64_t per_bin = 1;
};

RoiSamples roi_samples(const double* roi, const RoiAlignAttributes& a, int64_t height, int64_t width) {
  const double offset = a.half_pixel ? 0.5 : 0.0;
  const double start_w = roi[0] * a.spatial_scale - offset, start_h = roi[1] * a.spatial_scale - offset;
  const double end_w = roi[2] * a.spatial_scale - offset, end_h = roi[3] * a.spatial_scale - offset;
  double roi_w = end_w - start_w, roi_h = end_h - start_h;
  if (!a.half_pixel) {  // malformed RoIs become 1x1 in the legacy mode
    roi_w = std::max(roi_w, 1.0);
    roi_h = std::max(roi_h, 1.0);
  }
  const double bin_h = roi_h / static_cast<double>(a.output_height);
  const double bin_w = roi_w / static_cast<double>(a.output_width);
  const int64_t grid_h = a.sampling_ratio > 0 ? a.sampling_ratio : static_cast<int64_t>(std::ceil(bin_h));
  const int64_t grid_w = a.sampling_ratio > 0 ? a.sampling_ratio : static_cast<int64_t>(std::ceil(bin_w));
  RoiSamples r;
  r.per_bin = std::max<int64_t>(grid_h, 0) * std::max<int64_t>(grid_w, 0);
  r.samples.reserve(static_cast<size_t>(a.output_height * a.output_width * r.per_bin));
  for (int64_t ph = 0; ph < a.output_height; ++ph) {
    for (int64_t pw = 0; pw < a.output_width; ++pw) {
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        const double y = start_h + static_cast<double>(ph) * bin_h +
                         (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          const double x = start_w + static_cast<double>(pw) * bin_w +
                           (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(grid_w);
          r.samples.push_back(bilinear_sample(y, x, height, width));
        }
      }
    }
  }
  return r;
}

// Pools one channel plane into `out` (output_height * output_width values).
void pool_plane(const double* plane, const RoiSamples& r, bool max_mode, int64_t bins, double* out) {
  const double count = static_cast<double>(std::max<int64_t>(r.per_bin, 1));
  const Sample* s = r.samples.data();
  for (int64_t bin = 0; bin < bins; ++bin) {
    double value = 0.0;
    for (int64_t k = 0; k < r.per_bin; ++k, ++s) {
      if (max_mode) {
        double v = s->w[0] * plane[s->pos[0]];
        for (int j = 1; j < 4; ++j) v = std::max(v, s->w[j] * plane[s->pos[j]]);
        value = k == 0 ? v : std::max(value, v);
      } else {
        for (int j = 0; j < 4; ++j) value += s->w[j] * plane[s->pos[j]];
      }
    }
    out[bin] = max_mode ? value : value / count;
  }
}

void check_roi_align_inputs(const Tensor& x, const Tensor& rois, const Tensor& batch_indices) {
  check_argument(dtype_is_common_float(x.dtype()) && x.rank() == 4, "input 'X' ", tensor_text(x),
                 " must be a 4-D float tensor (N, C, H, W)");
  check_argument(rois.dtype() == x.dtype() && rois.rank() == 2 && rois.dim(1) == 4, "input 'rois' ", tensor_text(rois),
                 " must have shape (num_rois, 4) and the type of input 'X' ", tensor_text(x));
  check_argument((batch_indices.dtype() == DType::kInt64 || batch_indices.dtype() == DType::kInt32) &&
                     batch_indices.rank() == 1 && batch_indices.dim(0) == rois.dim(0),
                 "input 'batch_indices' ", tensor_text(batch_indices),
                 " must be a 1-D int64 tensor of num_rois = ", rois.dim(0), " elements");
}

std::unique_ptr<Kernel> make_roi_align(const KernelInfo& info) {
  const RoiAlignAttributes attrs = parse_roi_align_attributes(info.node, info.opset);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    const Tensor& batch_indices = ctx.input(2);
    check_roi_align_inputs(x, rois, batch_indices);
    const int64_t num_rois = rois.dim(0), channels = x.dim(1), height = x.dim(2), width = x.dim(3);
    const int64_t bins = attrs.output_height * attrs.output_width;
    Tensor& y = ctx.allocate_output(0, x.dtype(), {num_rois, channels, attrs.output_height, attrs.output_width});
    if (y.element_count() == 0) return;
    const std::vector<int64_t> batches = tensor_to_int64s(batch_indices);
    for (size_t r = 0; r < batches.size(); ++r) {
      check_argument(batches[r] >= 0 && batches[r] < x.dim(0), "input 'batch_indices' holds ", batches[r], " at index ",
                     r, ", outside [0, ", x.dim(0), ")");
    }
    check_argument(height > 0 && width > 0, "input 'X' ", tensor_text(x), " has an empty image");
    const std::vector<double> data = tensor_to_doubles(x, "input 'X'");
    const std::vector<double> roi_data = tensor_to_doubles(rois, "input 'rois'");
    std::vector<double> out(static_cast<size_t>(y.element_count()));
    ctx.parallelism().parallel_for(num_rois, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const RoiSamples samples = roi_samples(&roi_data[static_cast<size_t>(r * 4)], attrs, height, width);
        for (int64_t c = 0; c < channels; ++c) {
          const double* plane =
              &data[static_cast<size_t>((batches[static_cast<size_t>(r)] * channels + c) * height * width)];
          pool_plane(plane, samples, attrs.max_mode, bins, &out[static_cast<size_t>((r * channels + c) * bins)]);
        }
      }
    });
    store_doubles(out.data(), y);
  });
}

void infer_roi_align(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  const TypeInfo* rois = context.input_type(1);
  if (x == nullptr || !x->is_tensor()) return;
  const RoiAlignAttributes a = parse_roi_align_attributes(context.node(), context.node().opset);
  Dim num_rois, channels;
  if (rois != nullptr && rois->is_tensor() && rois->shape && !rois->shape->empty()) num_rois = (*rois->shape)[0];
  if (x->shape && x->shape->size() == 4) channels = (*x->shape)[1];
  context.set_output_type(
      0, TypeInfo::tensor(x->elem_type, std::vector<Dim>{num_rois, channels, Dim::known(a.output_height),
                                                         Dim::known(a.output_width)}));
}

const RegisterOp kRoiAlign10{{.op_type = "RoiAlign",
                              .since_version = 10,
                              .last_version = 15,
                              .factory = make_roi_align,
                              .infer = infer_roi_align}};
const RegisterOp kRoiAlign16{{.op_type = "RoiAlign",
                              .since_version = 16,
                              .last_version = INT_MAX,
                              .factory = make_roi_align,
                              .infer = infer_roi_align}};

}  // namespace
}  // namespace tessera

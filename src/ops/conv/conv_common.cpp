#include "ops/conv/conv_common.h"

#include "base/lazy_text.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "ops/common/op_utils.h"

namespace tessera::conv {
namespace {

AutoPad parse_auto_pad(const Node& node) {
  const std::string value = node.attr_string("auto_pad", "NOTSET");
  if (value == "NOTSET" || value.empty()) return AutoPad::kNotSet;
  if (value == "SAME_UPPER") return AutoPad::kSameUpper;
  if (value == "SAME_LOWER") return AutoPad::kSameLower;
  if (value == "VALID") return AutoPad::kValid;
  fail(ErrorCode::kInvalidModel, node.label(), ": auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '",
       value, "'");
}

// A shape for check messages, formatted only when a check fails (base/lazy_text.h).
ShapeText join(const std::vector<int64_t>& values) { return shape_text(values); }

// Python's floor division, which the spec's padding formulas use.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Resolves kernel, strides, dilations for `rank` spatial axes, checking attribute lengths and the kernel.
void resolve_common(const ConvAttributes& attrs, const std::vector<int64_t>& w_shape, size_t rank,
                    const char* op_name, ConvGeometry& g) {
  const std::vector<int64_t> w_kernel(w_shape.begin() + 2, w_shape.end());
  if (!attrs.kernel_shape.empty()) {
    check_argument(attrs.kernel_shape == w_kernel, op_name, " kernel_shape ", join(attrs.kernel_shape),
                   " does not match the weight's spatial dims ", join(w_kernel));
  }
  g.kernel = w_kernel;
  g.strides = attrs.strides.empty() ? std::vector<int64_t>(rank, 1) : attrs.strides;
  g.dilations = attrs.dilations.empty() ? std::vector<int64_t>(rank, 1) : attrs.dilations;
  check_argument(g.strides.size() == rank, op_name, " strides ", join(g.strides), " need ", rank, " values");
  check_argument(g.dilations.size() == rank, op_name, " dilations ", join(g.dilations), " need ", rank, " values");
  check_argument(attrs.pads.empty() || attrs.pads.size() == 2 * rank, op_name, " pads ", join(attrs.pads), " need ",
                 2 * rank, " values");
  g.pad_begin.assign(rank, 0);
  g.pad_end.assign(rank, 0);
  if (!attrs.pads.empty() && attrs.auto_pad == AutoPad::kNotSet) {
    for (size_t i = 0; i < rank; ++i) {
      g.pad_begin[i] = attrs.pads[i];
      g.pad_end[i] = attrs.pads[i + rank];
    }
  }
  g.kernel_size = std::accumulate(g.kernel.begin(), g.kernel.end(), int64_t{1}, std::multiplies<>());
}

void check_input_ranks(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& w_shape, const char* op_name) {
  check_argument(x_shape.size() >= 3, op_name, " input X must have rank >= 3 (N, C, spatial...), got ",
                 join(x_shape));
  check_argument(w_shape.size() == x_shape.size(), op_name, " weight W ", join(w_shape),
                 " must have the rank of X ", join(x_shape));
  for (size_t i = 2; i < x_shape.size(); ++i) {
    check_argument(x_shape[i] < kMaxSpatialLength && w_shape[i] <= kMaxWindowAttribute, op_name, " X ", join(x_shape),
                   " and W ", join(w_shape), ": spatial axis ", i - 2, " is too long (X below 2^32, W below 2^31)");
  }
}

}  // namespace

Range valid_range(int64_t count, int64_t stride, int64_t offset, int64_t limit) {
  const int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t hi = limit - 1 - offset < 0 ? 0 : std::min(count, (limit - 1 - offset) / stride + 1);
  return Range{std::min(lo, count), std::max(hi, std::min(lo, count))};
}

namespace {

// Splits the kernel offset `index` into per-axis offsets.
void kernel_digits(const ConvGeometry& g, int64_t index, std::vector<int64_t>& digits) {
  for (size_t d = g.kernel.size(); d-- > 0;) {
    digits[d] = index % g.kernel[d];
    index /= g.kernel[d];
  }
}

// Advances a row-major odometer over dims[0 .. size).
void advance(std::vector<int64_t>& index, const std::vector<int64_t>& dims, size_t size) {
  for (size_t d = size; d-- > 0;) {
    if (++index[d] < dims[d]) return;
    index[d] = 0;
  }
}

}  // namespace

ConvAttributes parse_conv_attributes(const Node& node, bool transpose) {
  ConvAttributes attrs;
  attrs.auto_pad = parse_auto_pad(node);
  attrs.kernel_shape = node.attr_ints("kernel_shape");
  attrs.strides = node.attr_ints("strides");
  attrs.dilations = node.attr_ints("dilations");
  attrs.pads = node.attr_ints("pads");
  attrs.group = node.attr_int("group", 1);
  check_window_attribute(node, "kernel_shape", attrs.kernel_shape, 1);
  check_window_attribute(node, "strides", attrs.strides, 1);
  check_window_attribute(node, "dilations", attrs.dilations, 1);
  check_window_attribute(node, "pads", attrs.pads, 0);
  check_model(attrs.group >= 1, node.label(), ": group must be >= 1, got ", attrs.group);
  check_model(attrs.pads.size() % 2 == 0, node.label(), ": pads needs an even count, got ", join(attrs.pads));
  if (transpose) {
    attrs.output_padding = node.attr_ints("output_padding");
    attrs.output_shape = node.attr_ints("output_shape");
    check_window_attribute(node, "output_padding", attrs.output_padding, 0);
    check_window_attribute(node, "output_shape", attrs.output_shape, 0);
  }
  return attrs;
}

bool ConvGeometry::is_pointwise() const {
  for (size_t i = 0; i < kernel.size(); ++i) {
    if (kernel[i] != 1 || strides[i] != 1 || pad_begin[i] != 0 || pad_end[i] != 0) return false;
  }
  return true;
}

ConvGeometry conv_geometry(const ConvAttributes& attrs, const std::vector<int64_t>& x_shape,
                           const std::vector<int64_t>& w_shape, const char* op_name) {
  check_input_ranks(x_shape, w_shape, op_name);
  const size_t rank = x_shape.size() - 2;
  ConvGeometry g;
  g.batch = x_shape[0];
  g.in_channels = x_shape[1];
  g.out_channels = w_shape[0];
  g.group = attrs.group;
  check_argument(g.in_channels == w_shape[1] * g.group, op_name, " X ", join(x_shape), " has ", g.in_channels,
                 " channels but W ", join(w_shape), " with group ", g.group, " expects ", w_shape[1] * g.group);
  check_argument(g.out_channels % g.group == 0, op_name, " W ", join(w_shape), ": output channels ", g.out_channels,
                 " are not divisible by group ", g.group);
  resolve_common(attrs, w_shape, rank, op_name, g);
  g.in_dims.assign(x_shape.begin() + 2, x_shape.end());
  g.out_dims.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = g.in_dims[i];
    const int64_t effective = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower) {
      const int64_t out = (in + g.strides[i] - 1) / g.strides[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + effective - in);
      g.pad_begin[i] = attrs.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    }
    const int64_t span = in + g.pad_begin[i] + g.pad_end[i] - effective;
    check_argument(span >= 0, op_name, " kernel ", join(g.kernel), " (dilations ", join(g.dilations),
                   ") is larger than the padded input ", join(x_shape), " on spatial axis ", i);
    g.out_dims[i] = span / g.strides[i] + 1;
  }
  g.in_size = shape_element_count(g.in_dims);
  g.out_size = shape_element_count(g.out_dims);
  return g;
}

ConvGeometry conv_transpose_geometry(const ConvAttributes& attrs, const std::vector<int64_t>& x_shape,
                                     const std::vector<int64_t>& w_shape) {
  const char* op_name = "ConvTranspose";
  check_input_ranks(x_shape, w_shape, op_name);
  const size_t rank = x_shape.size() - 2;
  ConvGeometry g;
  g.batch = x_shape[0];
  g.in_channels = x_shape[1];
  g.group = attrs.group;
  check_argument(g.in_channels == w_shape[0], op_name, " X ", join(x_shape), " has ", g.in_channels,
                 " channels but W ", join(w_shape), " has ", w_shape[0]);
  check_argument(g.in_channels % g.group == 0, op_name, " input channels ", g.in_channels,
                 " are not divisible by group ", g.group);
  g.out_channels = w_shape[1] * g.group;
  resolve_common(attrs, w_shape, rank, op_name, g);
  const std::vector<int64_t> output_padding =
      attrs.output_padding.empty() ? std::vector<int64_t>(rank, 0) : attrs.output_padding;
  check_argument(output_padding.size() == rank, op_name, " output_padding ", join(output_padding), " needs ", rank,
                 " values");
  std::vector<int64_t> wanted = attrs.output_shape;
  if (wanted.size() == rank + 2) wanted.erase(wanted.begin(), wanted.begin() + 2);
  check_argument(wanted.empty() || wanted.size() == rank, op_name, " output_shape ", join(attrs.output_shape),
                 " needs ", rank, " values");
  g.in_dims.assign(x_shape.begin() + 2, x_shape.end());
  g.out_dims.resize(rank);
  const bool same = attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = g.in_dims[i];
    // Bounded inputs keep each term inside int64, but their sum may not be: add in 128 bits and check.
    const __int128 wide = static_cast<__int128>(g.strides[i]) * (in - 1) + output_padding[i] +
                          static_cast<__int128>(g.kernel[i] - 1) * g.dilations[i] + 1;
    check_argument(wide <= static_cast<__int128>(kMaxSpatialLength) * kMaxWindowAttribute, op_name, " X ",
                   join(x_shape), " with strides ", join(g.strides), " and dilations ", join(g.dilations),
                   " gives an output too long on spatial axis ", i);
    const auto full = static_cast<int64_t>(wide);
    if (!wanted.empty() || same) {
      // The padding follows from the output size (pads, if any, are ignored), split as the spec says.
      const int64_t out = wanted.empty() ? in * g.strides[i] : wanted[i];
      const int64_t total = full - out;
      const int64_t half = floor_div(total, 2);
      g.pad_begin[i] = attrs.auto_pad == AutoPad::kSameUpper ? half : total - half;
      g.pad_end[i] = total - g.pad_begin[i];
      g.out_dims[i] = out;
    } else {
      g.out_dims[i] = full - g.pad_begin[i] - g.pad_end[i];
      check_argument(g.out_dims[i] >= 0, op_name, " pads ", join(attrs.pads), " leave a negative output size on axis ",
                     i, " for X ", join(x_shape));
    }
  }
  g.in_size = shape_element_count(g.in_dims);
  g.out_size = shape_element_count(g.out_dims);
  return g;
}

namespace {

// im2col for 2-D geometries: the same rows, with each output row's input row and valid columns worked out once per
// kernel tap and row rather than through the n-D digit loops (which cost more than the copies: ResNet-50's
// stride-2 3x3 convolutions to 14x14 rows spent a quarter of their time in im2col).
template <typename T>
void im2col_2d(const ConvGeometry& g, const T* x, int64_t channels, T pad_value, T* col) {
  const int64_t in_h = g.in_dims[0], in_w = g.in_dims[1], out_h = g.out_dims[0], out_w = g.out_dims[1];
  const int64_t s_h = g.strides[0], s_w = g.strides[1];
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * g.in_size;
    for (int64_t kh = 0; kh < g.kernel[0]; ++kh) {
      const int64_t ih_offset = kh * g.dilations[0] - g.pad_begin[0];
      for (int64_t kw = 0; kw < g.kernel[1]; ++kw) {
        T* row = col + ((c * g.kernel[0] + kh) * g.kernel[1] + kw) * g.out_size;
        const int64_t iw_offset = kw * g.dilations[1] - g.pad_begin[1];
        const Range r = valid_range(out_w, s_w, iw_offset, in_w);
        for (int64_t oh = 0; oh < out_h; ++oh) {
          T* __restrict dst = row + oh * out_w;
          const int64_t ih = oh * s_h + ih_offset;
          if (ih < 0 || ih >= in_h) {
            for (int64_t j = 0; j < out_w; ++j) dst[j] = pad_value;
            continue;
          }
          const T* __restrict src = xc + ih * in_w + iw_offset;
          for (int64_t j = 0; j < r.lo; ++j) dst[j] = pad_value;
          if (s_w == 1) {
            for (int64_t j = r.lo; j < r.hi; ++j) dst[j] = src[j];
          } else if (s_w == 2) {
            for (int64_t j = r.lo; j < r.hi; ++j) dst[j] = src[2 * j];
          } else {
            for (int64_t j = r.lo; j < r.hi; ++j) dst[j] = src[j * s_w];
          }
          for (int64_t j = r.hi; j < out_w; ++j) dst[j] = pad_value;
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void im2col(const ConvGeometry& g, const T* x, int64_t channels, T pad_value, T* col) {
  if (g.spatial_rank() == 2) {
    im2col_2d(g, x, channels, pad_value, col);
    return;
  }
  const size_t rank = g.spatial_rank();
  const size_t last = rank - 1;
  const int64_t out_last = g.out_dims[last];
  const int64_t in_last = g.in_dims[last];
  const int64_t outer_count = out_last == 0 ? 0 : g.out_size / out_last;
  std::vector<int64_t> digits(rank), outer(rank, 0);
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * g.in_size;
    for (int64_t kernel_index = 0; kernel_index < g.kernel_size; ++kernel_index) {
      kernel_digits(g, kernel_index, digits);
      T* row = col + (c * g.kernel_size + kernel_index) * g.out_size;
      const int64_t offset_last = digits[last] * g.dilations[last] - g.pad_begin[last];
      const Range r = valid_range(out_last, g.strides[last], offset_last, in_last);
      std::fill(outer.begin(), outer.end(), 0);
      for (int64_t o = 0; o < outer_count; ++o, advance(outer, g.out_dims, last)) {
        T* dst = row + o * out_last;
        bool inside = true;
        int64_t base = 0;
        for (size_t d = 0; d < last; ++d) {
          const int64_t i = outer[d] * g.strides[d] + digits[d] * g.dilations[d] - g.pad_begin[d];
          inside = inside && i >= 0 && i < g.in_dims[d];
          base = base * g.in_dims[d] + i;
        }
        if (!inside) {
          std::fill(dst, dst + out_last, pad_value);
          continue;
        }
        const T* src = xc + base * in_last;
        std::fill(dst, dst + r.lo, pad_value);
        if (g.strides[last] == 1) {
          std::copy(src + r.lo + offset_last, src + r.hi + offset_last, dst + r.lo);
        } else {
          for (int64_t j = r.lo; j < r.hi; ++j) dst[j] = src[j * g.strides[last] + offset_last];
        }
        std::fill(dst + r.hi, dst + out_last, pad_value);
      }
    }
  }
}

template void im2col<float>(const ConvGeometry&, const float*, int64_t, float, float*);
template void im2col<int32_t>(const ConvGeometry&, const int32_t*, int64_t, int32_t, int32_t*);
template void im2col<uint8_t>(const ConvGeometry&, const uint8_t*, int64_t, uint8_t, uint8_t*);
template void im2col<int8_t>(const ConvGeometry&, const int8_t*, int64_t, int8_t, int8_t*);
template void im2col<double>(const ConvGeometry&, const double*, int64_t, double, double*);

template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, int64_t channels, T* y) {
  const size_t rank = g.spatial_rank();
  const size_t last = rank - 1;
  const int64_t in_last = g.in_dims[last];
  const int64_t out_last = g.out_dims[last];
  const int64_t outer_count = in_last == 0 ? 0 : g.in_size / in_last;
  std::vector<int64_t> digits(rank), outer(rank, 0);
  for (int64_t c = 0; c < channels; ++c) {
    T* yc = y + c * g.out_size;
    for (int64_t kernel_index = 0; kernel_index < g.kernel_size; ++kernel_index) {
      kernel_digits(g, kernel_index, digits);
      const T* row = col + (c * g.kernel_size + kernel_index) * g.in_size;
      const int64_t offset_last = digits[last] * g.dilations[last] - g.pad_begin[last];
      const Range r = valid_range(in_last, g.strides[last], offset_last, out_last);
      std::fill(outer.begin(), outer.end(), 0);
      for (int64_t i = 0; i < outer_count; ++i, advance(outer, g.in_dims, last)) {
        bool inside = true;
        int64_t base = 0;
        for (size_t d = 0; d < last; ++d) {
          const int64_t o = outer[d] * g.strides[d] + digits[d] * g.dilations[d] - g.pad_begin[d];
          inside = inside && o >= 0 && o < g.out_dims[d];
          base = base * g.out_dims[d] + o;
        }
        if (!inside) continue;
        const T* src = row + i * in_last;
        T* dst = yc + base * out_last;
        for (int64_t j = r.lo; j < r.hi; ++j) dst[j * g.strides[last] + offset_last] += src[j];
      }
    }
  }
}

template void col2im_add<float>(const ConvGeometry&, const float*, int64_t, float*);
template void col2im_add<double>(const ConvGeometry&, const double*, int64_t, double*);

namespace {

// Spatial output dims where the input dim and everything else is known; unknown dims otherwise.
std::vector<Dim> spatial_output_dims(const InferenceContext& context, const std::vector<Dim>& x,
                                     const std::vector<Dim>& w, bool transpose) {
  const size_t rank = x.size() - 2;
  std::vector<Dim> out(rank);
  std::vector<int64_t> x_shape{1, 1}, w_shape{1, 1};
  for (size_t i = 0; i < rank; ++i) {
    if (!x[i + 2].is_known()) return out;
    x_shape.push_back(x[i + 2].value);
  }
  const ConvAttributes attrs = parse_conv_attributes(context.node(), transpose);
  for (size_t i = 0; i < rank; ++i) {
    if (w[i + 2].is_known()) w_shape.push_back(w[i + 2].value);
    else if (attrs.kernel_shape.size() == rank) w_shape.push_back(attrs.kernel_shape[i]);
    else return out;
  }
  // Channel counts do not change spatial dims; make them consistent for the geometry checks.
  ConvAttributes single = attrs;
  single.group = 1;
  single.kernel_shape.clear();
  try {
    const ConvGeometry g =
        transpose ? conv_transpose_geometry(single, x_shape, w_shape) : conv_geometry(single, x_shape, w_shape, "Conv");
    for (size_t i = 0; i < rank; ++i) out[i] = Dim::known(g.out_dims[i]);
  } catch (const Error& e) {
    fail(ErrorCode::kInvalidModel, e.what());
  }
  return out;
}

void infer_conv_like(InferenceContext& context, size_t w_index, DType out_dtype, bool transpose) {
  const TypeInfo* x = context.input_type(0);
  const TypeInfo* w = context.input_type(w_index);
  if (x == nullptr || !x->is_tensor()) return;
  const DType dtype = out_dtype == DType::kUndefined ? x->elem_type : out_dtype;
  if (!x->shape || x->shape->size() < 3 || w == nullptr || !w->is_tensor() || !w->shape ||
      w->shape->size() != x->shape->size()) {
    context.set_output_type(0, TypeInfo::tensor(dtype));
    return;
  }
  const std::vector<Dim>& xs = *x->shape;
  const std::vector<Dim>& ws = *w->shape;
  std::vector<Dim> out{xs[0]};
  if (!transpose) {
    out.push_back(ws[0]);
  } else {
    const int64_t group = context.node().attr_int("group", 1);
    out.push_back(ws[1].is_known() ? Dim::known(ws[1].value * group) : Dim{});
  }
  const std::vector<Dim> spatial = spatial_output_dims(context, xs, ws, transpose);
  out.insert(out.end(), spatial.begin(), spatial.end());
  context.set_output_type(0, TypeInfo::tensor(dtype, out));
}

}  // namespace

void infer_conv_output(InferenceContext& context, size_t w_index, DType out_dtype) {
  infer_conv_like(context, w_index, out_dtype, false);
}

void infer_conv_transpose_output(InferenceContext& context) { infer_conv_like(context, 1, DType::kUndefined, true); }

}  // namespace tessera::conv

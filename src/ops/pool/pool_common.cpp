#include "ops/pool/pool_common.h"

#include "base/error.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {

namespace {

AutoPad parse_auto_pad(const Node& node) {
  const std::string s = node.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  fail(ErrorCode::kInvalidModel, node.label(), ": auto_pad '", s, "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

}  // namespace

PoolAttributes parse_pool_attributes(const Node& node) {
  PoolAttributes attrs;
  attrs.kernel = node.required_attribute("kernel_shape").ints;
  const size_t rank = attrs.kernel.size();
  check_model(rank >= 1, node.label(), ": kernel_shape must not be empty");
  check_window_attribute(node, "kernel_shape", attrs.kernel, 1);
  attrs.strides = node.attr_ints("strides", std::vector<int64_t>(rank, 1));
  attrs.dilations = node.attr_ints("dilations", std::vector<int64_t>(rank, 1));
  attrs.pads = node.attr_ints("pads", std::vector<int64_t>(2 * rank, 0));
  check_model(attrs.strides.size() == rank, node.label(), ": strides has ", attrs.strides.size(),
              " values for a kernel of rank ", rank);
  check_model(attrs.dilations.size() == rank, node.label(), ": dilations has ", attrs.dilations.size(),
              " values for a kernel of rank ", rank);
  check_model(attrs.pads.size() == 2 * rank, node.label(), ": pads has ", attrs.pads.size(), " values, expected ",
              2 * rank);
  check_window_attribute(node, "strides", attrs.strides, 1);
  check_window_attribute(node, "dilations", attrs.dilations, 1);
  check_window_attribute(node, "pads", attrs.pads, 0);
  attrs.auto_pad = parse_auto_pad(node);
  attrs.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  return attrs;
}

AxisGeometry resolve_pool_axis(const PoolAttributes& attrs, size_t axis, int64_t input) {
  const int64_t stride = attrs.strides[axis];
  const int64_t extent = (attrs.kernel[axis] - 1) * attrs.dilations[axis] + 1;
  AxisGeometry g;
  switch (attrs.auto_pad) {
    case AutoPad::kSameUpper:
    case AutoPad::kSameLower: {
      g.output = ceil_div(input, stride);
      const int64_t total = std::max<int64_t>((g.output - 1) * stride + extent - input, 0);
      const int64_t small = total / 2;
      g.pad_begin = attrs.auto_pad == AutoPad::kSameUpper ? small : total - small;
      g.pad_end = total - g.pad_begin;
      break;
    }
    case AutoPad::kValid:
      g.output = input >= extent ? (input - extent) / stride + 1 : 0;
      break;
    case AutoPad::kNotSet: {
      g.pad_begin = attrs.pads[axis];
      g.pad_end = attrs.pads[axis + attrs.kernel.size()];
      const int64_t span = input + g.pad_begin + g.pad_end - extent;
      if (span < 0) {
        g.output = 0;
      } else if (attrs.ceil_mode) {
        g.output = ceil_div(span, stride) + 1;
        // A last window that would start inside the end padding is dropped (as PyTorch and ONNX do).
        if ((g.output - 1) * stride >= input + g.pad_begin) --g.output;
      } else {
        g.output = span / stride + 1;
      }
      break;
    }
  }
  if (g.output <= 0) {
    fail(ErrorCode::kInvalidArgument, "pooling window of extent ", extent, " (kernel ", attrs.kernel[axis],
         ", dilation ", attrs.dilations[axis], ") does not fit spatial axis ", axis, " of length ", input,
         " with pads ", g.pad_begin, "+", g.pad_end);
  }
  return g;
}

PoolGeometry resolve_pool_geometry(const PoolAttributes& attrs, const Tensor& x, const std::string& op_name) {
  const size_t rank = attrs.spatial_rank();
  check_argument(x.rank() == rank + 2, op_name, " with a kernel of rank ", rank, " expects input X of rank ", rank + 2,
                 " [N, C, spatial...], got ", tensor_text(x));
  PoolGeometry g;
  for (size_t a = 0; a < rank; ++a) {
    const int64_t in = x.dim(a + 2);
    const AxisGeometry axis = resolve_pool_axis(attrs, a, in);
    g.input.push_back(in);
    g.output.push_back(axis.output);
    g.pads_begin.push_back(axis.pad_begin);
    g.pads_end.push_back(axis.pad_end);
    g.input_size *= in;
    g.output_size *= axis.output;
    g.kernel_size *= attrs.kernel[a];
  }
  g.kernel = attrs.kernel;
  g.strides = attrs.strides;
  g.dilations = attrs.dilations;
  return g;
}

std::vector<int64_t> pool_output_shape(const Tensor& x, const PoolGeometry& geometry) {
  std::vector<int64_t> shape{x.dim(0), x.dim(1)};
  shape.insert(shape.end(), geometry.output.begin(), geometry.output.end());
  return shape;
}

namespace {

void infer_pool_dims(InferenceContext& context) {
  const TypeInfo* t = context.input_type(0);
  if (t == nullptr || !t->is_tensor()) return;
  const PoolAttributes attrs = parse_pool_attributes(context.node());
  std::optional<std::vector<Dim>> dims;
  if (t->shape) {
    const std::vector<Dim>& in = *t->shape;
    check_model(in.size() == attrs.spatial_rank() + 2, context.node().label(), ": input of type ", t->to_string(),
                " does not match a kernel of rank ", attrs.spatial_rank());
    dims = std::vector<Dim>{in[0], in[1]};
    for (size_t a = 0; a < attrs.spatial_rank(); ++a) {
      if (in[a + 2].is_known()) {
        dims->push_back(Dim::known(resolve_pool_axis(attrs, a, in[a + 2].value).output));
      } else {
        dims->push_back(Dim{});
      }
    }
  }
  context.set_output_type(0, TypeInfo::tensor(t->elem_type, dims));
  if (context.output_count() > 1) context.set_output_type(1, TypeInfo::tensor(DType::kInt64, dims));
}

}  // namespace

void infer_pool(InferenceContext& context) {
  with_node_label(context.node(), [&] { infer_pool_dims(context); });
}

void infer_global_pool(InferenceContext& context) {
  const TypeInfo* t = context.input_type(0);
  if (t == nullptr || !t->is_tensor()) return;
  std::optional<std::vector<Dim>> dims;
  if (t->shape) {
    const std::vector<Dim>& in = *t->shape;
    check_model(in.size() >= 2, context.node().label(), ": input of type ", t->to_string(),
                " must have rank >= 2 [N, C, ...]");
    dims = std::vector<Dim>{in[0], in[1]};
    dims->resize(in.size(), Dim::known(1));
  }
  context.set_output_type(0, TypeInfo::tensor(t->elem_type, dims));
}

std::vector<AxisWindows> make_axis_windows(const PoolGeometry& geometry) {
  std::vector<AxisWindows> windows(geometry.input.size());
  for (size_t a = 0; a < geometry.input.size(); ++a) {
    AxisWindows& w = windows[a];
    const int64_t in = geometry.input[a], dil = geometry.dilations[a], k = geometry.kernel[a];
    for (int64_t o = 0; o < geometry.output[a]; ++o) {
      const int64_t start = o * geometry.strides[a] - geometry.pads_begin[a];
      const int64_t lo = start < 0 ? std::min(ceil_div(-start, dil), k) : 0;
      const int64_t hi = std::max(std::min(k, ceil_div(in - start, dil)), lo);
      const int64_t padded_hi = std::clamp<int64_t>(ceil_div(in + geometry.pads_end[a] - start, dil), 0, k);
      w.start.push_back(start);
      w.lo.push_back(lo);
      w.hi.push_back(hi);
      w.padded_hi.push_back(padded_hi);
      const double nan = std::numeric_limits<double>::quiet_NaN();
      w.inv_count.push_back(hi > lo ? 1.0 / static_cast<double>(hi - lo) : nan);
      w.inv_padded.push_back(padded_hi > 0 ? 1.0 / static_cast<double>(padded_hi) : nan);
    }
    w.stride = geometry.strides[a];
    w.pad_begin = geometry.pads_begin[a];
    w.k_begin.assign(static_cast<size_t>(k), 0);
    w.k_end.assign(static_cast<size_t>(k), 0);
    for (int64_t kk = 0; kk < k; ++kk) {
      for (int64_t o = 0; o < geometry.output[a]; ++o) {
        if (w.lo[o] > kk) w.k_begin[kk] = o + 1;
        if (w.hi[o] > kk) w.k_end[kk] = o + 1;
      }
      w.k_end[kk] = std::max(w.k_end[kk], w.k_begin[kk]);
    }
  }
  return windows;
}

int64_t column_major_offset(int64_t row_major, const std::vector<int64_t>& dims) {
  int64_t result = 0;
  int64_t stride = 1;
  std::vector<int64_t> position(dims.size());
  for (size_t a = dims.size(); a-- > 0;) {
    position[a] = row_major % dims[a];
    row_major /= dims[a];
  }
  for (size_t a = 0; a < dims.size(); ++a) {
    result += position[a] * stride;
    stride *= dims[a];
  }
  return result;
}

void infer_pool_element_type(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x != nullptr && x->is_tensor()) context.set_output_type(0, TypeInfo::tensor(x->elem_type));
}

namespace {

// The strides, in elements, of a row-major tensor of `shape`.
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

}  // namespace

Tensor channels_last_to_first(const Tensor& x, Parallelism& parallelism) {
  check_argument(x.rank() >= 3, "a channels-last pool input must have rank >= 3, got ", tensor_text(x));
  const std::vector<int64_t> strides = row_major_strides(x.shape());
  // Element (n, c, s...) of the result is element (n, s..., c) of x.
  std::vector<int64_t> shape{x.dim(0), x.dim(x.rank() - 1)}, view{strides[0], 1};
  for (size_t i = 1; i + 1 < x.rank(); ++i) {
    shape.push_back(x.dim(i));
    view.push_back(strides[i]);
  }
  Tensor out(x.dtype(), shape);
  tensor_ops::copy_strided_to_contiguous(x.dtype(), out.raw_data(), x.raw_data(), view, shape, parallelism);
  return out;
}

Tensor channels_first_to_last(const Tensor& y, Parallelism& parallelism) {
  const std::vector<int64_t> strides = row_major_strides(y.shape());
  // Element (n, s..., c) of the result is element (n, c, s...) of y.
  std::vector<int64_t> shape{y.dim(0)}, view{strides[0]};
  for (size_t i = 2; i < y.rank(); ++i) {
    shape.push_back(y.dim(i));
    view.push_back(strides[i]);
  }
  shape.push_back(y.dim(1));
  view.push_back(strides[1]);
  Tensor out(y.dtype(), shape);
  tensor_ops::copy_strided_to_contiguous(y.dtype(), out.raw_data(), y.raw_data(), view, shape, parallelism);
  return out;
}

}  // namespace tessera

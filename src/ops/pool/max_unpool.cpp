// MaxUnpool (opsets 9, 11, 22) and MaxRoiPool (opsets 1, 22).
#include <climits>
#include <cmath>
#include <limits>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/pool/float_staging.h"
#include "ops/pool/pool_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct UnpoolAttributes {
  std::vector<int64_t> kernel, strides, pads;
};

UnpoolAttributes parse_unpool_attributes(const Node& node) {
  UnpoolAttributes a;
  a.kernel = node.required_attribute("kernel_shape").ints;
  const size_t rank = a.kernel.size();
  check_model(rank >= 1, node.label(), ": kernel_shape must not be empty");
  a.strides = node.attr_ints("strides", std::vector<int64_t>(rank, 1));
  a.pads = node.attr_ints("pads", std::vector<int64_t>(2 * rank, 0));
  check_model(a.strides.size() == rank && a.pads.size() == 2 * rank, node.label(),
              ": strides/pads lengths do not match kernel_shape of rank ", rank);
  // Values stay below 2^31 so the unpooled lengths cannot overflow int64.
  check_window_attribute(node, "kernel_shape", a.kernel, 1);
  check_window_attribute(node, "strides", a.strides, 1);
  check_window_attribute(node, "pads", a.pads, 0);
  return a;
}

// The default output shape: each spatial axis grows back to (in - 1) * stride + kernel - pads.
std::vector<int64_t> default_unpool_shape(const UnpoolAttributes& a, const std::vector<int64_t>& x_shape) {
  std::vector<int64_t> shape{x_shape[0], x_shape[1]};
  const size_t rank = a.kernel.size();
  for (size_t i = 0; i < rank; ++i) {
    const int64_t d = (x_shape[i + 2] - 1) * a.strides[i] + a.kernel[i] - a.pads[i] - a.pads[i + rank];
    check_argument(d >= 0, "MaxUnpool: spatial axis ", i, " of X ", shape_text(x_shape),
                   " unpools to a negative length");
    shape.push_back(d);
  }
  return shape;
}

std::unique_ptr<Kernel> make_max_unpool(const KernelInfo& info) {
  const UnpoolAttributes attrs = parse_unpool_attributes(info.node);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    check_argument(x.rank() == attrs.kernel.size() + 2, "MaxUnpool expects X of rank ", attrs.kernel.size() + 2,
                   ", got ", tensor_text(x));
    check_argument(indices.shape() == x.shape(), "MaxUnpool: indices I ", tensor_text(indices),
                   " must have the shape of X ", tensor_text(x));
    check_argument(indices.dtype() == DType::kInt64, "MaxUnpool: indices I must be int64, got ", tensor_text(indices));
    // Indices address the default (inferred) unpooled shape; an output_shape at least as large embeds that
    // result at its origin (as the ONNX reference does).
    const std::vector<int64_t> inferred = default_unpool_shape(attrs, x.shape());
    std::vector<int64_t> out_shape = inferred;
    if (ctx.has_input(2)) {
      out_shape = tensor_to_int64s(ctx.input(2));
      bool fits = out_shape.size() == x.rank();
      for (size_t i = 0; fits && i < out_shape.size(); ++i) fits = out_shape[i] >= inferred[i];
      check_argument(fits, "MaxUnpool: output_shape ", shape_text(out_shape), " must have rank ", x.rank(),
                     " and hold the unpooled shape ", shape_text(inferred));
    }
    check_argument(x.dtype() != DType::kString, "MaxUnpool does not support string tensors");
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    const int64_t total = shape_element_count(inferred);
    const std::vector<int64_t> out_strides = contiguous_strides(out_shape);
    const int64_t* id = indices.data<int64_t>();
    const size_t element = dtype_size(x.dtype());
    const char* src = static_cast<const char*>(x.raw_data());
    char* dst = static_cast<char*>(y.raw_data());
    for (int64_t i = 0; i < x.element_count(); ++i) {
      check_argument(id[i] >= 0 && id[i] < total, "MaxUnpool: index ", id[i], " at position ", i,
                     " of I is outside the unpooled shape ", shape_text(inferred));
      int64_t rest = id[i], offset = 0;
      for (size_t a = inferred.size(); a-- > 0;) {
        offset += (rest % inferred[a]) * out_strides[a];
        rest /= inferred[a];
      }
      std::copy_n(src + i * element, element, dst + offset * element);
    }
  });
}

// Region-of-interest max pooling over integer-rounded boxes (Caffe/Fast R-CNN semantics, as ONNX Runtime).
template <typename T>
void max_roi_pool_typed(const Tensor& x, const Tensor& rois, Tensor& y, int64_t pooled_h, int64_t pooled_w,
                        double spatial_scale) {
  const int64_t batch = x.dim(0), channels = x.dim(1), height = x.dim(2), width = x.dim(3);
  const T* xd = x.data<T>();
  const T* rd = rois.data<T>();
  T* yd = y.data<T>();
  for (int64_t r = 0; r < rois.dim(0); ++r) {
    const T* roi = rd + r * 5;
    for (int k = 0; k < 5; ++k) {
      check_argument(std::isfinite(roi[k]) && std::abs(roi[k] * spatial_scale) < 1e15, "MaxRoiPool: roi ", r,
                     " has a non-finite or huge coordinate");
    }
    const int64_t n = static_cast<int64_t>(roi[0]);
    check_argument(n >= 0 && n < batch, "MaxRoiPool: roi ", r, " names batch index ", n, " outside X of batch ", batch);
    const int64_t x1 = std::llround(roi[1] * spatial_scale), y1 = std::llround(roi[2] * spatial_scale);
    const int64_t x2 = std::llround(roi[3] * spatial_scale), y2 = std::llround(roi[4] * spatial_scale);
    const double bin_h = static_cast<double>(std::max<int64_t>(y2 - y1 + 1, 1)) / pooled_h;
    const double bin_w = static_cast<double>(std::max<int64_t>(x2 - x1 + 1, 1)) / pooled_w;
    for (int64_t c = 0; c < channels; ++c) {
      const T* plane = xd + (n * channels + c) * height * width;
      T* out = yd + (r * channels + c) * pooled_h * pooled_w;
      for (int64_t ph = 0; ph < pooled_h; ++ph) {
        const int64_t h0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(ph * bin_h)) + y1, 0, height);
        const int64_t h1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((ph + 1) * bin_h)) + y1, 0, height);
        for (int64_t pw = 0; pw < pooled_w; ++pw) {
          const int64_t w0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(pw * bin_w)) + x1, 0, width);
          const int64_t w1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((pw + 1) * bin_w)) + x1, 0, width);
          T best = h1 > h0 && w1 > w0 ? -std::numeric_limits<T>::max() : T(0);
          for (int64_t h = h0; h < h1; ++h) {
            for (int64_t w = w0; w < w1; ++w) best = std::max(best, plane[h * width + w]);
          }
          out[ph * pooled_w + pw] = best;
        }
      }
    }
  }
}

std::unique_ptr<Kernel> make_max_roi_pool(const KernelInfo& info) {
  const std::vector<int64_t> pooled = info.node.required_attribute("pooled_shape").ints;
  check_model(pooled.size() == 2 && pooled[0] >= 1 && pooled[1] >= 1, info.node.label(),
              ": pooled_shape must be two positive values");
  const double spatial_scale = info.node.attr_float("spatial_scale", 1.0f);
  return make_kernel([pooled, spatial_scale](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    const Tensor& input_rois = ctx.input(1);
    check_argument(input.dtype() == DType::kFloat || input.dtype() == DType::kDouble || is_staged_float(input.dtype()),
                   "MaxRoiPool does not support X of type ", tensor_text(input));
    check_argument(input.rank() == 4, "MaxRoiPool expects X of rank 4, got ", tensor_text(input));
    check_argument(input_rois.rank() == 2 && input_rois.dim(1) == 5 && input_rois.dtype() == input.dtype(),
                   "MaxRoiPool expects rois of shape [num_rois, 5] and the type of X, got ", tensor_text(input_rois));
    const Tensor x = widen_to_float(input);
    const Tensor rois = widen_to_float(input_rois);
    Tensor y = staged_output(ctx, 0, input.dtype(), {rois.dim(0), x.dim(1), pooled[0], pooled[1]});
    if (x.dtype() == DType::kDouble)
      max_roi_pool_typed<double>(x, rois, y, pooled[0], pooled[1], spatial_scale);
    else
      max_roi_pool_typed<float>(x, rois, y, pooled[0], pooled[1], spatial_scale);
    finish_staged_output(ctx, 0, y, input.dtype());
  });
}

void infer_max_roi_pool(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  const TypeInfo* rois = context.input_type(1);
  if (x == nullptr || !x->is_tensor()) return;
  const std::vector<int64_t> pooled = context.node().attr_ints("pooled_shape");
  std::optional<std::vector<Dim>> dims;
  if (x->shape && x->shape->size() == 4 && pooled.size() == 2) {
    const Dim num_rois = rois && rois->shape && !rois->shape->empty() ? (*rois->shape)[0] : Dim{};
    dims = std::vector<Dim>{num_rois, (*x->shape)[1], Dim::known(pooled[0]), Dim::known(pooled[1])};
  }
  context.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

void infer_max_unpool(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  std::optional<std::vector<Dim>> dims;
  if (context.input_count() > 2 && context.node().has_input(2)) {
    if (const Tensor* shape = context.input_constant(2)) {
      dims = std::vector<Dim>{};
      for (int64_t d : tensor_to_int64s(*shape)) dims->push_back(Dim::known(d));
    } else if (x->shape) {
      dims = std::vector<Dim>(x->shape->size());
    }
  } else if (x->shape) {
    const UnpoolAttributes a = parse_unpool_attributes(context.node());
    const std::vector<Dim>& in = *x->shape;
    if (in.size() != a.kernel.size() + 2) return;
    dims = std::vector<Dim>{in[0], in[1]};
    for (size_t i = 0; i < a.kernel.size(); ++i) {
      dims->push_back(in[i + 2].is_known() ? Dim::known((in[i + 2].value - 1) * a.strides[i] + a.kernel[i] - a.pads[i] -
                                                        a.pads[i + a.kernel.size()])
                                           : Dim{});
    }
  }
  context.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

const RegisterOp kMaxUnpool9{{.op_type = "MaxUnpool",
                              .since_version = 9,
                              .last_version = 10,
                              .factory = make_max_unpool,
                              .infer = infer_max_unpool}};
const RegisterOp kMaxUnpool11{{.op_type = "MaxUnpool",
                               .since_version = 11,
                               .last_version = 21,
                               .factory = make_max_unpool,
                               .infer = infer_max_unpool}};
const RegisterOp kMaxUnpool22{{.op_type = "MaxUnpool",
                               .since_version = 22,
                               .last_version = INT_MAX,
                               .factory = make_max_unpool,
                               .infer = infer_max_unpool}};
const RegisterOp kMaxRoiPool1{{.op_type = "MaxRoiPool",
                               .since_version = 1,
                               .last_version = 21,
                               .factory = make_max_roi_pool,
                               .infer = infer_max_roi_pool}};
const RegisterOp kMaxRoiPool22{{.op_type = "MaxRoiPool",
                                .since_version = 22,
                                .last_version = INT_MAX,
                                .factory = make_max_roi_pool,
                                .infer = infer_max_roi_pool}};

}  // namespace
}  // namespace tessera

// CenterCropPad, opset 18 (the only version; 24 and later keep it): along each axis of `axes` (all by
// default) crops a centred window (start rounded down) or pads with zeros centred (the odd pixel on the
// right) to the requested size. Every element type is accepted.
#include <algorithm>
#include <climits>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Where the copied box lies: per axis, its size and its start in the input and in the output.
struct CropPadPlan {
  std::vector<int64_t> out_shape, copy, in_start, out_start;
};

CropPadPlan plan_crop_pad(const Tensor& x, const Tensor& shape, const std::vector<int64_t>& axes_attr, bool has_axes) {
  const auto rank = static_cast<int64_t>(x.rank());
  check_argument(shape.rank() == 1 && (shape.dtype() == DType::kInt64 || shape.dtype() == DType::kInt32),
                 "input 'shape' ", tensor_text(shape), " must be a 1-D int32 or int64 tensor");
  const std::vector<int64_t> sizes = tensor_to_int64s(shape);
  std::vector<int64_t> axes;
  if (has_axes) {
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t a : axes_attr) {
      const int64_t axis = normalize_axis(a, rank);
      check_argument(!seen[static_cast<size_t>(axis)], "attribute 'axes' repeats axis ", axis);
      seen[static_cast<size_t>(axis)] = true;
      axes.push_back(axis);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  check_argument(sizes.size() == axes.size(), "input 'shape' ", tensor_text(shape), " must hold one size per axis (",
                 axes.size(), ") of input 'input_data' ", tensor_text(x));
  CropPadPlan p;
  p.out_shape = x.shape();
  p.copy = x.shape();
  p.in_start.assign(static_cast<size_t>(rank), 0);
  p.out_start.assign(static_cast<size_t>(rank), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto axis = static_cast<size_t>(axes[k]);
    const int64_t in = x.dim(axis), want = sizes[k];
    check_argument(want >= 0, "input 'shape' asks for a negative size ", want, " on axis ", axis);
    p.out_shape[axis] = want;
    p.copy[axis] = std::min(in, want);
    if (want < in)
      p.in_start[axis] = (in - want) / 2;
    else
      p.out_start[axis] = (want - in) / 2;
  }
  return p;
}

template <typename T>
void copy_box(const T* in, const std::vector<int64_t>& in_shape, T* out, const CropPadPlan& p) {
  const size_t rank = in_shape.size();
  const std::vector<int64_t> in_strides = contiguous_strides(in_shape);
  const std::vector<int64_t> out_strides = contiguous_strides(p.out_shape);
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < rank; ++i) rows *= p.copy[i];
  const int64_t row_length = rank == 0 ? 1 : p.copy[rank - 1];
  if (rows == 0 || row_length == 0) return;
  std::vector<int64_t> index(rank == 0 ? 0 : rank - 1, 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t src = 0, dst = 0;
    for (size_t i = 0; i < rank; ++i) {
      const int64_t at = i + 1 < rank ? index[i] : 0;
      src += (p.in_start[i] + at) * in_strides[i];
      dst += (p.out_start[i] + at) * out_strides[i];
    }
    std::copy(in + src, in + src + row_length, out + dst);
    for (size_t i = index.size(); i-- > 0;) {
      if (++index[i] < p.copy[i]) break;
      index[i] = 0;
    }
  }
}

std::unique_ptr<Kernel> make_center_crop_pad(const KernelInfo& info) {
  const bool has_axes = info.node.has_attribute("axes");
  const std::vector<int64_t> axes = info.node.attr_ints("axes");
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const CropPadPlan p = plan_crop_pad(x, ctx.input(1), axes, has_axes);
    Tensor& out = ctx.allocate_output(0, x.dtype(), p.out_shape);
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      copy_box(x.data<T>(), x.shape(), out.data<T>(), p);
    });
  });
}

void infer_center_crop_pad(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const Tensor* shape = context.input_constant(1);
  if (!x->shape || shape == nullptr) {
    if (x->shape)
      context.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>(x->shape->size())));
    else
      context.set_output_type(0, TypeInfo::tensor(x->elem_type));
    return;
  }
  const auto rank = static_cast<int64_t>(x->shape->size());
  const std::vector<int64_t> sizes = tensor_to_int64s(*shape);
  std::vector<int64_t> axes = context.node().attr_ints("axes");
  if (!context.node().has_attribute("axes")) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  check_model(axes.size() == sizes.size(), context.node().label(), ": input 'shape' holds ", sizes.size(),
              " sizes for ", axes.size(), " axes");
  std::vector<Dim> dims = *x->shape;
  for (size_t k = 0; k < axes.size(); ++k)
    dims[static_cast<size_t>(normalize_axis(axes[k], rank))] = Dim::known(sizes[k]);
  context.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

const RegisterOp kCenterCropPad{{.op_type = "CenterCropPad",
                                 .since_version = 18,
                                 .last_version = INT_MAX,
                                 .factory = make_center_crop_pad,
                                 .infer = infer_center_crop_pad}};

}  // namespace
}  // namespace tessera

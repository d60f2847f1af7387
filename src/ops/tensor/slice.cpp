// Slice: NumPy-style basic slicing with clamped starts/ends and negative steps. A slice that is one contiguous
// block of its input is a view (shared storage at an offset); others are strided copies.
#include <algorithm>
#include <climits>

#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

// Per-axis start, step and output size for a slice of `shape`.
struct SliceBounds {
  std::vector<int64_t> start;
  std::vector<int64_t> step;
  std::vector<int64_t> size;
};

// Clamps one axis the way NumPy does; returns (start, count).
std::pair<int64_t, int64_t> clamp_axis(int64_t start, int64_t end, int64_t step, int64_t dim) {
  if (dim == 0) return {0, 0};
  if (start < 0) start = start < -dim ? 0 : start + dim;  // written to avoid overflow near INT64_MIN
  if (end < 0) end = end < -dim ? -1 : end + dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    return {start, end > start ? (end - start + step - 1) / step : 0};
  }
  start = std::clamp<int64_t>(start, 0, dim - 1);
  end = std::clamp<int64_t>(end, -1, dim - 1);
  // Negative-step bounds stay in [-1, dim): the difference cannot overflow.
  return {start, start > end ? (start - end + (-step) - 1) / (-step) : 0};
}

SliceBounds slice_bounds(const std::vector<int64_t>& shape, const std::vector<int64_t>& starts,
                         const std::vector<int64_t>& ends, const std::vector<int64_t>* axes_in,
                         const std::vector<int64_t>* steps_in) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  check_argument(starts.size() == ends.size(), "Slice: starts has ", starts.size(), " values but ends has ",
                 ends.size());
  std::vector<int64_t> axes;
  if (axes_in != nullptr) {
    check_argument(axes_in->size() == starts.size(), "Slice: axes has ", axes_in->size(), " values but starts has ",
                   starts.size());
    axes = normalize_axes(*axes_in, rank, "Slice");
  } else {
    check_argument(static_cast<int64_t>(starts.size()) <= rank, "Slice: ", starts.size(),
                   " starts for an input of rank ", rank);
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps_in != nullptr) {
    check_argument(steps_in->size() == starts.size(), "Slice: steps has ", steps_in->size(), " values but starts has ",
                   starts.size());
  }
  SliceBounds b{std::vector<int64_t>(shape.size(), 0), std::vector<int64_t>(shape.size(), 1), shape};
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t a = static_cast<size_t>(axes[i]);
    const int64_t step = steps_in != nullptr ? (*steps_in)[i] : 1;
    check_argument(step != 0, "Slice: step for axis ", a, " is 0");
    auto [start, count] = clamp_axis(starts[i], ends[i], step, shape[a]);
    b.start[a] = count > 0 ? start : 0;
    b.step[a] = step;
    b.size[a] = count;
  }
  return b;
}

// True when the slice is one contiguous run of the input: unit steps, and only single indices before the
// last partially taken axis.
bool is_contiguous_block(const std::vector<int64_t>& shape, const SliceBounds& b) {
  size_t last_partial = shape.size();
  for (size_t a = 0; a < shape.size(); ++a) {
    if (b.size[a] > 1 && b.step[a] != 1) return false;
    if (b.size[a] != shape[a]) last_partial = a;
  }
  for (size_t a = 0; a < last_partial && last_partial < shape.size(); ++a) {
    if (b.size[a] != 1) return false;
  }
  return true;
}

Tensor slice_tensor(const Tensor& x, const SliceBounds& b, KernelContext& ctx) {
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  int64_t offset = 0;
  std::vector<int64_t> src_strides(x.rank());
  for (size_t a = 0; a < x.rank(); ++a) {
    offset += b.start[a] * strides[a];
    src_strides[a] = b.step[a] * strides[a];
  }
  const int64_t count = shape_element_count(b.size);
  const size_t elem = dtype_size(x.dtype());
  if (count > 0 && x.storage() && is_contiguous_block(x.shape(), b)) {
    const size_t base =
        static_cast<size_t>(static_cast<const char*>(x.raw_data()) - static_cast<const char*>(x.storage()->data()));
    return Tensor(x.dtype(), b.size, x.storage(), base + static_cast<size_t>(offset) * elem);
  }
  Tensor y(x.dtype(), b.size);
  if (count == 0) return y;
  const char* src = static_cast<const char*>(x.raw_data()) + static_cast<size_t>(offset) * elem;
  copy_strided_to_contiguous(x.dtype(), y.raw_data(), src, src_strides, b.size, ctx.parallelism());
  return y;
}

std::unique_ptr<Kernel> make_slice(const KernelInfo& info) {
  if (info.opset < 10) {
    const std::vector<int64_t> starts = info.node.required_attribute("starts").ints;
    const std::vector<int64_t> ends = info.node.required_attribute("ends").ints;
    const bool has_axes = info.node.has_attribute("axes");
    const std::vector<int64_t> axes = info.node.attr_ints("axes");
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const SliceBounds b = slice_bounds(x.shape(), starts, ends, has_axes ? &axes : nullptr, nullptr);
      ctx.set_output(0, slice_tensor(x, b, ctx));
    });
  }
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const std::vector<int64_t> starts = read_ints(ctx.input(1), "Slice starts");
    const std::vector<int64_t> ends = read_ints(ctx.input(2), "Slice ends");
    std::vector<int64_t> axes, steps;
    if (ctx.has_input(3)) axes = read_ints(ctx.input(3), "Slice axes");
    if (ctx.has_input(4)) steps = read_ints(ctx.input(4), "Slice steps");
    const SliceBounds b =
        slice_bounds(x.shape(), starts, ends, ctx.has_input(3) ? &axes : nullptr, ctx.has_input(4) ? &steps : nullptr);
    ctx.set_output(0, slice_tensor(x, b, ctx));
  });
}

void infer_slice(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  const Node& node = ctx.node();
  std::optional<std::vector<int64_t>> starts, ends, axes, steps;
  bool has_axes = false, has_steps = false;
  if (node.opset < 10) {
    starts = node.attr_ints("starts");
    ends = node.attr_ints("ends");
    has_axes = node.has_attribute("axes");
    if (has_axes) axes = node.attr_ints("axes");
  } else {
    starts = constant_ints(ctx, 1);
    ends = constant_ints(ctx, 2);
    has_axes = node.has_input(3);
    has_steps = node.has_input(4);
    if (has_axes) axes = constant_ints(ctx, 3);
    if (has_steps) steps = constant_ints(ctx, 4);
  }
  std::vector<Dim> out = *x->shape;
  const bool all_known = starts && ends && (!has_axes || axes) && (!has_steps || steps);
  if (!all_known) {
    if (!has_axes || axes) {
      const size_t n = starts ? starts->size() : (ends ? ends->size() : out.size());
      std::vector<int64_t> which;
      if (has_axes)
        which = normalize_axes(*axes, static_cast<int64_t>(out.size()), "Slice");
      else
        for (size_t i = 0; i < n && i < out.size(); ++i) which.push_back(static_cast<int64_t>(i));
      for (int64_t a : which) out[static_cast<size_t>(a)] = Dim{};
    } else {
      out.assign(out.size(), Dim{});
    }
    ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
    return;
  }
  // Unknown dims get a placeholder size and are reported unknown afterwards.
  std::vector<int64_t> shape;
  for (const Dim& d : out) shape.push_back(d.is_known() ? d.value : 0);
  const SliceBounds b = slice_bounds(shape, *starts, *ends, has_axes ? &*axes : nullptr, has_steps ? &*steps : nullptr);
  const std::vector<int64_t> which =
      has_axes ? normalize_axes(*axes, static_cast<int64_t>(out.size()), "Slice") : std::vector<int64_t>{};
  for (size_t i = 0; i < starts->size(); ++i) {
    const size_t a = has_axes ? static_cast<size_t>(which[i]) : i;
    out[a] = out[a].is_known() ? Dim::known(b.size[a]) : Dim{};
  }
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
}

const RegisterOp kSlice1{{.domain = "",
                          .op_type = "Slice",
                          .since_version = 1,
                          .last_version = 9,
                          .factory = make_slice,
                          .infer = infer_slice}};
const RegisterOp kSlice10{{.domain = "",
                           .op_type = "Slice",
                           .since_version = 10,
                           .last_version = INT_MAX,
                           .factory = make_slice,
                           .infer = infer_slice}};

}  // namespace
}  // namespace tessera

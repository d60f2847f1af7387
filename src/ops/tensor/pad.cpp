// Pad: constant, reflect, edge and wrap padding (negative pads crop). Each output axis gets a map from output
// to input coordinate (-1 = the constant); rows are then assembled from runs of consecutive input elements.
#include <algorithm>
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

PadMode parse_mode(const Node& node, int64_t opset) {
  const std::string mode = node.attr_string("mode", "constant");
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  if (mode == "wrap" && opset >= 19) return PadMode::kWrap;
  fail(ErrorCode::kInvalidModel, node.label(), ": unsupported pad mode '", mode, "' at opset ", opset);
}

// Input coordinate for output coordinate `o` of one axis, or -1 for the constant.
int64_t source_index(int64_t o, int64_t pad_begin, int64_t in, PadMode mode) {
  const int64_t i = o - pad_begin;
  if (i >= 0 && i < in) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return std::clamp<int64_t>(i, 0, in - 1);
    case PadMode::kWrap:
      return ((i % in) + in) % in;
    case PadMode::kReflect: {
      if (in == 1) return 0;
      const int64_t period = 2 * (in - 1);
      const int64_t m = ((i % period) + period) % period;
      return m < in ? m : period - m;
    }
  }
  return -1;
}

// A piece of an output row: `length` elements from input offset `src` (consecutive), or the constant (src -1).
struct Run {
  int64_t out = 0;
  int64_t length = 0;
  int64_t src = -1;
};

template <typename U>
void pad_typed(const Tensor& x, Tensor& y, const std::vector<std::vector<int64_t>>& maps, const U& value,
               Parallelism& parallelism) {
  const size_t rank = y.rank();
  const size_t last = rank - 1;
  std::vector<Run> runs;
  for (int64_t o = 0; o < y.dim(last); ++o) {
    const int64_t s = maps[last][static_cast<size_t>(o)];
    if (!runs.empty()) {
      Run& r = runs.back();
      if ((s < 0 && r.src < 0) || (s >= 0 && r.src >= 0 && s == r.src + r.length)) {
        ++r.length;
        continue;
      }
    }
    runs.push_back({o, 1, s});
  }
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  const int64_t rows = product(y.shape(), 0, last);
  const int64_t row_length = y.dim(last);
  const U* src = x.data<U>();
  U* dst = y.data<U>();
  parallel_over(parallelism, rows, row_length * static_cast<int64_t>(sizeof(U)), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      U* out = dst + row * row_length;
      int64_t base = 0;
      bool constant_row = false;
      for (int64_t rest = row, a = static_cast<int64_t>(last) - 1; a >= 0; --a) {
        const int64_t o = rest % y.dim(static_cast<size_t>(a));
        rest /= y.dim(static_cast<size_t>(a));
        const int64_t s = maps[static_cast<size_t>(a)][static_cast<size_t>(o)];
        if (s < 0) constant_row = true;
        base += s * in_strides[static_cast<size_t>(a)];
      }
      if (constant_row) {
        std::fill_n(out, row_length, value);
        continue;
      }
      for (const Run& r : runs) {
        if (r.src < 0)
          std::fill_n(out + r.out, r.length, value);
        else
          std::copy_n(src + base + r.src, r.length, out + r.out);
      }
    }
  });
}

// Pads `x`; `pads` holds begin values then end values for `axes`, `value` is a 1-element tensor of x's dtype.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes, const Tensor& value,
           PadMode mode, Parallelism& parallelism) {
  const size_t rank = x.rank();
  check_argument(pads.size() == 2 * axes.size(), "Pad: pads has ", pads.size(), " values, expected ", 2 * axes.size(),
                 " for input ", tensor_text(x));
  std::vector<int64_t> begin(rank, 0), end(rank, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    begin[static_cast<size_t>(axes[i])] = pads[i];
    end[static_cast<size_t>(axes[i])] = pads[i + axes.size()];
  }
  std::vector<int64_t> out_shape(rank);
  for (size_t a = 0; a < rank; ++a) {
    check_argument(!__builtin_add_overflow(x.dim(a), begin[a], &out_shape[a]) &&
                       !__builtin_add_overflow(out_shape[a], end[a], &out_shape[a]) && out_shape[a] >= 0,
                   "Pad: pads ", shape_text(pads), " give axis ", a, " of input ", tensor_text(x),
                   " a negative or overflowing size");
    check_argument(mode == PadMode::kConstant || x.dim(a) > 0 || out_shape[a] == 0, "Pad: cannot pad empty axis ", a,
                   " of input ", tensor_text(x), " in a non-constant mode");
  }
  if (rank == 0) return x;
  Tensor y(x.dtype(), out_shape);  // refuses sizes past the allocation limit before the maps are built
  if (y.element_count() == 0) return y;
  std::vector<std::vector<int64_t>> maps(rank);
  for (size_t a = 0; a < rank; ++a) {
    maps[a].resize(static_cast<size_t>(out_shape[a]));
    for (int64_t o = 0; o < out_shape[a]; ++o)
      maps[a][static_cast<size_t>(o)] = source_index(o, begin[a], x.dim(a), mode);
  }
  visit_element_bytes(x.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    pad_typed<U>(x, y, maps, *value.data<U>(), parallelism);
  });
  return y;
}

// A 1-element tensor of `dtype` holding `v` (the float `value` attribute of Pad-1 and Pad-2).
Tensor constant_from_double(DType dtype, double v) {
  Tensor t(dtype, {});
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string>) {
      fail(ErrorCode::kInvalidArgument, "Pad: a float pad value cannot fill a string tensor");
    } else if constexpr (std::is_same_v<T, bool>) {
      *t.data<T>() = v != 0;
    } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
      *t.data<T>() = T(static_cast<typename T::value_type>(v));
    } else {
      *t.data<T>() = element_from_double<T>(v);
    }
  });
  return t;
}

std::vector<int64_t> all_axes(size_t rank) {
  std::vector<int64_t> axes(rank);
  for (size_t i = 0; i < rank; ++i) axes[i] = static_cast<int64_t>(i);
  return axes;
}

std::unique_ptr<Kernel> make_pad(const KernelInfo& info) {
  const PadMode mode = parse_mode(info.node, info.opset);
  if (info.opset < 11) {
    const std::vector<int64_t> pads = info.node.required_attribute(info.opset < 2 ? "paddings" : "pads").ints;
    const double value = info.node.attr_float("value", 0.0f);
    return make_kernel([=](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      ctx.set_output(0,
                     pad(x, pads, all_axes(x.rank()), constant_from_double(x.dtype(), value), mode, ctx.parallelism()));
    });
  }
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const std::vector<int64_t> pads = read_ints(ctx.input(1), "Pad pads");
    Tensor value(x.dtype(), {});
    if (ctx.has_input(2) && mode == PadMode::kConstant) {
      const Tensor& v = ctx.input(2);
      check_argument(v.dtype() == x.dtype() && v.element_count() == 1, "Pad: constant_value ", tensor_text(v),
                     " must be one element of the dtype of data ", tensor_text(x));
      copy_elements(x.dtype(), value.raw_data(), v.raw_data(), 1);
    }
    std::vector<int64_t> axes = all_axes(x.rank());
    if (ctx.has_input(3)) {
      axes = normalize_axes(read_ints(ctx.input(3), "Pad axes"), static_cast<int64_t>(x.rank()), "Pad");
    }
    ctx.set_output(0, pad(x, pads, axes, value, mode, ctx.parallelism()));
  });
}

void infer_pad(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  const size_t rank = x->shape->size();
  std::optional<std::vector<int64_t>> pads;
  std::optional<std::vector<int64_t>> axes = all_axes(rank);
  if (ctx.node().opset < 11) {
    pads = ctx.node().attr_ints(ctx.node().opset < 2 ? "paddings" : "pads");
  } else {
    pads = constant_ints(ctx, 1);
    if (ctx.node().has_input(3)) axes = constant_ints(ctx, 3);
  }
  std::vector<Dim> out = *x->shape;
  if (!pads || !axes || pads->size() != 2 * axes->size()) {
    ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>(rank)));
    return;
  }
  const std::vector<int64_t> normalized = normalize_axes(*axes, static_cast<int64_t>(rank), "Pad");
  for (size_t i = 0; i < normalized.size(); ++i) {
    Dim& d = out[static_cast<size_t>(normalized[i])];
    const int64_t added = (*pads)[i] + (*pads)[i + normalized.size()];
    if (added != 0) d = d.is_known() ? Dim::known(d.value + added) : Dim{};
  }
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
}

const RegisterOp kPad1{
    {.domain = "", .op_type = "Pad", .since_version = 1, .last_version = 1, .factory = make_pad, .infer = infer_pad}};
const RegisterOp kPad2{
    {.domain = "", .op_type = "Pad", .since_version = 2, .last_version = 10, .factory = make_pad, .infer = infer_pad}};
const RegisterOp kPad11{
    {.domain = "", .op_type = "Pad", .since_version = 11, .last_version = 17, .factory = make_pad, .infer = infer_pad}};
const RegisterOp kPad18{
    {.domain = "", .op_type = "Pad", .since_version = 18, .last_version = 18, .factory = make_pad, .infer = infer_pad}};
const RegisterOp kPad19{{.domain = "",
                         .op_type = "Pad",
                         .since_version = 19,
                         .last_version = INT_MAX,
                         .factory = make_pad,
                         .infer = infer_pad}};

}  // namespace
}  // namespace tessera

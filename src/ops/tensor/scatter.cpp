// Scatter (the deprecated name of ScatterElements), ScatterElements and ScatterND: the output is a copy of
// data with indexed elements (or blocks) replaced or combined by a reduction (add, mul; max, min from
// opset 18). Updates apply in index order, so duplicate indices with reduction "none" keep the last update.
#include <algorithm>
#include <climits>
#include <complex>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction parse_reduction(const Node& node, int64_t opset) {
  const std::string r = opset >= 16 ? node.attr_string("reduction", "none") : "none";
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (opset >= 18 && r == "max") return Reduction::kMax;
  if (opset >= 18 && r == "min") return Reduction::kMin;
  fail(ErrorCode::kInvalidModel, node.label(), ": unsupported reduction '", r, "' at opset ", opset);
}

template <typename T>
T combine(const T& a, const T& b, Reduction r) {
  if constexpr (std::is_same_v<T, bool>) {
    return (r == Reduction::kAdd || r == Reduction::kMax) ? (a || b) : (a && b);
  } else if constexpr (kIsPlainNumber<T>) {
    switch (r) {
      case Reduction::kAdd:
        return static_cast<T>(a + b);
      case Reduction::kMul:
        return static_cast<T>(a * b);
      case Reduction::kMax:
        return std::max(a, b);
      case Reduction::kMin:
        return std::min(a, b);
      case Reduction::kNone:
        break;
    }
    return b;
  } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
    if (r == Reduction::kAdd) return a + b;
    if (r == Reduction::kMul) return a * b;
    fail(ErrorCode::kUnsupported, "max/min reductions are not defined for complex numbers");
  } else if constexpr (std::is_same_v<T, std::string>) {
    fail(ErrorCode::kUnsupported, "reductions are not defined for strings");
  } else {
    return element_from_double<T>(combine(element_to_double(a), element_to_double(b), r));
  }
}

// Applies updates: block i of `inner` elements of `updates` goes to element offset offsets[i] of `out`.
void apply_updates(Tensor& out, const Tensor& updates, const std::vector<int64_t>& offsets, int64_t inner,
                   Reduction reduction) {
  if (reduction == Reduction::kNone) {
    visit_element_bytes(out.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      U* dst = out.data<U>();
      const U* src = updates.data<U>();
      for (size_t i = 0; i < offsets.size(); ++i)
        std::copy_n(src + static_cast<int64_t>(i) * inner, inner, dst + offsets[i]);
    });
    return;
  }
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = out.data<T>();
    const T* src = updates.data<T>();
    for (size_t i = 0; i < offsets.size(); ++i) {
      T* d = dst + offsets[i];
      const T* s = src + static_cast<int64_t>(i) * inner;
      for (int64_t j = 0; j < inner; ++j) d[j] = combine(d[j], s[j], reduction);
    }
  });
}

std::unique_ptr<Kernel> make_scatter_elements(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", 0);
  const Reduction reduction =
      info.node.op_type == "Scatter" ? Reduction::kNone : parse_reduction(info.node, info.opset);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    check_argument(data.rank() >= 1, "ScatterElements: data must have rank >= 1, got ", tensor_text(data));
    check_argument(updates.shape() == indices.shape() && updates.dtype() == data.dtype(), "ScatterElements: updates ",
                   tensor_text(updates), " must match indices ", tensor_text(indices), " in shape and data ",
                   tensor_text(data), " in dtype");
    const size_t axis = static_cast<size_t>(normalize_axis(axis_attr, static_cast<int64_t>(data.rank())));
    const std::vector<int64_t> offsets = element_offsets(
        data.shape(), indices.shape(), read_ints(indices, "ScatterElements indices"), axis, "ScatterElements");
    Tensor out = data.clone();
    apply_updates(out, updates, offsets, 1, reduction);
    ctx.set_output(0, std::move(out));
  });
}

const RegisterOp kScatter{{.domain = "",
                           .op_type = "Scatter",
                           .since_version = 9,
                           .last_version = INT_MAX,
                           .factory = make_scatter_elements,
                           .infer = infer_same_as_input}};
const RegisterOp kScatterElements11{{.domain = "",
                                     .op_type = "ScatterElements",
                                     .since_version = 11,
                                     .last_version = 15,
                                     .factory = make_scatter_elements,
                                     .infer = infer_same_as_input}};
const RegisterOp kScatterElements16{{.domain = "",
                                     .op_type = "ScatterElements",
                                     .since_version = 16,
                                     .last_version = 17,
                                     .factory = make_scatter_elements,
                                     .infer = infer_same_as_input}};
const RegisterOp kScatterElements18{{.domain = "",
                                     .op_type = "ScatterElements",
                                     .since_version = 18,
                                     .last_version = INT_MAX,
                                     .factory = make_scatter_elements,
                                     .infer = infer_same_as_input}};

std::unique_ptr<Kernel> make_scatter_nd(const KernelInfo& info) {
  const Reduction reduction = parse_reduction(info.node, info.opset);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    check_argument(data.rank() >= 1 && indices.rank() >= 1, "ScatterND: data ", tensor_text(data), " and indices ",
                   tensor_text(indices), " must have rank >= 1");
    const int64_t k = indices.shape().back();
    check_argument(k >= 1 && k <= static_cast<int64_t>(data.rank()), "ScatterND: last dimension of indices ",
                   tensor_text(indices), " must be in [1, ", data.rank(), "]");
    std::vector<int64_t> expected(indices.shape().begin(), indices.shape().end() - 1);
    expected.insert(expected.end(), data.shape().begin() + k, data.shape().end());
    check_argument(updates.shape() == expected && updates.dtype() == data.dtype(), "ScatterND: updates ",
                   tensor_text(updates), " must have shape ", shape_text(expected), " and the dtype of data ",
                   tensor_text(data));
    const std::vector<int64_t> idx = read_ints(indices, "ScatterND indices");
    const std::vector<int64_t> strides = contiguous_strides(data.shape());
    const size_t tuples = idx.size() / static_cast<size_t>(k);
    std::vector<int64_t> offsets(tuples);
    for (size_t t = 0; t < tuples; ++t) {
      int64_t offset = 0;
      for (size_t j = 0; j < static_cast<size_t>(k); ++j) {
        offset += wrap_index(idx[t * static_cast<size_t>(k) + j], data.dim(j), "ScatterND") * strides[j];
      }
      offsets[t] = offset;
    }
    Tensor out = data.clone();
    apply_updates(out, updates, offsets, product(data.shape(), static_cast<size_t>(k), data.rank()), reduction);
    ctx.set_output(0, std::move(out));
  });
}

const RegisterOp kScatterND11{{.domain = "",
                               .op_type = "ScatterND",
                               .since_version = 11,
                               .last_version = 15,
                               .factory = make_scatter_nd,
                               .infer = infer_same_as_input}};
const RegisterOp kScatterND16{{.domain = "",
                               .op_type = "ScatterND",
                               .since_version = 16,
                               .last_version = 17,
                               .factory = make_scatter_nd,
                               .infer = infer_same_as_input}};
const RegisterOp kScatterND18{{.domain = "",
                               .op_type = "ScatterND",
                               .since_version = 18,
                               .last_version = INT_MAX,
                               .factory = make_scatter_nd,
                               .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

// Selection and masking operators: Compress, NonZero, Trilu, OneHot.
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

std::unique_ptr<Kernel> make_compress(const KernelInfo& info) {
  const bool has_axis = info.node.has_attribute("axis");
  const int64_t axis_attr = info.node.attr_int("axis", 0);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& condition = ctx.input(1);
    check_argument(condition.dtype() == DType::kBool && condition.rank() == 1,
                   "Compress: condition must be a 1-D bool "
                   "tensor, got ",
                   tensor_text(condition));
    const bool* cond = condition.data<bool>();
    std::vector<int64_t> shape;
    size_t axis = 0;
    if (has_axis) {
      check_argument(x.rank() >= 1, "Compress: input with an axis must have rank >= 1, got ", tensor_text(x));
      axis = static_cast<size_t>(normalize_axis(axis_attr, static_cast<int64_t>(x.rank())));
      shape = x.shape();
    } else {
      shape = {x.element_count()};
    }
    const int64_t dim = shape[axis];
    std::vector<int64_t> selected;
    for (int64_t i = 0; i < condition.element_count(); ++i) {
      if (!cond[i]) continue;
      check_argument(i < dim, "Compress: condition ", tensor_text(condition), " selects index ", i,
                     " past the axis of size ", dim);
      selected.push_back(i);
    }
    const int64_t outer = product(shape, 0, axis);
    const int64_t inner = product(shape, axis + 1, shape.size());
    std::vector<int64_t> out_shape = shape;
    out_shape[axis] = static_cast<int64_t>(selected.size());
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    if (y.element_count() == 0) return;
    visit_element_bytes(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = x.data<U>();
      U* dst = y.data<U>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t s : selected) {
          std::copy_n(src + (o * dim + s) * inner, inner, dst);
          dst += inner;
        }
      }
    });
  });
}

void infer_compress(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  if (!ctx.node().has_attribute("axis")) {
    ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>{Dim{}}));
    return;
  }
  std::vector<Dim> out = *x->shape;
  if (out.empty()) return;
  out[static_cast<size_t>(normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(out.size())))] = Dim{};
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
}

const RegisterOp kCompress{{.domain = "",
                            .op_type = "Compress",
                            .since_version = 9,
                            .last_version = INT_MAX,
                            .factory = make_compress,
                            .infer = infer_compress}};

template <typename T>
bool is_nonzero(const T& v) {
  if constexpr (std::is_same_v<T, std::string>)
    return !v.empty();
  else if constexpr (std::is_same_v<T, bool>)
    return v;
  else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>)
    return v != T(0);
  else if constexpr (kIsPlainNumber<T>)
    return v != T(0);
  else
    return element_to_double(v) != 0.0;
}

std::unique_ptr<Kernel> make_nonzero(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    std::vector<int64_t> flat;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* data = x.data<T>();
      for (int64_t i = 0; i < x.element_count(); ++i) {
        if (is_nonzero(data[i])) flat.push_back(i);
      }
    });
    // A scalar is treated as a 1-D tensor of one element, as NumPy does.
    const std::vector<int64_t> shape = x.rank() == 0 ? std::vector<int64_t>{1} : x.shape();
    const int64_t n = static_cast<int64_t>(flat.size());
    Tensor& y = ctx.allocate_output(0, DType::kInt64, {static_cast<int64_t>(shape.size()), n});
    int64_t* out = y.data<int64_t>();
    for (int64_t j = 0; j < n; ++j) {
      int64_t rest = flat[static_cast<size_t>(j)];
      for (size_t d = shape.size(); d-- > 0;) {
        out[static_cast<int64_t>(d) * n + j] = rest % shape[d];
        rest /= shape[d];
      }
    }
  });
}

void infer_nonzero(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  const Dim rank = x == nullptr ? Dim{} : Dim::known(std::max<int64_t>(1, static_cast<int64_t>(x->shape->size())));
  ctx.set_output_type(0, TypeInfo::tensor(DType::kInt64, std::vector<Dim>{rank, Dim{}}));
}

const RegisterOp kNonZero{{.domain = "",
                           .op_type = "NonZero",
                           .since_version = 9,
                           .last_version = INT_MAX,
                           .factory = make_nonzero,
                           .infer = infer_nonzero}};

std::unique_ptr<Kernel> make_trilu(const KernelInfo& info) {
  const bool upper = info.node.attr_int("upper", 1) != 0;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.rank() >= 2, "Trilu: input must have rank >= 2, got ", tensor_text(x));
    int64_t k = 0;
    if (ctx.has_input(1)) {
      const std::vector<int64_t> kv = read_ints(ctx.input(1), "Trilu k");
      check_argument(kv.size() == 1, "Trilu: k must be a scalar, got ", tensor_text(ctx.input(1)));
      k = kv[0];
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    const int64_t rows = x.dim(x.rank() - 2);
    const int64_t cols = x.dim(x.rank() - 1);
    const int64_t matrices = product(x.shape(), 0, x.rank() - 2);
    if (y.element_count() == 0) return;
    visit_element_bytes(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = x.data<U>();
      U* dst = y.data<U>();
      for (int64_t m = 0; m < matrices; ++m) {
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t row = (m * rows + i) * cols;
          // Kept columns: j - i >= k (upper) or j - i <= k (lower); bounds computed without overflow.
          const int64_t lo = upper ? std::clamp<int64_t>(k > cols ? cols : i + k, 0, cols) : 0;
          const int64_t hi = upper ? cols : std::clamp<int64_t>(k >= cols ? cols : i + k + 1, 0, cols);
          if (hi > lo) std::copy_n(src + row + lo, hi - lo, dst + row + lo);
        }
      }
    });
  });
}

const RegisterOp kTrilu{{.domain = "",
                         .op_type = "Trilu",
                         .since_version = 14,
                         .last_version = INT_MAX,
                         .factory = make_trilu,
                         .infer = infer_same_as_input}};
// ONNX Runtime's com.microsoft Trilu (from before opset 14), the same operator.
const RegisterOp kMicrosoftTrilu{{.domain = kMicrosoftDomain,
                                  .op_type = "Trilu",
                                  .since_version = 1,
                                  .last_version = INT_MAX,
                                  .factory = make_trilu,
                                  .infer = infer_same_as_input}};

// OneHot's depth: any numeric scalar (floats truncate), positive.
int64_t read_depth(const Tensor& depth) {
  check_argument(depth.element_count() == 1, "OneHot: depth must be a scalar, got ", tensor_text(depth));
  const int64_t d = read_indices(depth, "OneHot depth")[0];
  check_argument(d > 0, "OneHot: depth must be positive, got ", d);
  return d;
}

std::unique_ptr<Kernel> make_onehot(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", -1);
  const bool wrap_negative = info.opset >= 11;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& indices = ctx.input(0);
    const int64_t depth = read_depth(ctx.input(1));
    const Tensor& values = ctx.input(2);
    check_argument(values.element_count() == 2, "OneHot: values must hold [off, on], got ", tensor_text(values));
    const int64_t out_rank = static_cast<int64_t>(indices.rank()) + 1;
    const size_t axis = static_cast<size_t>(normalize_axis(axis_attr, out_rank));
    std::vector<int64_t> out_shape = indices.shape();
    out_shape.insert(out_shape.begin() + static_cast<int64_t>(axis), depth);
    const std::vector<int64_t> idx = read_indices(indices, "OneHot indices");
    const int64_t inner = product(indices.shape(), axis, indices.rank());
    Tensor& y = ctx.allocate_output(0, values.dtype(), out_shape);
    visit_element_bytes(values.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U off = values.data<U>()[0];
      const U on = values.data<U>()[1];
      U* out = y.data<U>();
      std::fill_n(out, y.element_count(), off);
      for (size_t n = 0; n < idx.size(); ++n) {
        int64_t v = idx[n];
        if (v < 0 && wrap_negative) v += depth;
        if (v < 0 || v >= depth) continue;  // out-of-range indices give an all-off vector
        const int64_t o = static_cast<int64_t>(n) / inner;
        const int64_t i = static_cast<int64_t>(n) % inner;
        out[(o * depth + v) * inner + i] = on;
      }
    });
  });
}

void infer_onehot(InferenceContext& ctx) {
  const TypeInfo* indices = ranked_input(ctx, 0);
  const TypeInfo* values = ctx.input_type(2);
  if (indices == nullptr || values == nullptr || !values->is_tensor()) return;
  const int64_t out_rank = static_cast<int64_t>(indices->shape->size()) + 1;
  const size_t axis = static_cast<size_t>(normalize_axis(ctx.node().attr_int("axis", -1), out_rank));
  std::vector<Dim> out = *indices->shape;
  Dim depth{};
  if (const Tensor* d = ctx.input_constant(1); d != nullptr && d->element_count() == 1) {
    depth = Dim::known(read_indices(*d, "OneHot depth")[0]);
  }
  out.insert(out.begin() + static_cast<int64_t>(axis), depth);
  ctx.set_output_type(0, TypeInfo::tensor(values->elem_type, out));
}

const RegisterOp kOneHot9{{.domain = "",
                           .op_type = "OneHot",
                           .since_version = 9,
                           .last_version = 10,
                           .factory = make_onehot,
                           .infer = infer_onehot}};
const RegisterOp kOneHot11{{.domain = "",
                            .op_type = "OneHot",
                            .since_version = 11,
                            .last_version = INT_MAX,
                            .factory = make_onehot,
                            .infer = infer_onehot}};

}  // namespace
}  // namespace tessera

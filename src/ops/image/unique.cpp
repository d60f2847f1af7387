// Unique, opset 11 (the only version): the unique elements of the flattened input, or the unique slices
// along `axis`, sorted ascending (slices compare lexicographically) or in order of first occurrence, with
// the optional first-occurrence indices, inverse indices and counts. Like NumPy: NaN sorts last and all NaNs
// are one value; complex numbers order by real then imaginary part. Every element type is accepted.
// (Kept with the image family's helpers for want of a better home; it is a tensor op.)
#include <algorithm>
#include <climits>
#include <cmath>
#include <complex>
#include <memory>
#include <numeric>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {

template <typename T>
int compare_elements(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
    const int re = compare_elements(a.real(), b.real());
    return re != 0 ? re : compare_elements(a.imag(), b.imag());
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool> || std::is_integral_v<T>) {
    return a < b ? -1 : (b < a ? 1 : 0);
  } else {
    const double x = element_to_double(a), y = element_to_double(b);
    const bool x_nan = std::isnan(x), y_nan = std::isnan(y);
    if (x_nan || y_nan) return x_nan == y_nan ? 0 : (x_nan ? 1 : -1);
    return x < y ? -1 : (y < x ? 1 : 0);
  }
}

// The unique slices: for each group (in output order) its first occurrence and count, and for each input
// slice its group.
struct UniqueGroups {
  std::vector<int64_t> first;
  std::vector<int64_t> counts;
  std::vector<int64_t> inverse;
};

// `slices` holds `n` slices of `length` elements each, contiguously.
template <typename T>
UniqueGroups find_unique(const T* slices, int64_t n, int64_t length, bool sorted) {
  auto compare = [&](int64_t a, int64_t b) {
    for (int64_t j = 0; j < length; ++j) {
      const int c = compare_elements(slices[a * length + j], slices[b * length + j]);
      if (c != 0) return c;
    }
    return 0;
  };
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return compare(a, b) < 0; });
  UniqueGroups g;
  g.inverse.resize(static_cast<size_t>(n));
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || compare(order[i - 1], order[i]) != 0) {
      g.first.push_back(order[i]);  // the stable sort puts the earliest occurrence first
      g.counts.push_back(0);
    }
    g.counts.back() += 1;
    g.inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(g.first.size()) - 1;
  }
  if (!sorted) {
    std::vector<int64_t> by_occurrence(g.first.size());
    std::iota(by_occurrence.begin(), by_occurrence.end(), 0);
    std::sort(by_occurrence.begin(), by_occurrence.end(),
              [&](int64_t a, int64_t b) { return g.first[static_cast<size_t>(a)] < g.first[static_cast<size_t>(b)]; });
    std::vector<int64_t> new_id(g.first.size());
    UniqueGroups reordered;
    for (size_t k = 0; k < by_occurrence.size(); ++k) {
      const auto old = static_cast<size_t>(by_occurrence[k]);
      new_id[old] = static_cast<int64_t>(k);
      reordered.first.push_back(g.first[old]);
      reordered.counts.push_back(g.counts[old]);
    }
    for (int64_t& v : g.inverse) v = new_id[static_cast<size_t>(v)];
    reordered.inverse = std::move(g.inverse);
    return reordered;
  }
  return g;
}

Tensor int64_vector(const std::vector<int64_t>& values) { return Tensor::from_vector(DType::kInt64, values); }

// Runs Unique on x viewed as (outer, n, inner) with slices along the middle axis.
template <typename T>
void run_unique(KernelContext& ctx, const Tensor& x, int64_t outer, int64_t n, int64_t inner, bool sorted,
                std::vector<int64_t> y_shape, size_t y_axis) {
  const int64_t length = outer * inner;
  const T* in = x.data<T>();
  // Not std::vector: vector<bool> has no data().
  std::unique_ptr<T[]> slices(new T[static_cast<size_t>(n * length)]);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t s = 0; s < n; ++s) {
      for (int64_t k = 0; k < inner; ++k)
        slices[static_cast<size_t>(s * length + o * inner + k)] = in[(o * n + s) * inner + k];
    }
  }
  const UniqueGroups g = find_unique(slices.get(), n, length, sorted);
  const auto unique_count = static_cast<int64_t>(g.first.size());
  y_shape[y_axis] = unique_count;
  Tensor& y = ctx.allocate_output(0, x.dtype(), y_shape);
  T* out = y.data<T>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t u = 0; u < unique_count; ++u) {
      const T* src = &slices[static_cast<size_t>(g.first[static_cast<size_t>(u)] * length + o * inner)];
      std::copy(src, src + inner, out + (o * unique_count + u) * inner);
    }
  }
  if (ctx.output_wanted(1)) ctx.set_output(1, int64_vector(g.first));
  if (ctx.output_wanted(2)) ctx.set_output(2, int64_vector(g.inverse));
  if (ctx.output_wanted(3)) ctx.set_output(3, int64_vector(g.counts));
}

std::unique_ptr<Kernel> make_unique_op(const KernelInfo& info) {
  const bool has_axis = info.node.has_attribute("axis");
  const int64_t axis_attr = info.node.attr_int("axis", 0);
  const int64_t sorted = info.node.attr_int("sorted", 1);
  check_model(sorted == 0 || sorted == 1, info.node.label(), ": attribute 'sorted' must be 0 or 1, got ", sorted);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    int64_t outer = 1, n = x.element_count(), inner = 1;
    std::vector<int64_t> y_shape = {n};
    size_t y_axis = 0;
    if (has_axis) {
      check_argument(x.rank() >= 1, "input 'X' ", tensor_text(x), " must have rank >= 1 when 'axis' is set");
      const int64_t axis = normalize_axis(axis_attr, static_cast<int64_t>(x.rank()));
      y_axis = static_cast<size_t>(axis);
      y_shape = x.shape();
      n = x.dim(y_axis);
      for (size_t i = 0; i < y_axis; ++i) outer *= x.dim(i);
      for (size_t i = y_axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
    }
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      run_unique<T>(ctx, x, outer, n, inner, sorted == 1, y_shape, y_axis);
    });
  });
}

void infer_unique(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const bool has_axis = context.node().has_attribute("axis");
  if (has_axis && x->shape) {
    const auto rank = static_cast<int64_t>(x->shape->size());
    std::vector<Dim> dims = *x->shape;
    dims[static_cast<size_t>(normalize_axis(context.node().attr_int("axis", 0), rank))] = Dim{};
    context.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
  } else if (has_axis) {
    context.set_output_type(0, TypeInfo::tensor(x->elem_type));
  } else {
    context.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>{Dim{}}));
  }
  for (size_t i = 1; i < 4; ++i) context.set_output_type(i, TypeInfo::tensor(DType::kInt64, std::vector<Dim>{Dim{}}));
}

const RegisterOp kUnique{{.op_type = "Unique",
                          .since_version = 11,
                          .last_version = INT_MAX,
                          .factory = make_unique_op,
                          .infer = infer_unique}};

}  // namespace
}  // namespace tessera

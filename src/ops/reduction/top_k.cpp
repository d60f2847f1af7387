// TopK, every opset: 1 (k attribute), 10 (k becomes an input), 11 (largest, sorted; all numeric types),
// 24 (bfloat16). Results are always sorted, ties broken by the lower index; NaN counts as the largest value.
#include <algorithm>
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct TopKAttributes {
  bool k_from_input = true;
  int64_t k = 0;  // the attribute, in opset 1..9
  int64_t axis = -1;
  bool largest = true;
};

TopKAttributes parse_top_k_attributes(const Node& node, int64_t opset) {
  TopKAttributes a;
  a.axis = node.attr_int("axis", -1);
  a.k_from_input = opset >= 10;
  if (!a.k_from_input) {
    a.k = node.required_attribute("k").i;
    check_model(a.k >= 0, node.label(), ": attribute 'k' must be >= 0, got ", a.k);
  }
  if (opset >= 11) {
    a.largest = node.attr_int("largest", 1) != 0;
  }
  return a;
}

template <typename C>
inline bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>)
    return v != v;
  else
    return false;
}

// Strict "comes first" orders with NaN the largest value and ties going to the lower index.
template <typename C>
struct Entry {
  C value;
  int64_t index;
};

template <typename C>
inline bool before_largest(const Entry<C>& a, const Entry<C>& b) {
  const bool an = is_nan(a.value), bn = is_nan(b.value);
  if (an || bn) return an && !bn ? true : (an && bn ? a.index < b.index : false);
  if (a.value != b.value) return a.value > b.value;
  return a.index < b.index;
}

template <typename C>
inline bool before_smallest(const Entry<C>& a, const Entry<C>& b) {
  const bool an = is_nan(a.value), bn = is_nan(b.value);
  if (an || bn) return bn && !an ? true : (an && bn ? a.index < b.index : false);
  if (a.value != b.value) return a.value < b.value;
  return a.index < b.index;
}

// Up to this k, a row is scanned once keeping its k best entries sorted (each element one comparison with the
// current k-th best, most rejected there) instead of copied whole and partially sorted.
constexpr int64_t kMaxStreamingK = 32;

// The k best entries of line[0, n) (stride `stride`) into best[0, k), sorted by the op's order. Elements come in
// index order, so an element equal to the k-th best never displaces it (ties go to the lower index). Past the
// first k, an element is first tested against a non-NaN k-th best w alone: smallest takes v < w (NaN never),
// largest v > w or NaN.
template <bool kLargest, typename T, typename C>
void stream_top_k(const T* line, int64_t stride, int64_t n, int64_t k, Entry<C>* best) {
  const auto before = kLargest ? before_largest<C> : before_smallest<C>;
  auto insert = [&](const Entry<C>& e, int64_t slot) {
    while (slot > 0 && before(e, best[slot - 1])) {
      best[slot] = best[slot - 1];
      --slot;
    }
    best[slot] = e;
  };
  const int64_t first = std::min(n, k);
  for (int64_t i = 0; i < first; ++i) insert({to_compute<C>(line[i * stride]), i}, i);
  if (n <= k) return;
  C w = best[k - 1].value;
  for (int64_t i = k; i < n; ++i) {
    const C v = to_compute<C>(line[i * stride]);
    if (!is_nan(w)) {
      if (kLargest ? !(v > w || is_nan(v)) : !(v < w)) continue;
    } else if (!before(Entry<C>{v, i}, best[k - 1])) {
      continue;
    }
    insert({v, i}, k - 1);
    w = best[k - 1].value;
  }
}

template <typename T>
void top_k_typed(const Tensor& x, const AxisSplit& s, int64_t k, bool largest, Tensor& values, Tensor& indices,
                 Parallelism& parallelism) {
  using C = FloatCompute<T>;
  const T* in = x.data<T>();
  T* out_values = values.data<T>();
  int64_t* out_indices = indices.data<int64_t>();
  const int64_t rows = s.outer * s.inner;
  maybe_parallel_for(parallelism, rows, rows * s.axis, [&](int64_t begin, int64_t end) {
    const bool streaming = k <= kMaxStreamingK;
    std::vector<Entry<C>> entries(static_cast<size_t>(streaming ? k : s.axis));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t o = r / s.inner;
      const int64_t j = r % s.inner;
      const T* line = in + o * s.axis * s.inner + j;
      const int64_t out_base = o * k * s.inner + j;
      if (streaming) {
        if (largest)
          stream_top_k<true, T, C>(line, s.inner, s.axis, k, entries.data());
        else
          stream_top_k<false, T, C>(line, s.inner, s.axis, k, entries.data());
        for (int64_t i = 0; i < k; ++i) {
          const Entry<C>& e = entries[static_cast<size_t>(i)];
          out_indices[out_base + i * s.inner] = e.index;
          out_values[out_base + i * s.inner] = line[e.index * s.inner];
        }
        continue;
      }
      for (int64_t i = 0; i < s.axis; ++i) entries[static_cast<size_t>(i)] = {to_compute<C>(line[i * s.inner]), i};
      const auto middle = entries.begin() + k;
      if (largest)
        std::partial_sort(entries.begin(), middle, entries.end(), before_largest<C>);
      else
        std::partial_sort(entries.begin(), middle, entries.end(), before_smallest<C>);
      for (int64_t i = 0; i < k; ++i) {
        const Entry<C>& e = entries[static_cast<size_t>(i)];
        out_indices[out_base + i * s.inner] = e.index;
        out_values[out_base + i * s.inner] = line[e.index * s.inner];
      }
    }
  });
}

int64_t read_k(const Tensor& k_tensor) {
  check_argument(k_tensor.dtype() == DType::kInt64 && k_tensor.element_count() == 1 && k_tensor.rank() <= 1,
                 "input 'K' ", tensor_text(k_tensor), " must be a 1-D int64 tensor holding one value");
  return k_tensor.data<int64_t>()[0];
}

std::unique_ptr<Kernel> make_top_k(const KernelInfo& info) {
  const TopKAttributes attrs = parse_top_k_attributes(info.node, info.opset);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const auto rank = static_cast<int64_t>(x.rank());
    check_argument(rank >= 1, "input 'X' ", tensor_text(x), " must have rank >= 1");
    const int64_t axis = normalize_axis(attrs.axis, rank);
    const int64_t k = attrs.k_from_input ? read_k(ctx.input(1)) : attrs.k;
    const int64_t n = x.dim(static_cast<size_t>(axis));
    check_argument(k >= 0 && k <= n, "k = ", k, " is out of range for input 'X' ", tensor_text(x), " along axis ", axis,
                   " (size ", n, ")");
    std::vector<int64_t> shape = x.shape();
    shape[static_cast<size_t>(axis)] = k;
    Tensor& values = ctx.allocate_output(0, x.dtype(), shape);
    Tensor& indices = ctx.allocate_output(1, DType::kInt64, shape);
    if (values.element_count() == 0) return;
    const AxisSplit s = split_at_axis(x.shape(), axis);
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsReduceNumeric<T>) {
        top_k_typed<T>(x, s, k, attrs.largest, values, indices, ctx.parallelism());
      } else {
        fail(ErrorCode::kUnsupported, "input 'X' ", x.description(), ": element type ", dtype_name(x.dtype()),
             " is not supported");
      }
    });
  });
}

void infer_top_k(InferenceContext& ctx) {
  const TypeInfo* t = ctx.input_type(0);
  if (t == nullptr || !t->is_tensor()) return;
  if (!t->shape) {
    ctx.set_output_type(0, TypeInfo::tensor(t->elem_type));
    ctx.set_output_type(1, TypeInfo::tensor(DType::kInt64));
    return;
  }
  const TopKAttributes a = parse_top_k_attributes(ctx.node(), ctx.node().opset);
  const auto rank = static_cast<int64_t>(t->shape->size());
  check_model(rank >= 1, ctx.node().label(), ": input 'X' ", t->to_string(), " must have rank >= 1");
  const int64_t axis = normalize_axis(a.axis, rank);
  std::vector<Dim> dims = *t->shape;
  Dim k_dim;
  if (!a.k_from_input) {
    k_dim = Dim::known(a.k);
  } else if (const Tensor* k = ctx.input_constant(1);
             k != nullptr && k->dtype() == DType::kInt64 && k->element_count() == 1) {
    k_dim = Dim::known(k->data<int64_t>()[0]);
  }
  dims[static_cast<size_t>(axis)] = k_dim;
  ctx.set_output_type(0, TypeInfo::tensor(t->elem_type, dims));
  ctx.set_output_type(1, TypeInfo::tensor(DType::kInt64, dims));
}

const RegisterOp kTopK1{
    {.op_type = "TopK", .since_version = 1, .last_version = 9, .factory = make_top_k, .infer = infer_top_k}};
const RegisterOp kTopK10{
    {.op_type = "TopK", .since_version = 10, .last_version = INT_MAX, .factory = make_top_k, .infer = infer_top_k}};

}  // namespace
}  // namespace tessera

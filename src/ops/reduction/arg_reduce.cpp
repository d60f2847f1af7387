// ArgMax and ArgMin, every opset (1, 11: negative axis, 12: select_last_index, 13: bfloat16). The output is
// int64 indices along `axis`, which keeps a size-1 dim with keepdims (default) or is dropped.
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct ArgAttributes {
  int64_t axis = 0;
  bool keepdims = true;
  bool select_last_index = false;
  bool is_max = true;
};

ArgAttributes parse_arg_attributes(const Node& node, bool is_max) {
  ArgAttributes a;
  a.axis = node.attr_int("axis", 0);
  a.keepdims = node.attr_int("keepdims", 1) != 0;
  a.select_last_index = node.attr_int("select_last_index", 0) != 0;
  a.is_max = is_max;
  return a;
}

// Whether `v` replaces the current best `best` (ties replace only when the last index is wanted).
template <typename C>
inline bool better(C v, C best, bool is_max, bool last) {
  if (is_max) return last ? v >= best : v > best;
  return last ? v <= best : v < best;
}

template <typename T>
void arg_reduce_typed(const Tensor& x, const AxisSplit& s, const ArgAttributes& a, int64_t* y,
                      Parallelism& parallelism) {
  using C = FloatCompute<T>;
  const T* data = x.data<T>();
  const bool is_max = a.is_max;
  const bool last = a.select_last_index;
  if (s.inner == 1) {
    maybe_parallel_for(parallelism, s.outer, s.outer * s.axis, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        const T* row = data + o * s.axis;
        C best = to_compute<C>(row[0]);
        int64_t best_index = 0;
        for (int64_t i = 1; i < s.axis; ++i) {
          const C v = to_compute<C>(row[i]);
          if (better(v, best, is_max, last)) {
            best = v;
            best_index = i;
          }
        }
        y[o] = best_index;
      }
    });
    return;
  }
  maybe_parallel_for(parallelism, s.outer, s.outer * s.axis * s.inner, [&](int64_t begin, int64_t end) {
    std::vector<C> best(static_cast<size_t>(s.inner));
    for (int64_t o = begin; o < end; ++o) {
      const T* block = data + o * s.axis * s.inner;
      int64_t* out = y + o * s.inner;
      for (int64_t j = 0; j < s.inner; ++j) {
        best[static_cast<size_t>(j)] = to_compute<C>(block[j]);
        out[j] = 0;
      }
      for (int64_t i = 1; i < s.axis; ++i) {
        const T* row = block + i * s.inner;
        for (int64_t j = 0; j < s.inner; ++j) {
          const C v = to_compute<C>(row[j]);
          if (better(v, best[static_cast<size_t>(j)], is_max, last)) {
            best[static_cast<size_t>(j)] = v;
            out[j] = i;
          }
        }
      }
    }
  });
}

std::vector<int64_t> arg_output_shape(const std::vector<int64_t>& shape, int64_t axis, bool keepdims) {
  std::vector<bool> mask(shape.size(), false);
  if (!shape.empty()) mask[static_cast<size_t>(axis)] = true;
  return reduced_shape(shape, mask, keepdims);
}

KernelFactory arg_factory(bool is_max) {
  return [is_max](const KernelInfo& info) -> std::unique_ptr<Kernel> {
    const ArgAttributes attrs = parse_arg_attributes(info.node, is_max);
    return make_kernel([attrs](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const auto rank = static_cast<int64_t>(x.rank());
      check_argument(rank >= 1, "input 'data' ", tensor_text(x), " must have rank >= 1");
      const int64_t axis = normalize_axis(attrs.axis, rank);
      const AxisSplit s = split_at_axis(x.shape(), axis);
      Tensor& y = ctx.allocate_output(0, DType::kInt64, arg_output_shape(x.shape(), axis, attrs.keepdims));
      if (y.element_count() == 0) return;
      check_argument(s.axis > 0, "input 'data' ", tensor_text(x), " has no elements along axis ", attrs.axis);
      visit_dtype(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (kIsReduceNumeric<T>) {
          arg_reduce_typed<T>(x, s, attrs, y.data<int64_t>(), ctx.parallelism());
        } else {
          fail(ErrorCode::kUnsupported, "input 'data' ", x.description(), ": element type ", dtype_name(x.dtype()),
               " is not supported");
        }
      });
    });
  };
}

void infer_arg(InferenceContext& ctx) {
  const TypeInfo* t = ctx.input_type(0);
  if (t == nullptr || !t->is_tensor()) return;
  if (!t->shape) {
    ctx.set_output_type(0, TypeInfo::tensor(DType::kInt64));
    return;
  }
  const ArgAttributes a = parse_arg_attributes(ctx.node(), true);
  const auto rank = static_cast<int64_t>(t->shape->size());
  check_model(rank >= 1, ctx.node().label(), ": input 'data' ", t->to_string(), " must have rank >= 1");
  const int64_t axis = normalize_axis(a.axis, rank);
  std::vector<Dim> dims;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != axis)
      dims.push_back((*t->shape)[static_cast<size_t>(i)]);
    else if (a.keepdims)
      dims.push_back(Dim::known(1));
  }
  ctx.set_output_type(0, TypeInfo::tensor(DType::kInt64, dims));
}

const RegisterOp kArgMax{{.op_type = "ArgMax",
                          .since_version = 1,
                          .last_version = INT_MAX,
                          .factory = arg_factory(true),
                          .infer = infer_arg}};
const RegisterOp kArgMin{{.op_type = "ArgMin",
                          .since_version = 1,
                          .last_version = INT_MAX,
                          .factory = arg_factory(false),
                          .infer = infer_arg}};

}  // namespace
}  // namespace tessera

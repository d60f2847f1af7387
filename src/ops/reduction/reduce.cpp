// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp,
// ReduceSumSquare: every opset. Axes are an attribute up to opset 12 (ReduceSum) / 17 (the others) and an
// optional input from 13 / 18 on, where `noop_with_empty_axes` appears. Reducing an empty set yields the
// identity of the reduction (0 for sums, 1 for products, -inf / +inf or the type's limits for max / min,
// -inf for the log reductions, NaN for the float mean).
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

template <typename T>
inline constexpr bool kIsFloatLike = std::is_floating_point_v<T> || kIsNarrowFloat<T>;

// The accumulator of kind K over element type T: float for float32 and the narrow floats, double for double
// and for the integer log/L2 reductions, T itself for integer max/min, and uint64 for the other integer
// reductions (wrapping arithmetic, as two's complement sums and products of T wrap).
template <ReduceKind K, typename T>
struct AccumulatorOf {
  using type = std::conditional_t<
      std::is_same_v<T, double>, double,
      std::conditional_t<
          kIsFloatLike<T>, float,
          std::conditional_t<K == ReduceKind::kL2 || K == ReduceKind::kLogSum || K == ReduceKind::kLogSumExp, double,
                             std::conditional_t<K == ReduceKind::kMax || K == ReduceKind::kMin, T, uint64_t>>>>;
};

// One reduction: init / map / combine / finalize, the pieces the walking engine composes.
template <ReduceKind K, typename T>
struct ReduceOp {
  using Acc = typename AccumulatorOf<K, T>::type;
  using Out = T;
  static constexpr bool kFloatAcc = std::is_floating_point_v<Acc>;

  const Acc* shift = nullptr;  // kLogSumExp: the per-output maximum (finite), from a first pass

  Acc init() const {
    if constexpr (K == ReduceKind::kMax) {
      if constexpr (kFloatAcc)
        return -std::numeric_limits<Acc>::infinity();
      else
        return std::numeric_limits<Acc>::lowest();
    } else if constexpr (K == ReduceKind::kMin) {
      if constexpr (kFloatAcc)
        return std::numeric_limits<Acc>::infinity();
      else
        return std::numeric_limits<Acc>::max();
    } else if constexpr (K == ReduceKind::kProd) {
      return Acc{1};
    } else {
      return Acc{};
    }
  }

  Acc map(const T& x, [[maybe_unused]] int64_t o) const {
    Acc v;
    if constexpr (kFloatAcc)
      v = to_compute<Acc>(x);
    else if constexpr (std::is_same_v<Acc, uint64_t> && std::is_signed_v<T>)
      v = static_cast<uint64_t>(static_cast<int64_t>(x));
    else
      v = static_cast<Acc>(x);
    if constexpr (K == ReduceKind::kL1) {
      if constexpr (kFloatAcc)
        return std::abs(v);
      else if constexpr (std::is_signed_v<T>)
        return x < T{} ? Acc{0} - v : v;
      else
        return v;
    } else if constexpr (K == ReduceKind::kL2 || K == ReduceKind::kSumSquare) {
      return v * v;
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      if constexpr (std::is_same_v<Acc, float>)
        return vector_exp(v - shift[o]);
      else
        return std::exp(v - shift[o]);
    } else {
      return v;
    }
  }

  static Acc combine(Acc a, Acc b) {
    if constexpr (K == ReduceKind::kMax) {
      if constexpr (kFloatAcc)
        return (b > a || b != b) ? b : a;
      else
        return b > a ? b : a;
    } else if constexpr (K == ReduceKind::kMin) {
      if constexpr (kFloatAcc)
        return (b < a || b != b) ? b : a;
      else
        return b < a ? b : a;
    } else if constexpr (K == ReduceKind::kProd) {
      return a * b;
    } else {
      return a + b;
    }
  }

  Out finalize(Acc a, int64_t count, [[maybe_unused]] int64_t o) const {
    if constexpr (K == ReduceKind::kMean) {
      if constexpr (kFloatAcc) {
        return from_compute<T>(a / static_cast<Acc>(count));
      } else {
        if (count == 0) return T{};
        if constexpr (std::is_signed_v<T>)
          return static_cast<T>(static_cast<int64_t>(a) / count);
        else
          return static_cast<T>(a / static_cast<uint64_t>(count));
      }
    } else if constexpr (K == ReduceKind::kL2) {
      return from_compute<T>(std::sqrt(a));
    } else if constexpr (K == ReduceKind::kLogSum) {
      return from_compute<T>(std::log(a));
    } else if constexpr (K == ReduceKind::kLogSumExp) {
      return from_compute<T>(std::log(a) + shift[o]);
    } else if constexpr (kFloatAcc) {
      return from_compute<T>(a);
    } else {
      return static_cast<T>(a);
    }
  }
};

// The first pass of ReduceLogSumExp: the maximum in the accumulator type, replaced by 0 where it is not finite
// (so that exp(x - shift) stays meaningful for all -inf or +inf inputs).
template <typename T>
struct MaxShiftOp {
  using Acc = typename ReduceOp<ReduceKind::kLogSumExp, T>::Acc;
  using Out = Acc;
  Acc init() const { return -std::numeric_limits<Acc>::infinity(); }
  Acc map(const T& x, int64_t) const { return to_compute<Acc>(x); }
  static Acc combine(Acc a, Acc b) { return (b > a || b != b) ? b : a; }
  Out finalize(Acc a, int64_t, int64_t) const { return std::isfinite(a) ? a : Acc{0}; }
};

// Reduces a contiguous row into `acc`; several lanes let sums vectorize.
template <typename Op, typename T>
typename Op::Acc reduce_row(const Op& op, const T* p, int64_t n, int64_t o, typename Op::Acc acc) {
  using Acc = typename Op::Acc;
  if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, ReduceOp<ReduceKind::kSum, float>>) {
    return acc + sum_f32(p, n);
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, ReduceOp<ReduceKind::kMean, float>>) {
    return acc + sum_f32(p, n);
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, ReduceOp<ReduceKind::kMax, float>>) {
    return Op::combine(acc, max_f32(p, n));
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, ReduceOp<ReduceKind::kLogSumExp, float>>) {
    return acc + sum_exp_shifted_f32(p, n, op.shift[o]);
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<Op, MaxShiftOp<float>>) {
    return Op::combine(acc, max_f32(p, n));
  } else {
    constexpr int kLanes = 8;
    Acc lanes[kLanes];
    for (Acc& l : lanes) l = op.init();
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
      for (int k = 0; k < kLanes; ++k) lanes[k] = Op::combine(lanes[k], op.map(p[i + k], o));
    }
    for (; i < n; ++i) acc = Op::combine(acc, op.map(p[i], o));
    for (const Acc& l : lanes) acc = Op::combine(acc, l);
    return acc;
  }
}

// Long contiguous rows are cut into chunks of a fixed size, reduced in parallel and combined in order: the
// result does not depend on the thread count.
constexpr int64_t kFewRows = 8;
constexpr int64_t kRowChunk = 16384;

template <typename Op, typename T>
void reduce_long_rows(const Op& op, const ReducePlan& plan, const T* x, typename Op::Out* y, Parallelism& parallelism) {
  using Acc = typename Op::Acc;
  const int64_t chunks = (plan.inner + kRowChunk - 1) / kRowChunk;
  std::vector<Acc> partial(static_cast<size_t>(chunks));
  for (int64_t o = 0; o < plan.output_count; ++o) {
    const T* row = x + group_offset(plan.kept_outer, o);
    maybe_parallel_for(parallelism, chunks, plan.inner, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const int64_t length = std::min(kRowChunk, plan.inner - c * kRowChunk);
        partial[static_cast<size_t>(c)] = reduce_row(op, row + c * kRowChunk, length, o, op.init());
      }
    });
    Acc acc = op.init();
    for (const Acc& p : partial) acc = Op::combine(acc, p);
    y[o] = op.finalize(acc, plan.reduce_count, o);
  }
}

// Walks `plan` over x, writing one finalized value per output into y.
template <typename Op, typename T>
void run_reduce(const Op& op, const ReducePlan& plan, const T* x, typename Op::Out* y, Parallelism& parallelism) {
  using Acc = typename Op::Acc;
  if (plan.output_count == 0) return;
  const int64_t work = plan.output_count * std::max<int64_t>(plan.reduce_count, 1);
  if (plan.inner_reduced && plan.reduced.empty() && plan.output_count < kFewRows && plan.inner >= 2 * kRowChunk) {
    reduce_long_rows(op, plan, x, y, parallelism);
    return;
  }
  const bool rows_in_order =
      plan.kept_outer.empty() || (plan.kept_outer.size() == 1 && plan.kept_outer[0].stride == plan.inner);
  if (plan.inner_reduced && plan.reduced.empty() && rows_in_order) {
    // Output o reduces row o of `inner` contiguous elements, the rows one after another (a reduction over the
    // trailing axes): reduce_row on each, without the index walk, which cost more than short rows (scikit-learn's
    // [1000, 2] products and [1000, 3, 10] sums).
    maybe_parallel_for(parallelism, plan.output_count, work, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o)
        y[o] = op.finalize(reduce_row(op, x + o * plan.inner, plan.inner, o, op.init()), plan.reduce_count, o);
    });
    return;
  }
  if (plan.inner_reduced) {
    maybe_parallel_for(parallelism, plan.output_count, work, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        const T* base = x + group_offset(plan.kept_outer, o);
        Acc acc = op.init();
        for_each_group_offset(plan.reduced,
                              [&](int64_t offset) { acc = reduce_row(op, base + offset, plan.inner, o, acc); });
        y[o] = op.finalize(acc, plan.reduce_count, o);
      }
    });
    return;
  }
  // The innermost group is kept: accumulate blocks of adjacent outputs element by element.
  constexpr int64_t kBlock = 256;
  const int64_t inner = plan.inner;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const int64_t outer = plan.output_count / inner;
  maybe_parallel_for(parallelism, outer * blocks, work, [&](int64_t begin, int64_t end) {
    Acc acc[kBlock];
    for (int64_t w = begin; w < end; ++w) {
      const int64_t q = w / blocks;
      const int64_t j0 = (w % blocks) * kBlock;
      const int64_t len = std::min(kBlock, inner - j0);
      const int64_t o0 = q * inner + j0;
      const T* base = x + group_offset(plan.kept_outer, q) + j0;
      for (int64_t j = 0; j < len; ++j) acc[j] = op.init();
      for_each_group_offset(plan.reduced, [&](int64_t offset) {
        const T* p = base + offset;
        for (int64_t j = 0; j < len; ++j) acc[j] = Op::combine(acc[j], op.map(p[j], o0 + j));
      });
      for (int64_t j = 0; j < len; ++j) y[o0 + j] = op.finalize(acc[j], plan.reduce_count, o0 + j);
    }
  });
}

template <ReduceKind K, typename T>
void reduce_typed(const ReducePlan& plan, const Tensor& x, Tensor& y, Parallelism& parallelism) {
  ReduceOp<K, T> op;
  std::vector<typename ReduceOp<K, T>::Acc> shift;
  if constexpr (K == ReduceKind::kLogSumExp) {
    shift.resize(static_cast<size_t>(plan.output_count));
    run_reduce(MaxShiftOp<T>{}, plan, x.data<T>(), shift.data(), parallelism);
    op.shift = shift.data();
  }
  run_reduce(op, plan, x.data<T>(), y.data<T>(), parallelism);
}

template <ReduceKind K>
void reduce_dispatch(const ReducePlan& plan, const Tensor& x, Tensor& y, Parallelism& parallelism) {
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr bool kBoolOk = std::is_same_v<T, bool> && (K == ReduceKind::kMax || K == ReduceKind::kMin);
    if constexpr (kIsReduceNumeric<T> || kBoolOk) {
      reduce_typed<K, T>(plan, x, y, parallelism);
    } else {
      fail(ErrorCode::kUnsupported, "input 'data' ", x.description(), ": element type ", dtype_name(x.dtype()),
           " is not supported by this reduction");
    }
  });
}

void reduce(ReduceKind kind, const ReducePlan& plan, const Tensor& x, Tensor& y, Parallelism& parallelism) {
  switch (kind) {
    case ReduceKind::kSum:
      return reduce_dispatch<ReduceKind::kSum>(plan, x, y, parallelism);
    case ReduceKind::kMean:
      return reduce_dispatch<ReduceKind::kMean>(plan, x, y, parallelism);
    case ReduceKind::kMax:
      return reduce_dispatch<ReduceKind::kMax>(plan, x, y, parallelism);
    case ReduceKind::kMin:
      return reduce_dispatch<ReduceKind::kMin>(plan, x, y, parallelism);
    case ReduceKind::kProd:
      return reduce_dispatch<ReduceKind::kProd>(plan, x, y, parallelism);
    case ReduceKind::kL1:
      return reduce_dispatch<ReduceKind::kL1>(plan, x, y, parallelism);
    case ReduceKind::kL2:
      return reduce_dispatch<ReduceKind::kL2>(plan, x, y, parallelism);
    case ReduceKind::kLogSum:
      return reduce_dispatch<ReduceKind::kLogSum>(plan, x, y, parallelism);
    case ReduceKind::kLogSumExp:
      return reduce_dispatch<ReduceKind::kLogSumExp>(plan, x, y, parallelism);
    case ReduceKind::kSumSquare:
      return reduce_dispatch<ReduceKind::kSumSquare>(plan, x, y, parallelism);
  }
}

// The attributes of one Reduce* node.
struct ReduceAttributes {
  bool axes_from_input = false;  // opset >= 13 (ReduceSum) or >= 18 (the others)
  bool keepdims = true;
  bool noop_with_empty_axes = false;
  std::vector<int64_t> axes;  // the attribute, in the older opsets
};

ReduceAttributes parse_reduce_attributes(const Node& node, bool axes_from_input) {
  ReduceAttributes a;
  a.axes_from_input = axes_from_input;
  a.keepdims = node.attr_int("keepdims", 1) != 0;
  if (axes_from_input) {
    a.noop_with_empty_axes = node.attr_int("noop_with_empty_axes", 0) != 0;
    check_model(!node.has_attribute("axes"), node.label(),
                ": 'axes' is an input, not an attribute, from this opset on");
  } else {
    a.axes = node.attr_ints("axes");
  }
  return a;
}

// Which axes of a rank-`rank` input are reduced, given the axes list (attribute or input).
std::vector<bool> reduced_axes_mask(const ReduceAttributes& a, const std::vector<int64_t>& axes, int64_t rank,
                                    const std::string& what) {
  std::vector<bool> mask(static_cast<size_t>(rank), false);
  if (axes.empty()) {
    if (!a.noop_with_empty_axes) mask.assign(static_cast<size_t>(rank), true);
    return mask;
  }
  for (int64_t axis : normalize_axes(axes, rank, what)) mask[static_cast<size_t>(axis)] = true;
  return mask;
}

KernelFactory reduce_factory(ReduceKind kind, bool axes_from_input) {
  return [kind, axes_from_input](const KernelInfo& info) -> std::unique_ptr<Kernel> {
    const ReduceAttributes attrs = parse_reduce_attributes(info.node, axes_from_input);
    return make_kernel([kind, attrs](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      std::vector<int64_t> axes = attrs.axes;
      if (attrs.axes_from_input && ctx.has_input(1)) {
        const Tensor& axes_tensor = ctx.input(1);
        check_argument(axes_tensor.dtype() == DType::kInt64 && axes_tensor.rank() <= 1, "input 'axes' ",
                       tensor_text(axes_tensor), " must be a 1-D int64 tensor");
        axes = tensor_to_int64s(axes_tensor);
      }
      const std::string what = "input 'data' " + x.description();
      const std::vector<bool> mask = reduced_axes_mask(attrs, axes, static_cast<int64_t>(x.rank()), what);
      Tensor& y = ctx.allocate_output(0, x.dtype(), reduced_shape(x.shape(), mask, attrs.keepdims));
      reduce(kind, make_reduce_plan(x.shape(), mask), x, y, ctx.parallelism());
    });
  };
}

ShapeInferenceFn reduce_inference(bool axes_from_input) {
  return [axes_from_input](InferenceContext& ctx) {
    const TypeInfo* t = ctx.input_type(0);
    if (t == nullptr || !t->is_tensor()) return;
    if (!t->shape) {
      ctx.set_output_type(0, TypeInfo::tensor(t->elem_type));
      return;
    }
    const ReduceAttributes attrs = parse_reduce_attributes(ctx.node(), axes_from_input);
    const auto rank = static_cast<int64_t>(t->shape->size());
    std::vector<int64_t> axes = attrs.axes;
    if (axes_from_input && ctx.node().has_input(1)) {
      const Tensor* constant = ctx.input_constant(1);
      if (constant == nullptr) {
        if (attrs.keepdims)
          infer_rank_only(ctx, t->elem_type, static_cast<size_t>(rank));
        else
          ctx.set_output_type(0, TypeInfo::tensor(t->elem_type));
        return;
      }
      axes = tensor_to_int64s(*constant);
    }
    const std::vector<bool> mask = reduced_axes_mask(attrs, axes, rank, "input 'data' " + t->to_string());
    std::vector<Dim> dims;
    for (size_t i = 0; i < mask.size(); ++i) {
      if (!mask[i])
        dims.push_back((*t->shape)[i]);
      else if (attrs.keepdims)
        dims.push_back(Dim::known(1));
    }
    ctx.set_output_type(0, TypeInfo::tensor(t->elem_type, dims));
  };
}

// Registers op_type with axes as an attribute up to `input_axes_since - 1` and as an input from then on.
struct ReduceRegistration {
  ReduceRegistration(const char* op_type, ReduceKind kind, int64_t input_axes_since)
      : attribute_axes(OpRegistration{.op_type = op_type,
                                      .since_version = 1,
                                      .last_version = input_axes_since - 1,
                                      .factory = reduce_factory(kind, false),
                                      .infer = reduce_inference(false)}),
        input_axes(OpRegistration{.op_type = op_type,
                                  .since_version = input_axes_since,
                                  .last_version = INT_MAX,
                                  .factory = reduce_factory(kind, true),
                                  .infer = reduce_inference(true)}) {}
  RegisterOp attribute_axes;
  RegisterOp input_axes;
};

const ReduceRegistration kReduceSum{"ReduceSum", ReduceKind::kSum, 13};
const ReduceRegistration kReduceMean{"ReduceMean", ReduceKind::kMean, 18};
const ReduceRegistration kReduceMax{"ReduceMax", ReduceKind::kMax, 18};
const ReduceRegistration kReduceMin{"ReduceMin", ReduceKind::kMin, 18};
const ReduceRegistration kReduceProd{"ReduceProd", ReduceKind::kProd, 18};
const ReduceRegistration kReduceL1{"ReduceL1", ReduceKind::kL1, 18};
const ReduceRegistration kReduceL2{"ReduceL2", ReduceKind::kL2, 18};
const ReduceRegistration kReduceLogSum{"ReduceLogSum", ReduceKind::kLogSum, 18};
const ReduceRegistration kReduceLogSumExp{"ReduceLogSumExp", ReduceKind::kLogSumExp, 18};
const ReduceRegistration kReduceSumSquare{"ReduceSumSquare", ReduceKind::kSumSquare, 18};

}  // namespace
}  // namespace tessera

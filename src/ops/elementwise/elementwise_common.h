// Shared machinery of the elementwise, activation and cast operator families: dtype sets and visitors,
// float16/bfloat16 compute types, a parallel element loop, broadcast plans whose adjacent dimensions are
// merged (so a same-shape op is one contiguous run and a scalar or per-channel operand a run with stride 0),
// and the unary / binary / ternary drivers built on them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "base/dtype_dispatch.h"
#include "kernels/f32-vexact/f32-vexact.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "base/error.h"
#include "base/parallel.h"
#include "base/tensor.h"
#include "ops/common/op_utils.h"
#include "ops/kernel.h"
#include "ops/registry.h"

namespace tessera::elementwise {

// ---------------------------------------------------------------------------------------------------------
// Element type sets

enum TypeSet : uint32_t {
  kFloatTypes = 1u << 0,        // float, double, float16, bfloat16
  kSignedIntTypes = 1u << 1,    // int8, int16, int32, int64
  kUnsignedIntTypes = 1u << 2,  // uint8, uint16, uint32, uint64
  kBoolType = 1u << 3,
  kStringType = 1u << 4,
  kIntTypes = kSignedIntTypes | kUnsignedIntTypes,
  kNumericTypes = kFloatTypes | kIntTypes,
  kAllTypes = kNumericTypes | kBoolType | kStringType,
};

// Calls f(TypeTag<T>{}) for the storage type T of `dtype` when `dtype` is in `Set`; otherwise throws
// kInvalidArgument saying that `what` (e.g. "input 'X' of Sin") does not accept the type.
template <uint32_t Set, typename F>
void visit_types(DType dtype, const char* what, F&& f) {
  switch (dtype) {
    case DType::kFloat:
      if constexpr ((Set & kFloatTypes) != 0) return f(TypeTag<float>{});
      break;
    case DType::kDouble:
      if constexpr ((Set & kFloatTypes) != 0) return f(TypeTag<double>{});
      break;
    case DType::kFloat16:
      if constexpr ((Set & kFloatTypes) != 0) return f(TypeTag<Float16>{});
      break;
    case DType::kBFloat16:
      if constexpr ((Set & kFloatTypes) != 0) return f(TypeTag<BFloat16>{});
      break;
    case DType::kInt8:
      if constexpr ((Set & kSignedIntTypes) != 0) return f(TypeTag<int8_t>{});
      break;
    case DType::kInt16:
      if constexpr ((Set & kSignedIntTypes) != 0) return f(TypeTag<int16_t>{});
      break;
    case DType::kInt32:
      if constexpr ((Set & kSignedIntTypes) != 0) return f(TypeTag<int32_t>{});
      break;
    case DType::kInt64:
      if constexpr ((Set & kSignedIntTypes) != 0) return f(TypeTag<int64_t>{});
      break;
    case DType::kUint8:
      if constexpr ((Set & kUnsignedIntTypes) != 0) return f(TypeTag<uint8_t>{});
      break;
    case DType::kUint16:
      if constexpr ((Set & kUnsignedIntTypes) != 0) return f(TypeTag<uint16_t>{});
      break;
    case DType::kUint32:
      if constexpr ((Set & kUnsignedIntTypes) != 0) return f(TypeTag<uint32_t>{});
      break;
    case DType::kUint64:
      if constexpr ((Set & kUnsignedIntTypes) != 0) return f(TypeTag<uint64_t>{});
      break;
    case DType::kBool:
      if constexpr ((Set & kBoolType) != 0) return f(TypeTag<bool>{});
      break;
    case DType::kString:
      if constexpr ((Set & kStringType) != 0) return f(TypeTag<std::string>{});
      break;
    default:
      break;
  }
  fail(ErrorCode::kInvalidArgument, what, " does not accept element type ", dtype_name(dtype));
}

// ---------------------------------------------------------------------------------------------------------
// Compute types: float16 and bfloat16 are computed in float, everything else in itself.

template <typename T>
struct ComputeOf {
  using type = T;
};
template <>
struct ComputeOf<Float16> {
  using type = float;
};
template <>
struct ComputeOf<BFloat16> {
  using type = float;
};
template <typename T>
using Compute = typename ComputeOf<T>::type;

template <typename T>
inline Compute<T> load(const T& v) {
  if constexpr (std::is_same_v<T, Float16>)
    return half_to_float(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>)
    return bfloat16_to_float(v.bits);
  else
    return v;
}

template <typename T>
inline T store(Compute<T> v) {
  if constexpr (std::is_same_v<T, Float16>)
    return Float16{float_to_half(v)};
  else if constexpr (std::is_same_v<T, BFloat16>)
    return BFloat16{float_to_bfloat16(v)};
  else
    return v;
}

// True for the storage types computed as floating point (float, double, float16, bfloat16).
template <typename T>
inline constexpr bool kIsFloatLike = std::is_floating_point_v<Compute<T>>;

// ---------------------------------------------------------------------------------------------------------
// Parallel element loops

// Elements per thread below which splitting work costs more than it saves: cheap ops (add, compare) and
// ops that call a transcendental function per element.
inline constexpr int64_t kCheapGrain = 1 << 15;
inline constexpr int64_t kTranscendentalGrain = 1 << 12;

// Calls fn(begin, end) over [0, count), split over the pool when each thread gets at least `grain` elements.
// Chunk boundaries are multiples of 16 elements. fn must not throw.
template <typename F>
void parallel_elements(Parallelism& parallelism, int64_t count, int64_t grain, const F& fn) {
  if (count <= 0) return;
  const int threads = parallelism.thread_count();
  if (threads <= 1 || count < 2 * grain) {
    fn(int64_t{0}, count);
    return;
  }
  const int64_t tasks = std::min<int64_t>(threads, count / grain);
  parallelism.parallel_for(tasks, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      const int64_t begin = t == 0 ? 0 : (count / tasks * t) & ~int64_t{15};
      const int64_t end = t + 1 == tasks ? count : (count / tasks * (t + 1)) & ~int64_t{15};
      if (begin < end) fn(begin, end);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Broadcast plans

// How N inputs broadcast to one output shape. Output dims of size 1 are dropped and adjacent dims merged
// wherever every input walks them as one, so the innermost merged dim is as long as possible; along it each
// input has stride 0 (broadcast) or 1.
template <size_t N>
struct BroadcastPlan {
  std::vector<int64_t> dims;                    // merged output dims, never empty
  std::array<std::vector<int64_t>, N> strides;  // element strides of each input along each merged dim
  int64_t count = 0;                            // output elements

  int64_t inner_stride(size_t k) const { return strides[k].back(); }
};

// Merges the broadcast strides of inputs (given per output dim) into a plan; see BroadcastPlan.
// `input_strides[k]` holds one stride per output dim.
std::vector<int64_t> merge_broadcast_dims(const std::vector<int64_t>& out_shape,
                                          std::vector<std::vector<int64_t>>& input_strides);

// Builds the plan for inputs of the given shapes, which must broadcast to `out_shape` (checked by the caller).
template <size_t N>
BroadcastPlan<N> plan_broadcast(const std::array<const std::vector<int64_t>*, N>& input_shapes,
                                const std::vector<int64_t>& out_shape);

// Calls run(out_offset, offsets, length) for each maximal run of output elements in [begin, end) along the
// innermost merged dim; input k's elements for the run start at offsets[k] and step by plan.inner_stride(k).
template <size_t N, typename Run>
void for_each_run(const BroadcastPlan<N>& plan, int64_t begin, int64_t end, const Run& run) {
  const size_t rank = plan.dims.size();
  const int64_t inner = plan.dims[rank - 1];
  int64_t small_index[8] = {};
  std::vector<int64_t> large_index;
  if (rank > 8) large_index.assign(rank, 0);
  int64_t* index = rank > 8 ? large_index.data() : small_index;
  std::array<int64_t, N> offsets{};
  int64_t rest = begin;
  for (size_t d = rank; d-- > 0;) {
    index[d] = rest % plan.dims[d];
    rest /= plan.dims[d];
    for (size_t k = 0; k < N; ++k) offsets[k] += index[d] * plan.strides[k][d];
  }
  int64_t position = begin;
  while (position < end) {
    const int64_t length = std::min(inner - index[rank - 1], end - position);
    run(position, offsets, length);
    position += length;
    index[rank - 1] += length;
    for (size_t k = 0; k < N; ++k) offsets[k] += length * plan.strides[k][rank - 1];
    // Carry into outer dims once the innermost one wraps.
    for (size_t d = rank - 1; index[d] == plan.dims[d] && d > 0; --d) {
      for (size_t k = 0; k < N; ++k) offsets[k] += plan.strides[k][d - 1] - index[d] * plan.strides[k][d];
      index[d] = 0;
      ++index[d - 1];
    }
  }
}

template <size_t N>
BroadcastPlan<N> plan_broadcast(const std::array<const std::vector<int64_t>*, N>& input_shapes,
                                const std::vector<int64_t>& out_shape) {
  std::vector<std::vector<int64_t>> strides(N);
  for (size_t k = 0; k < N; ++k) {
    const std::vector<int64_t>& in = *input_shapes[k];
    strides[k].assign(out_shape.size(), 0);
    int64_t stride = 1;
    for (size_t j = 0; j < in.size(); ++j) {
      const size_t in_axis = in.size() - 1 - j;
      const size_t out_axis = out_shape.size() - 1 - j;
      strides[k][out_axis] = in[in_axis] == 1 ? 0 : stride;
      stride *= in[in_axis];
    }
  }
  BroadcastPlan<N> plan;
  plan.count = shape_element_count(out_shape);
  plan.dims = merge_broadcast_dims(out_shape, strides);
  for (size_t k = 0; k < N; ++k) plan.strides[k] = std::move(strides[k]);
  return plan;
}

// ---------------------------------------------------------------------------------------------------------
// Drivers

// out[i] = op(a[i * sa], b[i * sb]) for i < n, with loops the compiler vectorizes for the stride-0/1 cases.
// Float32 ops naming a kernels/f32-vexact loop (Op::kVectorF32, a VBinaryOpF32) run on it when both strides are 0
// or 1: the same bits, in the CPU's widest vectors.
template <typename A, typename B, typename R, typename Op>
inline void binary_run(const A* a, int64_t sa, const B* b, int64_t sb, R* out, int64_t n, const Op& op) {
  if constexpr (requires { Op::kVectorF32; } && std::is_same_v<A, float> && std::is_same_v<B, float> &&
                std::is_same_v<R, float>) {
    if ((sa == 0 || sa == 1) && (sb == 0 || sb == 1)) {
      vbinary_f32(Op::kVectorF32, a, sa, b, sb, out, n);
      return;
    }
  }
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = op(a[i], b[i]);
  } else if (sa == 0 && sb == 1) {
    const A& x = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = op(x, b[i]);
  } else if (sa == 1 && sb == 0) {
    const B& y = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = op(a[i], y);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = op(a[i * sa], b[i * sb]);
  }
}

// out = op(a, b) elementwise with multidirectional broadcasting; `out` is allocated with the broadcast shape.
// `out` may be `a` or `b` itself when that operand already has the output shape (every element is read before the
// same index is written).
template <typename A, typename B, typename R, typename Op>
void broadcast_binary(const Tensor& a, const Tensor& b, Tensor& out, Parallelism& parallelism, int64_t grain,
                      const Op& op) {
  // Each operand of the output's shape or a single element (most elementwise nodes): one run, no plan to build
  // (the plan's vectors had cost more than the op on small tensors). The same loops as the planned path.
  const bool a_full = a.shape() == out.shape(), b_full = b.shape() == out.shape();
  if ((a_full || a.element_count() == 1) && (b_full || b.element_count() == 1)) {
    const A* pa = a.data<A>();
    const B* pb = b.data<B>();
    R* pr = out.data<R>();
    const int64_t sa = a_full ? 1 : 0, sb = b_full ? 1 : 0;
    parallel_elements(parallelism, out.element_count(), grain, [&](int64_t begin, int64_t end) {
      binary_run(pa + begin * sa, sa, pb + begin * sb, sb, pr + begin, end - begin, op);
    });
    return;
  }
  const BroadcastPlan<2> plan = plan_broadcast<2>({&a.shape(), &b.shape()}, out.shape());
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  R* pr = out.data<R>();
  const int64_t sa = plan.inner_stride(0);
  const int64_t sb = plan.inner_stride(1);
  parallel_elements(parallelism, plan.count, grain, [&](int64_t begin, int64_t end) {
    for_each_run(plan, begin, end, [&](int64_t o, const std::array<int64_t, 2>& off, int64_t n) {
      binary_run(pa + off[0], sa, pb + off[1], sb, pr + o, n, op);
    });
  });
}

// out = op(a, b, c) elementwise with three-way broadcasting.
template <typename A, typename B, typename C, typename R, typename Op>
void broadcast_ternary(const Tensor& a, const Tensor& b, const Tensor& c, Tensor& out, Parallelism& parallelism,
                       int64_t grain, const Op& op) {
  const BroadcastPlan<3> plan = plan_broadcast<3>({&a.shape(), &b.shape(), &c.shape()}, out.shape());
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  const C* pc = c.data<C>();
  R* pr = out.data<R>();
  const int64_t sa = plan.inner_stride(0);
  const int64_t sb = plan.inner_stride(1);
  const int64_t sc = plan.inner_stride(2);
  parallel_elements(parallelism, plan.count, grain, [&](int64_t begin, int64_t end) {
    for_each_run(plan, begin, end, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n) {
      const A* ra = pa + off[0];
      const B* rb = pb + off[1];
      const C* rc = pc + off[2];
      R* ro = pr + o;
      if (sa == 1 && sb == 1 && sc == 1) {
        for (int64_t i = 0; i < n; ++i) ro[i] = op(ra[i], rb[i], rc[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) ro[i] = op(ra[i * sa], rb[i * sb], rc[i * sc]);
      }
    });
  });
}

// y[i] = op(x[i]) for i < count, split over the pool.
template <typename T, typename R, typename Op>
void map_unary(const T* x, R* y, int64_t count, Parallelism& parallelism, int64_t grain, const Op& op) {
  parallel_elements(parallelism, count, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = op(x[i]);
  });
}

// A kernel computing Y = op(X) elementwise with Y of X's type and shape, for X's type in `Types`.
// `op` is a function object callable on the compute type (float for float16/bfloat16) of every type in the set.
// An Op with a `static constexpr VUnaryOpF32 kVectorF32` runs float32 inputs through the SIMD loops of
// kernels/f32-vunary (the same formula as its scalar float operator, vectorized for the CPU).
template <uint32_t Types, typename Op>
std::unique_ptr<Kernel> make_unary_kernel(Op op, int64_t grain) {
  return make_kernel([op, grain](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    // In place over X when nothing else needs it (each element read before it is written).
    Tensor& y = ctx.output_over_input_or_uninitialized(0, 0, x.dtype(), x.shape());
    if constexpr (requires { Op::kVectorF32; }) {
      if (x.dtype() == DType::kFloat) {
        const float* in = x.data<float>();
        float* out = y.data<float>();
        parallel_elements(ctx.parallelism(), x.element_count(), grain, [&](int64_t begin, int64_t end) {
          vunary_f32(Op::kVectorF32, in + begin, out + begin, end - begin);
        });
        return;
      }
    }
    if constexpr (requires { Op::kExactF32; }) {
      if (x.dtype() == DType::kFloat) {
        float alpha = 0.0f;
        if constexpr (requires { op.alpha; }) alpha = op.alpha;
        const float* in = x.data<float>();
        float* out = y.data<float>();
        parallel_elements(ctx.parallelism(), x.element_count(), grain, [&](int64_t begin, int64_t end) {
          vexact_unary_f32(Op::kExactF32, alpha, in + begin, out + begin, end - begin);
        });
        return;
      }
    }
    visit_types<Types>(x.dtype(), "input 'X'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      map_unary(x.data<T>(), y.data<T>(), x.element_count(), ctx.parallelism(), grain,
                [&op](const T& v) { return store<T>(op(load(v))); });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Shapes

// The multidirectional broadcast of the shapes of `tensors`; throws kInvalidArgument naming every shape.
std::vector<int64_t> broadcast_shapes(const std::vector<const Tensor*>& tensors);

// Opset < 7 broadcasting of Add, Sub, Mul, Div, Pow, comparisons and logical ops: with `broadcast` = 1, B's
// shape must match a contiguous run of A's dims starting at `axis` (default: the trailing dims) and is returned
// padded with 1s to A's rank; with `broadcast` = 0 the shapes must be equal (B's shape is returned unchanged).
std::vector<int64_t> legacy_broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                            bool broadcast, bool has_axis, int64_t axis);

// Legacy broadcasting attributes of a node (opset < 7).
struct LegacyBroadcast {
  bool enabled = false;  // the node's opset is < 7: `broadcast`/`axis` attributes rule
  bool broadcast = false;
  bool has_axis = false;
  int64_t axis = 0;
};
LegacyBroadcast read_legacy_broadcast(const KernelInfo& info);

// B as a binary op reads it: B itself, or under `legacy` rules a view of B padded with 1s to A's rank.
Tensor legacy_operand_b(const LegacyBroadcast& legacy, const Tensor& a, const Tensor& b);

// Inference: output 0 has input 0's type and shape with dtype `dtype` (kUndefined keeps input 0's dtype).
void infer_shape_of_input0(InferenceContext& context, DType dtype);
// Inference for legacy-broadcast binary ops: output 0 has A's shape and A's dtype.
void infer_legacy_binary(InferenceContext& context);
// As above with a bool output (comparisons and logical ops before opset 7).
void infer_legacy_binary_to_bool(InferenceContext& context);

}  // namespace tessera::elementwise

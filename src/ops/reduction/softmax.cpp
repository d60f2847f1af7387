// Softmax, LogSoftmax and Hardmax, every opset. Up to opset 12 the input is coerced to 2-D at `axis`
// (default 1: rows are the dims before it, each row the product of the rest); from opset 13 the op runs along
// the one axis `axis` (default -1). float32 runs vectorized; the other float types compute in float/double.
#include <algorithm>
#include <climits>
#include <cmath>

#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

// Any float type along one line of n elements `stride` apart, computed in C (float or double).
template <typename T>
void softmax_line_generic(SoftmaxKind kind, const T* x, T* y, int64_t n, int64_t stride, std::vector<double>& buf) {
  buf.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) buf[static_cast<size_t>(i)] = to_compute<double>(x[i * stride]);
  double m = -std::numeric_limits<double>::infinity();
  int64_t arg = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = buf[static_cast<size_t>(i)];
    if (v > m || (v != v && m == m)) {
      m = v;
      arg = i;
    }
  }
  if (kind == SoftmaxKind::kHardmax) {
    for (int64_t i = 0; i < n; ++i) y[i * stride] = from_compute<T>(i == arg ? 1.0 : 0.0);
    return;
  }
  // Narrow floats round every intermediate to T, as the reference (NumPy on T) does step by step.
  auto round = [](double v) { return kIsNarrowFloat<T> ? to_compute<double>(from_compute<T>(v)) : v; };
  double sum = 0;
  for (double& v : buf) {
    v = round(v - m);
    const double e = round(std::exp(v));
    // bfloat16 (ml_dtypes) reduces step by step in bfloat16; float16 (NumPy) accumulates in float.
    sum = std::is_same_v<T, BFloat16> ? round(sum + e) : sum + e;
  }
  sum = round(sum);
  const double log_sum = round(std::log(sum));
  for (int64_t i = 0; i < n; ++i) {
    const double shifted = buf[static_cast<size_t>(i)];
    const double r = kind == SoftmaxKind::kSoftmax ? round(std::exp(shifted)) / sum : shifted - log_sum;
    y[i * stride] = from_compute<T>(r);
  }
}

template <typename T>
void softmax_typed(SoftmaxKind kind, const Tensor& x, Tensor& y, const AxisSplit& s, Parallelism& parallelism) {
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const int64_t block = s.axis * s.inner;
  const int64_t work = s.outer * block * (kind == SoftmaxKind::kHardmax ? 1 : 8);
  if constexpr (std::is_same_v<T, float>) {
    if (kind != SoftmaxKind::kHardmax) {
      const bool log = kind == SoftmaxKind::kLogSoftmax;
      maybe_parallel_for(parallelism, s.outer, work, [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
          if (s.inner == 1)
            softmax_row_f32(in + o * block, out + o * block, s.axis, log);
          else
            softmax_block_f32(in + o * block, out + o * block, s.axis, s.inner, log);
        }
      });
      return;
    }
  }
  const int64_t lines = s.outer * s.inner;
  maybe_parallel_for(parallelism, lines, work, [&](int64_t begin, int64_t end) {
    std::vector<double> buf;
    for (int64_t l = begin; l < end; ++l) {
      const int64_t offset = (l / s.inner) * block + l % s.inner;
      softmax_line_generic(kind, in + offset, out + offset, s.axis, s.inner, buf);
    }
  });
}

// Splits the input shape into (rows, line length, stride) as the opset's semantics say.
AxisSplit softmax_split(const std::vector<int64_t>& shape, int64_t axis_attr, bool coerce_2d) {
  const auto rank = static_cast<int64_t>(shape.size());
  if (rank == 0) return AxisSplit{};
  if (coerce_2d) {
    const int64_t axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
    check_argument(axis >= 0 && axis <= rank, "axis ", axis_attr, " is out of range for rank ", rank);
    AxisSplit s;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? s.outer : s.axis) *= shape[static_cast<size_t>(i)];
    return s;
  }
  return split_at_axis(shape, normalize_axis(axis_attr, rank));
}

KernelFactory softmax_factory(SoftmaxKind kind) {
  return [kind](const KernelInfo& info) -> std::unique_ptr<Kernel> {
    const bool coerce_2d = info.opset < 13;
    const int64_t axis = info.node.attr_int("axis", coerce_2d ? 1 : -1);
    return make_kernel([kind, coerce_2d, axis](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const AxisSplit s = softmax_split(x.shape(), axis, coerce_2d);
      Tensor& y = ctx.allocate_output_uninitialized(0, x.dtype(), x.shape());
      if (y.element_count() == 0) return;
      visit_dtype(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (kIsSoftmaxType<T>) {
          softmax_typed<T>(kind, x, y, s, ctx.parallelism());
        } else {
          fail(ErrorCode::kUnsupported, "input 'input' ", x.description(), ": element type ", dtype_name(x.dtype()),
               " is not supported (float types only)");
        }
      });
    });
  };
}

// Registers op_type for opsets 1..12 (2-D coercion) and 13+ (one axis); the factory reads info.opset.
struct SoftmaxRegistration {
  SoftmaxRegistration(const char* op_type, SoftmaxKind kind)
      : coerced(OpRegistration{.op_type = op_type,
                               .since_version = 1,
                               .last_version = 12,
                               .factory = softmax_factory(kind),
                               .infer = infer_same_as_input}),
        along_axis(OpRegistration{.op_type = op_type,
                                  .since_version = 13,
                                  .last_version = INT_MAX,
                                  .factory = softmax_factory(kind),
                                  .infer = infer_same_as_input}) {}
  RegisterOp coerced;
  RegisterOp along_axis;
};

const SoftmaxRegistration kSoftmax{"Softmax", SoftmaxKind::kSoftmax};
const SoftmaxRegistration kLogSoftmax{"LogSoftmax", SoftmaxKind::kLogSoftmax};
const SoftmaxRegistration kHardmax{"Hardmax", SoftmaxKind::kHardmax};

}  // namespace
}  // namespace tessera

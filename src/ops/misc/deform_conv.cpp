// DeformConv (opsets 19 and 22: float16/bfloat16 added): N-D deformable convolution. Every kernel tap samples
// the input at its regular position plus a learned offset (n-linear interpolation, zero outside the input),
// optionally scaled by a mask; the samples form an im2col matrix that one GEMM per group multiplies by W.
#include <climits>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct DeformConvAttributes {
  std::vector<int64_t> dilations;
  int64_t group = 1;
  std::vector<int64_t> kernel_shape;
  int64_t offset_group = 1;
  std::vector<int64_t> pads;
  std::vector<int64_t> strides;
};

// Sizes of one call, checked against each other.
struct DeformGeometry {
  size_t rank = 0;  // spatial rank n
  int64_t batch = 0, channels = 0, out_channels = 0, group = 1, offset_group = 1;
  std::vector<int64_t> in_dims, kernel, out_dims, strides, dilations, pads_begin;
  int64_t in_size = 1;      // elements of one input channel
  int64_t kernel_size = 1;  // K: taps per kernel
  int64_t out_size = 1;     // O: output positions
};

std::vector<int64_t> attr_or(const std::vector<int64_t>& value, size_t size, int64_t fill) {
  return value.empty() ? std::vector<int64_t>(size, fill) : value;
}

DeformGeometry deform_geometry(const DeformConvAttributes& a, const Tensor& x, const Tensor& w, const Tensor& offset,
                               const Tensor* bias, const Tensor* mask) {
  check_argument(x.rank() >= 3, "input 'X' ", tensor_text(x), " must have rank >= 3 (N, C, spatial dims)");
  check_argument(w.rank() == x.rank(), "input 'W' ", tensor_text(w), " must have the rank of X ", tensor_text(x));
  DeformGeometry g;
  g.rank = x.rank() - 2;
  g.batch = x.dim(0);
  g.channels = x.dim(1);
  g.out_channels = w.dim(0);
  g.group = a.group;
  g.offset_group = a.offset_group;
  check_argument(w.dim(1) * g.group == g.channels && g.out_channels % g.group == 0, "input 'W' ", tensor_text(w),
                 " does not match X ", tensor_text(x), " with group = ", g.group);
  check_argument(g.channels % g.offset_group == 0, "input 'X' ", tensor_text(x), ": channels not divisible by ",
                 "offset_group = ", g.offset_group);
  g.kernel = std::vector<int64_t>(w.shape().begin() + 2, w.shape().end());
  check_argument(a.kernel_shape.empty() || a.kernel_shape == g.kernel, "attribute 'kernel_shape' ",
                 shape_text(a.kernel_shape), " does not match W ", tensor_text(w));
  g.strides = attr_or(a.strides, g.rank, 1);
  g.dilations = attr_or(a.dilations, g.rank, 1);
  const std::vector<int64_t> pads = attr_or(a.pads, 2 * g.rank, 0);
  check_argument(g.strides.size() == g.rank && g.dilations.size() == g.rank && pads.size() == 2 * g.rank,
                 "attributes 'strides', 'dilations', 'pads' must have ", g.rank, ", ", g.rank, ", ", 2 * g.rank,
                 " values for X ", tensor_text(x));
  std::vector<int64_t> offset_shape{g.batch, 0};
  for (size_t i = 0; i < g.rank; ++i) {
    check_argument(x.dim(i + 2) < kMaxSpatialLength && g.kernel[i] <= kMaxWindowAttribute, "X ", tensor_text(x),
                   " and W ", tensor_text(w), ": spatial axis ", i, " is too long (X below 2^32, W below 2^31)");
    g.in_dims.push_back(x.dim(i + 2));
    g.pads_begin.push_back(pads[i]);
    const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t out = (g.in_dims[i] + pads[i] + pads[i + g.rank] - span) / g.strides[i] + 1;
    check_argument(out >= 0 && g.strides[i] > 0 && g.dilations[i] > 0, "X ", tensor_text(x),
                   " is too small for the kernel ", tensor_text(w), " with the given pads/strides/dilations");
    g.out_dims.push_back(out);
    offset_shape.push_back(out);
    g.in_size *= g.in_dims[i];
    g.kernel_size *= g.kernel[i];
    g.out_size *= out;
  }
  offset_shape[1] = g.offset_group * g.kernel_size * static_cast<int64_t>(g.rank);
  check_argument(offset.shape() == offset_shape, "input 'offset' ", tensor_text(offset), " must have shape ",
                 shape_text(offset_shape));
  if (mask != nullptr) {
    std::vector<int64_t> mask_shape = offset_shape;
    mask_shape[1] = g.offset_group * g.kernel_size;
    check_argument(mask->shape() == mask_shape, "input 'mask' ", tensor_text(*mask), " must have shape ",
                   shape_text(mask_shape));
    check_argument(mask->dtype() == x.dtype(), "input 'mask' ", tensor_text(*mask), " must have X's type");
  }
  if (bias != nullptr) {
    check_argument(bias->rank() == 1 && bias->dim(0) == g.out_channels && bias->dtype() == x.dtype(), "input 'B' ",
                   tensor_text(*bias), " must be 1-D of length ", g.out_channels, " and X's type");
  }
  check_argument(w.dtype() == x.dtype() && offset.dtype() == x.dtype(), "inputs W ", tensor_text(w), " and offset ",
                 tensor_text(offset), " must have X's type ", dtype_name(x.dtype()));
  return g;
}

// Row-major coordinates of every index of `dims` (count x rank).
std::vector<int64_t> unravel_all(const std::vector<int64_t>& dims, int64_t count) {
  const size_t rank = dims.size();
  std::vector<int64_t> coords(static_cast<size_t>(count) * rank);
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < count; ++i) {
    for (size_t d = 0; d < rank; ++d) coords[static_cast<size_t>(i) * rank + d] = index[d];
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
  return coords;
}

// For one batch item: for each (offset group, tap, output position) the 2^n interpolation corners as input
// offsets and weights (mask folded in; corners outside the input get weight 0).
template <typename C, typename T>
struct SampleTable {
  int64_t corners = 0;
  std::vector<int64_t> index;
  std::vector<C> weight;

  void build(const DeformGeometry& g, const T* offset, const T* mask, const std::vector<int64_t>& out_coords,
             const std::vector<int64_t>& kernel_coords) {
    const size_t n = g.rank;
    corners = int64_t{1} << n;
    const int64_t entries = g.offset_group * g.kernel_size * g.out_size;
    index.assign(static_cast<size_t>(entries * corners), 0);
    weight.assign(static_cast<size_t>(entries * corners), C(0));
    std::vector<int64_t> low(n);
    std::vector<C> frac(n);
    for (int64_t ogk = 0; ogk < g.offset_group * g.kernel_size; ++ogk) {
      const int64_t k = ogk % g.kernel_size;
      for (int64_t o = 0; o < g.out_size; ++o) {
        const size_t entry = static_cast<size_t>((ogk * g.out_size + o) * corners);
        for (size_t d = 0; d < n; ++d) {
          const C shift =
              to_compute<C>(offset[(ogk * static_cast<int64_t>(n) + static_cast<int64_t>(d)) * g.out_size + o]);
          const C pos = static_cast<C>(out_coords[static_cast<size_t>(o) * n + d] * g.strides[d] - g.pads_begin[d] +
                                       kernel_coords[static_cast<size_t>(k) * n + d] * g.dilations[d]) +
                        shift;
          const C fl = std::floor(pos);
          // Far outside (or NaN): every corner is outside; keep the clamp from overflowing int64.
          low[d] = std::isfinite(fl) && std::fabs(fl) < C(1e15) ? static_cast<int64_t>(fl) : INT64_MIN / 4;
          frac[d] = pos - fl;
        }
        const C scale = mask != nullptr ? to_compute<C>(mask[ogk * g.out_size + o]) : C(1);
        for (int64_t c = 0; c < corners; ++c) {
          C wgt = scale;
          int64_t flat = 0;
          bool inside = true;
          for (size_t d = 0; d < n; ++d) {
            const bool high = (c >> (n - 1 - d)) & 1;
            const int64_t at = low[d] + (high ? 1 : 0);
            inside = inside && at >= 0 && at < g.in_dims[d];
            flat = flat * g.in_dims[d] + at;
            wgt *= high ? frac[d] : C(1) - frac[d];
          }
          if (inside) {
            index[entry + static_cast<size_t>(c)] = flat;
            weight[entry + static_cast<size_t>(c)] = wgt;
          }
        }
      }
    }
  }
};

// out[m x n] = a[m x k] * b[k x n] (row-major), plus what out holds.
void matmul_accumulate(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* out,
                       Parallelism& parallelism) {
  gemm_f32(false, false, m, n, k, 1.0f, a, k, b, n, 1.0f, out, n, &parallelism);
}
void matmul_accumulate(int64_t m, int64_t n, int64_t k, const double* a, const double* b, double* out,
                       Parallelism& parallelism) {
  maybe_parallel_for(parallelism, m, m * n * k, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double* row = out + i * n;
      for (int64_t p = 0; p < k; ++p) {
        const double av = a[i * k + p];
        const double* brow = b + p * n;
        for (int64_t j = 0; j < n; ++j) row[j] += av * brow[j];
      }
    }
  });
}

template <typename T>
void deform_conv_typed(const DeformGeometry& g, const Tensor& x, const Tensor& w, const Tensor& offset,
                       const Tensor* bias, const Tensor* mask, Tensor& y, Parallelism& parallelism) {
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const int64_t cin_group = g.channels / g.group;
  const int64_t cout_group = g.out_channels / g.group;
  const int64_t depth = cin_group * g.kernel_size;  // GEMM k per group
  const int64_t channels_per_offset_group = g.channels / g.offset_group;
  std::vector<C> weights(static_cast<size_t>(w.element_count()));
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = to_compute<C>(w.data<T>()[i]);
  const std::vector<int64_t> out_coords = unravel_all(g.out_dims, g.out_size);
  const std::vector<int64_t> kernel_coords = unravel_all(g.kernel, g.kernel_size);
  std::vector<C> columns(static_cast<size_t>(g.channels * g.kernel_size * g.out_size));
  std::vector<C> result(static_cast<size_t>(g.out_channels * g.out_size));
  SampleTable<C, T> table;
  const int64_t offset_item = offset.element_count() / std::max<int64_t>(g.batch, 1);
  const int64_t mask_item = mask != nullptr ? mask->element_count() / std::max<int64_t>(g.batch, 1) : 0;
  for (int64_t b = 0; b < g.batch; ++b) {
    table.build(g, offset.data<T>() + b * offset_item, mask != nullptr ? mask->data<T>() + b * mask_item : nullptr,
                out_coords, kernel_coords);
    const T* x_item = x.data<T>() + b * g.channels * g.in_size;
    maybe_parallel_for(parallelism, g.channels, g.channels * g.kernel_size * g.out_size * table.corners,
                       [&](int64_t begin, int64_t end) {
                         for (int64_t c = begin; c < end; ++c) {
                           const T* plane = x_item + c * g.in_size;
                           const int64_t og = c / channels_per_offset_group;
                           for (int64_t k = 0; k < g.kernel_size; ++k) {
                             C* row = columns.data() + (c * g.kernel_size + k) * g.out_size;
                             const size_t base =
                                 static_cast<size_t>((og * g.kernel_size + k) * g.out_size * table.corners);
                             for (int64_t o = 0; o < g.out_size; ++o) {
                               C sum = 0;
                               for (int64_t q = 0; q < table.corners; ++q) {
                                 const size_t e = base + static_cast<size_t>(o * table.corners + q);
                                 if (table.weight[e] != C(0))
                                   sum += table.weight[e] * to_compute<C>(plane[table.index[e]]);
                               }
                               row[o] = sum;
                             }
                           }
                         }
                       });
    for (int64_t oc = 0; oc < g.out_channels; ++oc) {
      const C init = bias != nullptr ? to_compute<C>(bias->data<T>()[oc]) : C(0);
      std::fill_n(result.data() + oc * g.out_size, g.out_size, init);
    }
    for (int64_t grp = 0; grp < g.group; ++grp) {
      matmul_accumulate(cout_group, g.out_size, depth, weights.data() + grp * cout_group * depth,
                        columns.data() + grp * depth * g.out_size, result.data() + grp * cout_group * g.out_size,
                        parallelism);
    }
    T* y_item = y.data<T>() + b * g.out_channels * g.out_size;
    for (size_t i = 0; i < result.size(); ++i) y_item[i] = from_compute<T>(result[i]);
  }
}

DeformConvAttributes read_attributes(const Node& node) {
  DeformConvAttributes a;
  a.dilations = node.attr_ints("dilations");
  a.group = node.attr_int("group", 1);
  a.kernel_shape = node.attr_ints("kernel_shape");
  a.offset_group = node.attr_int("offset_group", 1);
  a.pads = node.attr_ints("pads");
  a.strides = node.attr_ints("strides");
  check_model(a.group >= 1 && a.offset_group >= 1, "attributes 'group' = ", a.group,
              " and 'offset_group' = ", a.offset_group, " must be positive");
  check_window_attribute(node, "kernel_shape", a.kernel_shape, 1);
  check_window_attribute(node, "pads", a.pads, 0);
  check_window_attribute(node, "strides", a.strides, 1);
  check_window_attribute(node, "dilations", a.dilations, 1);
  return a;
}

std::unique_ptr<Kernel> make_deform_conv(const KernelInfo& info) {
  const DeformConvAttributes attrs = read_attributes(info.node);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor& offset = ctx.input(2);
    const Tensor* bias = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    const Tensor* mask = ctx.has_input(4) ? &ctx.input(4) : nullptr;
    const DeformGeometry g = deform_geometry(attrs, x, w, offset, bias, mask);
    std::vector<int64_t> out_shape{g.batch, g.out_channels};
    out_shape.insert(out_shape.end(), g.out_dims.begin(), g.out_dims.end());
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    if (y.element_count() == 0) return;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, Float16> ||
                    std::is_same_v<T, BFloat16>) {
        deform_conv_typed<T>(g, x, w, offset, bias, mask, y, ctx.parallelism());
      } else {
        fail(ErrorCode::kInvalidArgument, "input 'X' ", x.description(), ": element type ", dtype_name(x.dtype()),
             " is not a float type");
      }
    });
  });
}

// Output: (N, oC, spatial dims of offset) when the shapes are known.
void infer_deform_conv(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  const TypeInfo* w = ctx.input_type(1);
  const TypeInfo* offset = ctx.input_type(2);
  if (x == nullptr || !x->is_tensor()) return;
  if (w == nullptr || !w->shape || offset == nullptr || !offset->shape || !x->shape || x->shape->empty() ||
      w->shape->empty() || offset->shape->size() != x->shape->size()) {
    ctx.set_output_type(0, TypeInfo::tensor(x->elem_type));
    return;
  }
  std::vector<Dim> dims{(*x->shape)[0], (*w->shape)[0]};
  dims.insert(dims.end(), offset->shape->begin() + 2, offset->shape->end());
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

const RegisterOp kDeformConv19{{.op_type = "DeformConv",
                                .since_version = 19,
                                .last_version = 21,
                                .factory = make_deform_conv,
                                .infer = infer_deform_conv}};
const RegisterOp kDeformConv22{{.op_type = "DeformConv",
                                .since_version = 22,
                                .last_version = INT_MAX,
                                .factory = make_deform_conv,
                                .infer = infer_deform_conv}};

}  // namespace
}  // namespace tessera

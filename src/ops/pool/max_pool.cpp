// MaxPool (opsets 1-22+): max over each window, with the optional Indices output (opset 8+), float16/bfloat16
// through float, and int8/uint8 (opset 12+).
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/f32-maxpool/f32-maxpool.h"
#include "kernels/q8-convert/q8-convert.h"
#include "ops/pool/float_staging.h"
#include "ops/pool/pool_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Keeps the first maximum of a window (NaN wins and stays, as in PyTorch) and where it was: the walk used when
// the Indices output is wanted (without it, the separable pool is faster).
template <typename T>
struct ArgMaxReducer {
  const T* x;
  T* y;
  int64_t* indices;  // plane of the Indices output
  T best{};
  int64_t best_offset = -1;

  void begin() { best_offset = -1; }
  void add(int64_t offset) {
    const T v = x[offset];
    bool take = best_offset < 0 || v > best;
    if constexpr (std::is_floating_point_v<T>) take = take || (v != v && best == best);
    if (take) {
      best = v;
      best_offset = offset;
    }
  }
  void finish(int64_t o, int64_t /*count*/, int64_t /*padded_count*/) {
    // A window entirely in the padding has no element: -inf (the lowest value for integers), as the fast path.
    y[o] = best_offset < 0 ? pool_identity<T, PoolCombine::kMax>() : best;
    indices[o] = best_offset;
  }
};

struct MaxPoolConfig {
  PoolAttributes attrs;
  bool column_major = false;
};

// The kernels/f32-maxpool parameters of a 2-D pool (supported or not: see maxpool2d_f32_supports).
MaxPool2dF32Params maxpool2d_params(const PoolGeometry& g) {
  return window2d(g.input, g.output, g.kernel, g.strides, g.dilations, g.pads_begin);
}

// Output rows per thread from which a 2-D float pool of fewer images than threads is split by row bands.
constexpr int64_t kMinBandRows = 16;

// Output rows [r0, r1) of a pool `p` as a pool of their own (`params`) over the input from row `first_row` on (the
// rows before it are never read; rows of the band's windows above the input stay padding).
struct OutputRowBand {
  MaxPool2dF32Params params;
  int64_t first_row;
};
OutputRowBand output_row_band(const MaxPool2dF32Params& p, int64_t r0, int64_t r1) {
  const int64_t start = r0 * p.stride_h - p.pad_top;
  OutputRowBand band{p, std::max<int64_t>(0, start)};
  band.params.out_h = r1 - r0;
  band.params.in_h = p.in_h - band.first_row;
  band.params.pad_top = band.first_row - start;
  return band;
}

// A float 2-D pool without Indices: kernels/f32-maxpool per plane, the planes split over the pool. False (doing
// nothing) when the kernel does not take the geometry.
bool max_pool_2d_f32(const PoolGeometry& g, const Tensor& x, Tensor& y, Parallelism& parallelism) {
  if (g.input.size() != 2) return false;
  const MaxPool2dF32Params p = maxpool2d_params(g);
  if (!maxpool2d_f32_supports(p)) return false;
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  const int64_t planes = x.dim(0) * x.dim(1);
  if (g.input_size <= kMaxPoolChannelsMaxPlane && planes >= kMaxPoolChannelBlock) {
    // Small planes: kMaxPoolChannelBlock channels per call, channels-last in between (SqueezeNet's 27x27 pool).
    const int64_t blocks = (planes + kMaxPoolChannelBlock - 1) / kMaxPoolChannelBlock;
    parallelism.parallel_for(blocks, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(static_cast<size_t>(maxpool2d_f32_channels_scratch_floats(p)));
      for (int64_t b = begin; b < end; ++b) {
        const int64_t first = b * kMaxPoolChannelBlock;
        maxpool2d_f32_channels(p, std::min(kMaxPoolChannelBlock, planes - first), xd + first * g.input_size,
                               g.input_size, yd + first * g.output_size, g.output_size, scratch.data());
      }
    });
    return true;
  }
  const int64_t scratch_floats = maxpool2d_f32_scratch_floats(p);
  const int threads = parallelism.thread_count();
  const int64_t last_band_start = p.out_h * (threads - 1) / threads * p.stride_h - p.pad_top;
  if (threads > 1 && x.dim(0) < threads && p.out_h >= kMinBandRows * threads && last_band_start < p.in_h) {
    // Fewer images than threads: each thread pools one band of output rows of every plane, rather than whole
    // planes, so it reads the input rows that the convolution before it wrote on the same core (the row-split
    // GEMMs of the stems). Measured (Xeon, two threads, per-node minima, old and new alternately): the pools after
    // the stems, SqueezeNet's 64 x 111x111 114 -> 100 us and ResNet-50's 64 x 112x112 111 -> 102 us; with bands of
    // 13-14 rows, SqueezeNet's 128 x 55x55 pool (after a Concat of two convolutions split differently) went 65 ->
    // 80 us, hence kMinBandRows.
    parallelism.parallel_for(threads, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(static_cast<size_t>(scratch_floats));
      for (int64_t part = begin; part < end; ++part) {
        const int64_t r0 = p.out_h * part / threads, r1 = p.out_h * (part + 1) / threads;
        if (r0 >= r1) continue;
        const OutputRowBand band = output_row_band(p, r0, r1);
        for (int64_t plane = 0; plane < planes; ++plane) {
          maxpool2d_f32(band.params, xd + plane * g.input_size + band.first_row * p.in_w,
                        yd + plane * g.output_size + r0 * p.out_w, scratch.data());
        }
      }
    });
    return true;
  }
  parallelism.parallel_for(x.dim(0) * x.dim(1), [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(scratch_floats));
    for (int64_t plane = begin; plane < end; ++plane) {
      maxpool2d_f32(p, xd + plane * g.input_size, yd + plane * g.output_size, scratch.data());
    }
  });
  return true;
}

// An 8-bit 2-D pool without Indices through the float kernel, plane by plane (maxima of integers are exact in
// float): each plane widened into a float buffer, pooled, and narrowed back. False (doing nothing) when the kernel
// does not take the geometry. QDQ models' MaxPools run here once qdq_pass_through drops their Q/DQ pairs (ResNet-50's
// [64, 112, 112] pool: the float pool's time plus the two conversions, not a dequantization and a quantization of
// whole tensors).
template <typename T>
bool max_pool_2d_q8(const PoolGeometry& g, const Tensor& x, Tensor& y, Parallelism& parallelism) {
  if (g.input.size() != 2) return false;
  const MaxPool2dF32Params p = maxpool2d_params(g);
  if (!maxpool2d_f32_supports(p)) return false;
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  parallelism.parallel_for(x.dim(0) * x.dim(1), [&](int64_t begin, int64_t end) {
    std::vector<float> in(static_cast<size_t>(g.input_size)), out(static_cast<size_t>(g.output_size));
    std::vector<float> scratch(static_cast<size_t>(maxpool2d_f32_scratch_floats(p)));
    for (int64_t plane = begin; plane < end; ++plane) {
      // Widened and narrowed by the q8-convert kernels with scale 1 and zero point 0 (exact both ways).
      if constexpr (std::is_same_v<T, int8_t>) {
        q8_dequantize_s8(xd + plane * g.input_size, g.input_size, 1.0f, 0, in.data());
        maxpool2d_f32(p, in.data(), out.data(), scratch.data());
        q8_quantize_s8(out.data(), g.output_size, 1.0f, 0, yd + plane * g.output_size);
      } else {
        q8_dequantize_u8(xd + plane * g.input_size, g.input_size, 1.0f, 0, in.data());
        maxpool2d_f32(p, in.data(), out.data(), scratch.data());
        q8_quantize_u8(out.data(), g.output_size, 1.0f, 0, yd + plane * g.output_size);
      }
    }
  });
  return true;
}

template <typename T>
void max_pool_typed(const MaxPoolConfig& config, const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor* indices,
                    Parallelism& parallelism) {
  if constexpr (std::is_same_v<T, float>) {
    if (indices == nullptr && max_pool_2d_f32(g, x, y, parallelism)) return;
  }
  if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
    if (indices == nullptr && max_pool_2d_q8<T>(g, x, y, parallelism)) return;
  }
  const std::vector<AxisWindows> windows = make_axis_windows(g);
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  int64_t* id = indices ? indices->data<int64_t>() : nullptr;
  const int64_t planes = x.dim(0) * x.dim(1);
  parallelism.parallel_for(planes, [&](int64_t begin, int64_t end) {
    std::vector<T> scratch;
    for (int64_t p = begin; p < end; ++p) {
      if (id == nullptr) {
        pool_plane_separable<T, PoolCombine::kMax>(g, windows, false, xd + p * g.input_size, yd + p * g.output_size,
                                                   scratch);
        continue;
      }
      int64_t* plane_indices = id + p * g.output_size;
      ArgMaxReducer<T> r{xd + p * g.input_size, yd + p * g.output_size, plane_indices};
      pool_plane(g, windows, r);
      // Indices are flat over the whole input tensor (padding not counted).
      for (int64_t o = 0; o < g.output_size; ++o) {
        int64_t offset = plane_indices[o];
        if (offset < 0) continue;
        if (config.column_major) offset = column_major_offset(offset, g.input);
        plane_indices[o] = p * g.input_size + offset;
      }
    }
  });
}

std::unique_ptr<Kernel> make_max_pool(const KernelInfo& info) {
  MaxPoolConfig config;
  config.attrs = parse_pool_attributes(info.node);
  const int64_t storage_order = info.node.attr_int("storage_order", 0);
  check_model(storage_order == 0 || storage_order == 1, info.node.label(), ": storage_order must be 0 or 1, got ",
              storage_order);
  config.column_major = storage_order == 1;
  const int64_t opset = info.opset;
  return make_kernel([config, opset](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    const DType dtype = input.dtype();
    const bool integer = dtype == DType::kInt8 || dtype == DType::kUint8;
    check_argument(
        dtype == DType::kFloat || dtype == DType::kDouble || is_staged_float(dtype) || (integer && opset >= 12),
        "MaxPool does not support input X of type ", tensor_text(input));
    const PoolGeometry g = resolve_pool_geometry(config.attrs, input, "MaxPool");
    const std::vector<int64_t> out_shape = pool_output_shape(input, g);
    Tensor* indices = ctx.output_wanted(1) ? &ctx.allocate_output(1, DType::kInt64, out_shape) : nullptr;
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), out_shape, /*writes_every_element=*/true);
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int8_t> ||
                    std::is_same_v<T, uint8_t>) {
        max_pool_typed<T>(config, g, x, y, indices, ctx.parallelism());
      }
    });
    finish_staged_output(ctx, 0, y, dtype);
  });
}

// com.microsoft NhwcMaxPool (ONNX Runtime's contrib op for quantized NHWC graphs): MaxPool over int8/uint8
// X [N, spatial..., C] giving Y [N, out spatial..., C], attributes as MaxPool's (no Indices, no storage_order).
// Runs as MaxPool on the NCHW copy, copied back to NHWC.
std::unique_ptr<Kernel> make_nhwc_max_pool(const KernelInfo& info) {
  MaxPoolConfig config;
  config.attrs = parse_pool_attributes(info.node);
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    check_argument((input.dtype() == DType::kInt8 || input.dtype() == DType::kUint8) && input.rank() >= 3,
                   "NhwcMaxPool: input X ", tensor_text(input), " must be int8 or uint8 [N, spatial..., C]");
    const Tensor x = channels_last_to_first(input, ctx.parallelism());
    const PoolGeometry g = resolve_pool_geometry(config.attrs, x, "NhwcMaxPool");
    const std::vector<int64_t> out_nchw = pool_output_shape(x, g);
    Tensor pooled(input.dtype(), out_nchw);
    if (input.dtype() == DType::kInt8) {
      max_pool_typed<int8_t>(config, g, x, pooled, nullptr, ctx.parallelism());
    } else {
      max_pool_typed<uint8_t>(config, g, x, pooled, nullptr, ctx.parallelism());
    }
    ctx.set_output(0, channels_first_to_last(pooled, ctx.parallelism()));
  });
}

const RegisterOp kNhwcMaxPool{{.domain = kMicrosoftDomain,
                               .op_type = "NhwcMaxPool",
                               .since_version = 1,
                               .last_version = INT_MAX,
                               .factory = make_nhwc_max_pool,
                               .infer = infer_pool_element_type}};

// Versions: 1 (base), 8 (Indices, storage_order), 10 (ceil_mode, dilations), 11 (pads semantics clarified),
// 12 (int8/uint8), 22 (bfloat16). One factory serves all; attributes absent in an old version default away.
const RegisterOp kMaxPool1{
    {.op_type = "MaxPool", .since_version = 1, .last_version = 7, .factory = make_max_pool, .infer = infer_pool}};
const RegisterOp kMaxPool8{
    {.op_type = "MaxPool", .since_version = 8, .last_version = 9, .factory = make_max_pool, .infer = infer_pool}};
const RegisterOp kMaxPool10{
    {.op_type = "MaxPool", .since_version = 10, .last_version = 10, .factory = make_max_pool, .infer = infer_pool}};
const RegisterOp kMaxPool11{
    {.op_type = "MaxPool", .since_version = 11, .last_version = 11, .factory = make_max_pool, .infer = infer_pool}};
const RegisterOp kMaxPool12{
    {.op_type = "MaxPool", .since_version = 12, .last_version = 21, .factory = make_max_pool, .infer = infer_pool}};
const RegisterOp kMaxPool22{{.op_type = "MaxPool",
                             .since_version = 22,
                             .last_version = INT_MAX,
                             .factory = make_max_pool,
                             .infer = infer_pool}};

}  // namespace
}  // namespace tessera

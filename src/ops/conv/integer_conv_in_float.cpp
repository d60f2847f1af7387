#include "ops/conv/integer_conv_in_float.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

#include "kernels/bf16-gemm/bf16_gemm.h"
#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc.h"
#include "kernels/f32-dwconv/f32-dwconv.h"
#include "kernels/q8-convert/q8-convert.h"
#include "kernels/q8-dwconv/q8-dwconv.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "kernels/x32-transpose/x32-transpose.h"
#include "ops/conv/bf16_conv.h"
#include "ops/conv/byte_transpose.h"
#include "ops/conv/conv_kernels.h"

namespace tessera::conv {
namespace {

// The largest |v - zero_point| over the 8-bit type's values.
double widest_difference(DType dtype, double zero_point) {
  const double lo = dtype == DType::kInt8 ? -128 : 0, hi = dtype == DType::kInt8 ? 127 : 255;
  return std::max(std::fabs(lo - zero_point), std::fabs(hi - zero_point));
}

// out[i] = in[i] - zero_point as floats for n 8-bit values and an integer zero point: the q8-convert kernel's
// dequantization with scale 1 (vectorized per ISA; this file is built for the baseline ISA).
inline void widen_minus(const int8_t* in, int64_t n, double zero_point, float* out) {
  q8_dequantize_s8(in, n, 1.0f, static_cast<int32_t>(zero_point), out);
}
inline void widen_minus(const uint8_t* in, int64_t n, double zero_point, float* out) {
  q8_dequantize_u8(in, n, 1.0f, static_cast<int32_t>(zero_point), out);
}

// An 8-bit tensor minus per-block zero points (block = `inner` consecutive elements, cycling) as floats, the blocks
// split over the pool.
template <typename T>
void widen_blocks(const T* in, const std::vector<double>& zero_points, int64_t inner, int64_t blocks, float* out,
                  Parallelism& parallelism) {
  parallelism.parallel_for(blocks, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      widen_minus(in + b * inner, inner, zero_points[static_cast<size_t>(b) % zero_points.size()], out + b * inner);
    }
  });
}

Tensor widened(const Tensor& t, const std::vector<double>& zero_points, int64_t inner, Parallelism& parallelism) {
  Tensor out = Tensor::uninitialized(DType::kFloat, t.shape());
  const int64_t blocks = inner == 0 ? 0 : t.element_count() / inner;
  if (t.dtype() == DType::kInt8) {
    widen_blocks(t.data<int8_t>(), zero_points, inner, blocks, out.data<float>(), parallelism);
  } else {
    widen_blocks(t.data<uint8_t>(), zero_points, inner, blocks, out.data<float>(), parallelism);
  }
  return out;
}

}  // namespace

Tensor integer_conv_widened_weights(const Tensor& w, const std::vector<double>& zero_points, Parallelism& parallelism) {
  const int64_t inner = w.rank() == 0 || w.dim(0) == 0 ? 0 : w.element_count() / w.dim(0);
  return widened(w, zero_points, inner, parallelism);
}

bool integer_sums_within_2_24(int64_t depth, DType x_dtype, double x_zero_point, DType w_dtype,
                              const std::vector<double>& w_zero_points, const int32_t* bias, int64_t channels) {
  double w_widest = 0, bias_widest = 0;
  for (double zp : w_zero_points) w_widest = std::max(w_widest, widest_difference(w_dtype, zp));
  for (int64_t m = 0; bias != nullptr && m < channels; ++m)
    bias_widest = std::max(bias_widest, std::fabs(static_cast<double>(bias[m])));
  return static_cast<double>(depth) * widest_difference(x_dtype, x_zero_point) * w_widest + bias_widest <= 16777216.0;
}

bool dense_on_bf16_tiles(int64_t depth) {
  if (std::strstr(bf16_gemm_kernel_name(), "__amx") == nullptr) return false;
  // The q8 GEMM's depth for im2row rows (whole groups of 4 steps); on the AMX-INT8 tiles it stays there.
  return std::strstr(q8_gemm_kernel_name_for_depth((depth + 3) / 4 * 4), "__amx") == nullptr;
}

namespace {
// Whether v is an integer, without libm's nearbyint (a call per value on the x86-64 baseline: a 960-channel layer's
// per-channel zero points cost ~6 us a run); magnitudes of 2^30 and more count as not (no 8-bit zero point is).
bool is_small_integer(double v) {
  return std::fabs(v) < 1073741824.0 && static_cast<double>(static_cast<int64_t>(v)) == v;
}
}  // namespace

bool integer_conv_runs_in_float(const ConvGeometry& g, DType x_dtype, double x_zero_point, DType w_dtype,
                                const std::vector<double>& w_zero_points) {
  const bool depthwise = g.group == g.in_channels && g.out_channels == g.in_channels && g.group >= 2;
  const bool shallow = g.group == 1 && g.in_channels * g.kernel_size <= kShallowDepth;
  const bool dense = g.group == 1 && !g.is_pointwise() && dense_on_bf16_tiles(g.in_channels * g.kernel_size);
  if (g.spatial_rank() != 2 || !(depthwise || shallow || dense) || !is_small_integer(x_zero_point)) return false;
  double w_widest = 0;
  for (double zp : w_zero_points) {
    if (!is_small_integer(zp)) return false;
    w_widest = std::max(w_widest, widest_difference(w_dtype, zp));
  }
  const double depth = static_cast<double>(g.in_group_channels() * g.kernel_size);
  return depth * widest_difference(x_dtype, x_zero_point) * w_widest < 16777216.0;
}

namespace {

// The sums [N, M, out_size] as float (exact integers; see integer_conv_runs_in_float), without the bias.
Tensor float_sums(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                  const std::vector<double>& w_zero_points, Parallelism& parallelism) {
  // x in planes (one zero point for all), w per output channel.
  const Tensor xf = widened(x, {x_zero_point}, g.in_size, parallelism);
  const Tensor wf = widened(w, w_zero_points, g.in_group_channels() * g.kernel_size, parallelism);
  Tensor yf = Tensor::uninitialized(DType::kFloat, {g.batch * g.out_channels * g.out_size});
  // On the AMX tiles where the bf16 GEMM runs there (dense convolutions: image stems): the differences are integers
  // of at most 255 in magnitude, exact in bfloat16, their products exact in float32, and every partial sum an
  // integer below 2^24 (integer_conv_runs_in_float), so the tiles give the same exact sums, faster.
  if (g.group == 1 && std::strstr(bf16_gemm_kernel_name(), "__amx") != nullptr) {
    const std::shared_ptr<const Bf16ConvWeights> weights = make_bf16_conv_weights(wf);
    conv_bf16(g, *weights, xf.data<float>(), nullptr, nullptr, -std::numeric_limits<float>::infinity(),
              std::numeric_limits<float>::infinity(), yf.data<float>(), parallelism);
    return yf;
  }
  conv_f32(ConvF32Args{g, xf.data<float>(), wf.data<float>(), nullptr, nullptr, yf.data<float>()}, parallelism);
  return yf;
}

// dst[i] = int32(sums[i]) + bias (wrapping), for sums that are exact integers.
void sums_plus_bias(const float* sums, int64_t count, uint32_t bias, int32_t* dst) {
  for (int64_t i = 0; i < count; ++i) {
    dst[i] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int32_t>(sums[i])) + bias);
  }
}

// At least `count` floats of `buffer` (grown as needed, kept), starting at a 64-byte boundary.
float* aligned_floats(std::vector<float>& buffer, int64_t count) {
  constexpr size_t kSlack = 16;
  buffer.resize(std::max(buffer.size(), static_cast<size_t>(count) + kSlack));
  const uintptr_t address = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - address % 64) % 64) / sizeof(float);
}

// The depthwise case of integer_conv_requantized_in_float, channel block by channel block with everything in cache:
// the block's input planes widened to float (minus the zero point), their depthwise sums (kernels/f32-dwconv, exact
// integers in float), the bias, requantization into y. Blocks of one plane where planes are large, of a few where
// the kernel convolves small planes side by side (kDwConvChannelsMaxOutputs). `p` is g's window, wf the weights
// widened to float (integer_conv_widened_weights).
template <typename T>
void depthwise_requantized(const ConvGeometry& g, const DwConv2dF32Params& p, const T* x, double x_zero_point,
                           const Tensor& wf, const int32_t* bias, const std::vector<double>& scales,
                           double y_zero_point, bool y_signed, bool small_sums, Parallelism& parallelism, uint8_t* y) {
  const int64_t taps = g.kernel_size;
  constexpr int64_t kBlockBytes = 64 * 1024;
  int64_t per_block =
      g.out_size <= kDwConvChannelsMaxOutputs
          ? std::clamp<int64_t>(kBlockBytes / static_cast<int64_t>(sizeof(float) * g.in_size), 1, g.out_channels)
          : 1;
  int64_t blocks_per_image = (g.out_channels + per_block - 1) / per_block;
  // On several threads, a multiple of their count of (smaller) blocks: 576 channels at 14x14 in 7 blocks went 4 : 3
  // between two threads, 960 at 7x7 in 3 blocks 2 : 1.
  const int threads = parallelism.thread_count();
  if (threads > 1 && g.batch * blocks_per_image % threads != 0) {
    const int64_t blocks = std::min(g.out_channels, (blocks_per_image + threads - 1) / threads * threads);
    per_block = (g.out_channels + blocks - 1) / blocks;
    blocks_per_image = (g.out_channels + per_block - 1) / per_block;
  }
  parallelism.parallel_for_balanced(g.batch * blocks_per_image, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> in_buffer, out_buffer, scratch;
    thread_local std::vector<const float*> planes;
    float* const in = aligned_floats(in_buffer, per_block * g.in_size);
    float* const out = aligned_floats(out_buffer, per_block * g.out_size);
    scratch.resize(static_cast<size_t>(std::max<int64_t>(dwconv2d_f32_channels_scratch_floats(p), 1)));
    planes.resize(static_cast<size_t>(per_block));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t n = task / blocks_per_image, m0 = task % blocks_per_image * per_block;
      const int64_t count = std::min(per_block, g.out_channels - m0);
      const T* src = x + (n * g.in_channels + m0) * g.in_size;
      widen_minus(src, count * g.in_size, x_zero_point, in);
      for (int64_t c = 0; c < count; ++c) planes[static_cast<size_t>(c)] = in + c * g.in_size;
      dwconv2d_f32_channels(p, count, planes.data(), wf.data<float>() + m0 * taps, nullptr, out, scratch.data());
      for (int64_t c = 0; c < count; ++c) {
        const int64_t m = m0 + c;
        q8_requantize_float_sums(out + c * g.out_size, g.out_size, bias != nullptr ? bias[m] : 0,
                                 scales[static_cast<size_t>(m)], y_zero_point, y_signed,
                                 y + (n * g.out_channels + m) * g.out_size, small_sums);
      }
    }
  });
}

// The depthwise case for small planes, channels-last inside each task: per image and block of channels, the
// block's input planes transposed as bytes to [positions x channels] and widened to float (minus the zero point),
// their depthwise sums by the NHWC kernel (kernels/f32-dwconv-nhwc: exact integers in float, as in the NCHW
// kernels), requantized channels-last with each channel's bias and scale, and the bytes transposed back into y's
// planes. Only bytes cross the transposes; everything stays in the task's buffers, so QLinearConv's input and
// output keep their NCHW layout. `window` is g's.
template <typename T>
void depthwise_requantized_channels_last(const ConvGeometry& g, const Window2d& window, const T* x, double x_zero_point,
                                         const Tensor& wf, const int32_t* bias, const std::vector<double>& scales,
                                         double y_zero_point, bool y_signed, bool small_sums, Parallelism& parallelism,
                                         uint8_t* y) {
  const int64_t taps = g.kernel_size, channels = g.out_channels;
  // Blocks of whole registers of channels (16 floats), at most 64; on several threads at least a block per thread
  // where the channels allow it.
  constexpr int64_t kLanes = 16, kMaxBlock = 64;
  const int threads = parallelism.thread_count();
  int64_t blocks = (channels + kMaxBlock - 1) / kMaxBlock;
  if (threads > 1 && g.batch * blocks % threads != 0)
    blocks = std::min((channels + kLanes - 1) / kLanes, (g.batch * blocks + threads - 1) / threads * threads);
  const int64_t per_block = ((channels + blocks - 1) / blocks + kLanes - 1) / kLanes * kLanes;
  const int64_t blocks_per_image = (channels + per_block - 1) / per_block;
  // The weights block by block, each [taps x block channels] as the NHWC kernel reads them (channels innermost).
  std::vector<float> w_blocks(static_cast<size_t>(channels * taps));
  for (int64_t m0 = 0; m0 < channels; m0 += per_block) {
    const int64_t count = std::min(per_block, channels - m0);
    transpose_x32(reinterpret_cast<const uint32_t*>(wf.data<float>() + m0 * taps), taps,
                  reinterpret_cast<uint32_t*>(w_blocks.data() + m0 * taps), count, count, taps);
  }
  parallelism.parallel_for_balanced(g.batch * blocks_per_image, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> bytes;
    thread_local std::vector<float> in_buffer, out_buffer;
    bytes.resize(std::max(bytes.size(), static_cast<size_t>(per_block * std::max(g.in_size, g.out_size))));
    // 64-byte aligned (16 floats of slack): the NHWC kernel's register loads then never straddle cache lines.
    float* const in = aligned_floats(in_buffer, per_block * g.in_size);
    float* const out = aligned_floats(out_buffer, per_block * g.out_size);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t n = task / blocks_per_image, m0 = task % blocks_per_image * per_block;
      const int64_t count = std::min(per_block, channels - m0);
      transpose_bytes(count, g.in_size, reinterpret_cast<const uint8_t*>(x + (n * g.in_channels + m0) * g.in_size),
                      g.in_size, bytes.data(), count, 0);
      widen_minus(reinterpret_cast<const T*>(bytes.data()), count * g.in_size, x_zero_point, in);
      DwConvNhwcF32Params p;
      static_cast<Window2d&>(p) = window;
      p.channels = count;
      dwconv_nhwc_f32(p, in, w_blocks.data() + m0 * taps, nullptr, nullptr, out, 0, p.out_h, 0, count);
      q8_requantize_float_sums_channels(out, g.out_size, count, bias != nullptr ? bias + m0 : nullptr,
                                        scales.data() + m0, y_zero_point, y_signed, bytes.data(), small_sums);
      transpose_bytes(g.out_size, count, bytes.data(), count, y + (n * g.out_channels + m0) * g.out_size, g.out_size,
                      0);
    }
  });
}

// The weight differences of a depthwise 3x3 layer (wf: w - zero point as floats, integers within +-255) as the
// integer kernel takes them.
std::vector<int16_t> weights_as_int16(const Tensor& wf) {
  std::vector<int16_t> weights(static_cast<size_t>(wf.element_count()));
  const float* const source = wf.data<float>();  // once: the accessor per element was 14% of a 7x7 layer
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<int16_t>(source[i]);
  return weights;
}

// The depthwise case on the integer kernel (kernels/q8-dwconv: 3x3, column strides 1 and 2), plane by plane: the
// exact int32 sums with the bias, requantized into y with the channel's scale. `wf` holds the weight differences
// (w - zero point, integers within +-255) as floats.
template <typename T>
void depthwise_requantized_integer(const ConvGeometry& g, const Window2d& window, const T* x, double x_zero_point,
                                   const Tensor& wf, const int32_t* bias, const std::vector<double>& scales,
                                   double y_zero_point, bool y_signed, bool small_sums, Parallelism& parallelism,
                                   uint8_t* y) {
  constexpr int64_t kTaps = 9;
  const std::vector<int16_t> weights = weights_as_int16(wf);
  const int64_t scratch_bytes = q8_dwconv3x3_scratch_bytes(window);
  parallelism.parallel_for_balanced(g.batch * g.out_channels, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> scratch_buffer;
    thread_local std::vector<int32_t> sums;
    scratch_buffer.resize(std::max(scratch_buffer.size(), static_cast<size_t>(scratch_bytes + 64)));
    sums.resize(std::max(sums.size(), static_cast<size_t>(g.out_size)));
    void* const scratch = scratch_buffer.data() + (64 - reinterpret_cast<uintptr_t>(scratch_buffer.data()) % 64) % 64;
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t m = plane % g.out_channels;
      q8_dwconv3x3(window, reinterpret_cast<const uint8_t*>(x + plane * g.in_size), std::is_signed_v<T>,
                   static_cast<int32_t>(x_zero_point), weights.data() + m * kTaps, bias != nullptr ? bias[m] : 0,
                   sums.data(), scratch);
      q8_requantize(sums.data(), g.out_size, &scales[static_cast<size_t>(m)], 0, y_zero_point, y_signed,
                    y + plane * g.out_size, small_sums);
    }
  });
}

// The depthwise case for small planes on the integer kernel's channels-last form (3x3, column strides 1 and 2), per
// image and block of channels: the block's planes transposed as bytes into a buffer padded with the zero point's
// byte (kernels/q8-dwconv's layout), the exact int32 sums, requantized channels-last with each channel's bias less
// zero point x its weights' sum (q8_requantize_channels), and the bytes transposed back into y's planes.
template <typename T>
void depthwise_requantized_channels_last_integer(const ConvGeometry& g, const Window2d& window, const T* x,
                                                 double x_zero_point, const Tensor& wf, const int32_t* bias,
                                                 const std::vector<double>& scales, double y_zero_point, bool y_signed,
                                                 bool small_sums, Parallelism& parallelism, uint8_t* y) {
  constexpr int64_t kTaps = 9, kMaxBlock = 64, kAlign = 32;
  const int64_t channels = g.out_channels;
  const int threads = parallelism.thread_count();
  int64_t blocks = (channels + kMaxBlock - 1) / kMaxBlock;
  if (threads > 1 && g.batch * blocks % threads != 0)
    blocks = std::min((channels + 15) / 16, (g.batch * blocks + threads - 1) / threads * threads);
  const int64_t per_block = ((channels + blocks - 1) / blocks + 15) / 16 * 16;
  const int64_t blocks_per_image = (channels + per_block - 1) / per_block;
  const int32_t zero_point = static_cast<int32_t>(x_zero_point);
  // Each channel's bias with the zero point folded in (modulo 2^32).
  const std::vector<int16_t> weights = weights_as_int16(wf);
  std::vector<int32_t> folded(static_cast<size_t>(channels));
  for (int64_t m = 0; m < channels; ++m) {
    folded[static_cast<size_t>(m)] =
        q8_dwconv3x3_folded_bias(bias != nullptr ? bias[m] : 0, zero_point, weights.data() + m * kTaps);
  }
  const int64_t rows = (window.out_h - 1) * window.stride_h + 3, cols = (window.out_w - 1) * window.stride_w + 3;
  const int64_t ld = (per_block + kAlign - 1) / kAlign * kAlign;
  // The input rows and columns the outputs read (none past the padded buffer).
  const int64_t copy_rows = std::max<int64_t>(0, std::min(window.in_h, rows - window.pad_top));
  const int64_t copy_cols = std::max<int64_t>(0, std::min(window.in_w, cols - window.pad_left));
  parallelism.parallel_for_balanced(g.batch * blocks_per_image, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> padded, bytes, scratch;
    thread_local std::vector<int32_t> sums;
    padded.resize(std::max(padded.size(), static_cast<size_t>(rows * cols * ld)));
    bytes.resize(std::max(bytes.size(), static_cast<size_t>(std::max(per_block * g.out_size, ld * g.in_size))));
    scratch.resize(std::max(scratch.size(), static_cast<size_t>(q8_dwconv3x3_nhwc_scratch_bytes(ld))));
    sums.resize(std::max(sums.size(), static_cast<size_t>(g.out_size * ld)));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t n = task / blocks_per_image, m0 = task % blocks_per_image * per_block;
      const int64_t count = std::min(per_block, channels - m0);
      const uint8_t* src = reinterpret_cast<const uint8_t*>(x + (n * g.in_channels + m0) * g.in_size);
      // The whole block transposed at once (16 x 16 register blocks; row by row the 14- and 7-wide rows went byte
      // by byte), then its rows copied into the padded buffer.
      transpose_bytes(count, g.in_size, src, g.in_size, bytes.data(), ld, 0);
      std::memset(padded.data(), static_cast<uint8_t>(zero_point), static_cast<size_t>(rows * cols * ld));
      for (int64_t r = 0; r < copy_rows; ++r) {
        std::memcpy(padded.data() + ((r + window.pad_top) * cols + window.pad_left) * ld,
                    bytes.data() + r * window.in_w * ld, static_cast<size_t>(copy_cols * ld));
      }
      q8_dwconv3x3_nhwc(window, count, ld, padded.data(), std::is_signed_v<T>, weights.data() + m0 * kTaps, sums.data(),
                        scratch.data());
      q8_requantize_channels(sums.data(), g.out_size, count, ld, folded.data() + m0, scales.data() + m0, y_zero_point,
                             y_signed, bytes.data(), count, small_sums);
      transpose_bytes(g.out_size, count, bytes.data(), count, y + (n * g.out_channels + m0) * g.out_size, g.out_size,
                      0);
    }
  });
}

}  // namespace

void integer_conv_requantized_in_float(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                                       const std::vector<double>& w_zero_points, const int32_t* bias,
                                       const std::vector<double>& scales, double y_zero_point, bool y_signed,
                                       bool small, Parallelism& parallelism, uint8_t* y, const Tensor* widened_w) {
  const bool depthwise = g.group == g.in_channels && g.out_channels == g.in_channels && g.spatial_rank() == 2;
  DwConv2dF32Params p;
  static_cast<Window2d&>(p) = window2d(g.in_dims, g.out_dims, g.kernel, g.strides, g.dilations, g.pad_begin);
  DwConvNhwcF32Params channels_last;
  static_cast<Window2d&>(channels_last) = p;
  channels_last.channels = g.in_channels;
  // Output rows of at most kChannelsLastMaxOutputWidth positions (which leave an eighth of the NCHW kernels' lanes
  // idle or more) go channels-last, where a register holds 16 channels of one position. Measured on INT8
  // MobileNetV2 (Xeon, one thread, per-node minima of alternating runs): its 7x7 outputs 74-86 -> 53-57 us per
  // layer; its 14x14 ones (rows filling 14 of 16 lanes) level at first, 20% faster in chains of such layers once
  // the channels-last requantization loop lost its per-iteration reloads; 28-wide rows stay NCHW.
  constexpr int64_t kChannelsLastMaxOutputWidth = 16;
  const bool channels_last_fits = p.out_w <= kChannelsLastMaxOutputWidth && dwconv_nhwc_f32_supports(channels_last);
  if (depthwise && (channels_last_fits || dwconv2d_f32_supports(p))) {
    std::optional<Tensor> own;
    if (widened_w == nullptr) own.emplace(widened(w, w_zero_points, g.kernel_size, parallelism));
    const Tensor& wf = widened_w != nullptr ? *widened_w : *own;
    // On the integer kernel where it runs vectorized (3x3, column strides 1 and 2), plane by plane for rows wider
    // than that, channels-last for narrower ones. INT8 MobileNetV2 (reduced range; AMD EPYC Zen 3, one thread,
    // per-node minima of 1500 runs of each layer alone), float kernels -> integer: 32 channels at 112x112 279 ->
    // 204 us, 96 at 112x112 stride 2 346 -> 211, 144 at 56x56 333 -> 250, 144 at 56x56 stride 2 163 -> 109, 192 at
    // 28x28 162 -> 105; channels-last 192 at 28x28 stride 2 62 -> 45, 384 at 14x14 66-67 -> 61-62, 576 at 14x14
    // 99-101 -> 94, 576 at 14x14 stride 2 51 -> 47-48, 960 at 7x7 level (62). (Plane by plane, the 14x14 and 7x7
    // planes took 164 and 157 us.)
    const bool integer = q8_dwconv3x3_supports(p) && std::strstr(q8_dwconv3x3_kernel_name(), "__portable") == nullptr;
    const auto run = [&](const auto* data) {
      if (integer && !channels_last_fits)
        depthwise_requantized_integer(g, p, data, x_zero_point, wf, bias, scales, y_zero_point, y_signed, small,
                                      parallelism, y);
      else if (integer)
        depthwise_requantized_channels_last_integer(g, p, data, x_zero_point, wf, bias, scales, y_zero_point, y_signed,
                                                    small, parallelism, y);
      else if (channels_last_fits)
        depthwise_requantized_channels_last(g, p, data, x_zero_point, wf, bias, scales, y_zero_point, y_signed, small,
                                            parallelism, y);
      else
        depthwise_requantized(g, p, data, x_zero_point, wf, bias, scales, y_zero_point, y_signed, small, parallelism,
                              y);
    };
    if (x.dtype() == DType::kInt8)
      run(x.data<int8_t>());
    else
      run(x.data<uint8_t>());
    return;
  }
  const Tensor yf = float_sums(g, x, x_zero_point, w, w_zero_points, parallelism);
  const float* sums = yf.data<float>();
  // Each plane with its bias, requantized with its channel's scale.
  const int64_t planes = g.batch * g.out_channels;
  parallelism.parallel_for_balanced(planes, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t m = plane % g.out_channels;
      q8_requantize_float_sums(sums + plane * g.out_size, g.out_size, bias != nullptr ? bias[m] : 0,
                               scales[static_cast<size_t>(m)], y_zero_point, y_signed, y + plane * g.out_size, small);
    }
  });
}

void integer_conv_sums_in_float(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                                const std::vector<double>& w_zero_points, const int32_t* bias, Parallelism& parallelism,
                                int32_t* acc) {
  const Tensor yf = float_sums(g, x, x_zero_point, w, w_zero_points, parallelism);
  const float* y = yf.data<float>();
  const int64_t planes = g.batch * g.out_channels;
  parallelism.parallel_for(planes, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const uint32_t b = bias != nullptr ? static_cast<uint32_t>(bias[plane % g.out_channels]) : 0u;
      sums_plus_bias(y + plane * g.out_size, g.out_size, b, acc + plane * g.out_size);
    }
  });
}

}  // namespace tessera::conv

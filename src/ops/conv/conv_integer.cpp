// ConvInteger (opset 10) and QLinearConv (opset 10): convolution of 8-bit integer tensors with zero points (per
// tensor for x; per tensor or per output channel for w), accumulated exactly in int32 on the q8 GEMM: the
// transposed im2col matrix of each image and group is A, the weights (packed once when constant) are B. QLinearConv
// adds the int32 bias, rescales by x_scale * w_scale / y_scale, rounds half to even and saturates to the output type.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <string>

#include "base/lazy_text.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "kernels/x32-transpose/x32-transpose.h"
#include "ops/conv/byte_transpose.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/integer_conv_in_float.h"
#include "ops/linalg/linalg_common.h"
#include "ops/linalg/quant_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using conv::ConvAttributes;
using conv::ConvGeometry;
using conv::transpose_bytes;

// The int32 convolution of (x - x_zero_point) by (w - w_zero_point[m]) plus bias[m], as [N, M, out_size], by
// widened loops: the reference, kept for zero points outside their operand's range.
void accumulate_widened(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Tensor& w,
                        const std::vector<double>& w_zero_points, const int32_t* bias, int32_t* acc) {
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  const int64_t depth = cg * g.kernel_size;
  const std::vector<int32_t> xs = linalg::widen_minus_zero_point(x, {x_zero_point}, 1);
  const std::vector<int32_t> ws = linalg::widen_minus_zero_point(w, w_zero_points, std::max<int64_t>(depth, 1));
  std::vector<int32_t> col(static_cast<size_t>(depth * g.out_size));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      conv::im2col<int32_t>(g, xs.data() + (n * g.in_channels + grp * cg) * g.in_size, cg, 0, col.data());
      int32_t* yg = acc + (n * g.out_channels + grp * mg) * g.out_size;
      linalg::matmul_plain<int32_t>(mg, g.out_size, depth, ws.data() + grp * mg * depth, col.data(), yg);
      if (bias == nullptr) continue;
      for (int64_t m = 0; m < mg; ++m) {
        for (int64_t o = 0; o < g.out_size; ++o) {
          int32_t& v = yg[m * g.out_size + o];
          v = static_cast<int32_t>(static_cast<uint32_t>(v) + static_cast<uint32_t>(bias[grp * mg + m]));
        }
      }
    }
  }
}

// The q8 GEMM's depth for a group of `depth` = channels x kernel_size steps: im2row's rows (kernel_size > 1) are
// padded with the zero point to whole groups of 4 steps, which the GEMM reads in place (rows of a depth such as a
// 3-channel 7x7 stem's 147 it would copy into packed strips); pointwise convolutions read x as it is.
int64_t gemm_depth(int64_t depth, int64_t kernel_size) { return kernel_size > 1 ? (depth + 3) / 4 * 4 : depth; }

// The weights packed for the q8 GEMM as its B operand, one per group: group g's W rows (mg x C/group * kernel)
// are op(B) transposed, so output channels are B's columns and their zero points B's per-column zero points.
struct PackedWeights {
  std::vector<PackedQ8GemmB> groups;
  const void* source = nullptr;  // the weights' data while the caller keeps them, to recognise them when passed
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  std::vector<double> zero_points;  // one per output channel
  std::vector<uint8_t> raw;         // the weight bytes of a pointwise (A of the NCHW path) or shallow convolution
  // int8 pointwise weights as uint8 w + raw_as_uint8_offset: the NCHW path's A, which the q8 GEMM reads in place as
  // uint8 (int8 A it repacks on every call), and the sums of its rows (Q8GemmOutput::a_row_sums: summed again on
  // every call, they took 3% of INT8 ResNet-50, mostly its deep 1x1 layers' weights). The offset is 128 (w ^ 0x80),
  // or, for reduced-range weights (every w - zero point in [-64, 64], one zero point) where the q8 GEMM has a
  // narrow-A tile, 64 - zero point: then every byte lies in [0, 128] (raw_as_uint8_narrow), the A that tile takes
  // (pack_q8_gemm_b_for_narrow_a).
  std::vector<uint8_t> raw_as_uint8;
  std::vector<int32_t> raw_as_uint8_row_sums;
  int32_t raw_as_uint8_offset = 128;
  bool raw_as_uint8_narrow = false;
};

std::shared_ptr<const PackedWeights> pack_weights(const Tensor& w, const std::vector<double>& zero_points,
                                                  int64_t group) {
  auto packed = std::make_shared<PackedWeights>();
  const int64_t channels = w.dim(0);
  const int64_t depth = channels == 0 ? 0 : w.element_count() / channels;
  const int64_t kernel_size = w.element_count() == 0 ? 0 : depth / w.dim(1);
  const int64_t cg = w.dim(1);
  const int64_t mg = channels / group;
  std::vector<int32_t> zp(zero_points.begin(), zero_points.end());
  // Depth reordered from (channel, kernel offset) to (kernel offset, channel), the order of im2row's rows, and
  // padded to the GEMM's depth with zeros (A's padding is its zero point, so those products add nothing).
  const int64_t k = gemm_depth(depth, kernel_size);
  std::vector<uint8_t> reordered(static_cast<size_t>(mg * k), 0);
  const uint8_t* data = w.data<uint8_t>();
  for (int64_t grp = 0; grp < group; ++grp) {
    for (int64_t m = 0; m < mg; ++m) {
      const uint8_t* src = data + (grp * mg + m) * depth;
      uint8_t* dst = reordered.data() + m * k;
      for (int64_t c = 0; c < cg; ++c) {
        for (int64_t kk = 0; kk < kernel_size; ++kk) dst[kk * cg + c] = src[c * kernel_size + kk];
      }
    }
    packed->groups.push_back(
        pack_q8_gemm_b(w.dtype() == DType::kInt8, true, k, mg, reordered.data(), k, zp.data() + grp * mg, mg));
  }
  if (group == 1 && (kernel_size == 1 || depth <= conv::kShallowDepth || conv::dense_on_bf16_tiles(depth))) {
    packed->raw.assign(data, data + w.element_count());  // the pointwise and the float paths read them as they are
    if (kernel_size == 1 && w.dtype() == DType::kInt8) {
      const auto* values = reinterpret_cast<const int8_t*>(data);
      const bool one_zero_point = std::all_of(zp.begin(), zp.end(), [&](int32_t z) { return z == zp[0]; });
      packed->raw_as_uint8_narrow = !zp.empty() && one_zero_point && q8_gemm_has_narrow_a_kernel(depth) &&
                                    std::all_of(values, values + w.element_count(),
                                                [&](int8_t v) { return v - zp[0] >= -64 && v - zp[0] <= 64; });
      packed->raw_as_uint8_offset = packed->raw_as_uint8_narrow ? 64 - zp[0] : 128;
      packed->raw_as_uint8.resize(packed->raw.size());
      for (size_t i = 0; i < packed->raw.size(); ++i)
        packed->raw_as_uint8[i] = static_cast<uint8_t>(values[i] + packed->raw_as_uint8_offset);
      packed->raw_as_uint8_row_sums.assign(static_cast<size_t>(channels), 0);
      for (int64_t m = 0; m < channels; ++m) {
        const uint8_t* row = packed->raw_as_uint8.data() + m * depth;
        packed->raw_as_uint8_row_sums[static_cast<size_t>(m)] =
            static_cast<int32_t>(std::accumulate(row, row + depth, uint32_t{0}));
      }
    }
  }
  packed->source = w.raw_data();
  packed->dtype = w.dtype();
  packed->shape = w.shape();
  packed->zero_points = zero_points;
  return packed;
}

// Whether a group of mg output channels over `depth` (input channels x kernel) steps runs on the q8 GEMM: it
// needs a few output channels and steps per output position to pay for building its rows (depthwise and other
// thin groups stay on the widened loops, ~20x faster there).
bool group_fits_q8_gemm(int64_t mg, int64_t depth) { return mg >= 4 && depth >= 8 && mg * depth >= 128; }

// Packs constant weights (with a constant or absent zero point) once at kernel creation; nullptr otherwise. The
// kernel consumes them (the runtime then passes them no more and frees them) when x is known to be 8-bit with a
// constant or absent zero point in its range (input x_zp_index): then every run takes the q8 GEMM with this copy.
std::shared_ptr<const PackedWeights> pack_constant_weights(const KernelInfo& info, size_t w_index, size_t zp_index,
                                                           size_t x_zp_index, int64_t group) {
  const Tensor* w = info.constant_input(w_index);
  if (w == nullptr || w->rank() < 3 || !linalg::is_int8_type(w->dtype()) || w->element_count() == 0 ||
      w->dim(0) % group != 0 || !group_fits_q8_gemm(w->dim(0) / group, w->element_count() / w->dim(0))) {
    return nullptr;
  }
  const Tensor* zp = info.node.has_input(zp_index) ? info.constant_input(zp_index) : nullptr;
  if (info.node.has_input(zp_index) && zp == nullptr) return nullptr;
  const std::vector<double> values = linalg::tensor_values(zp);
  if (!(values.size() == 1 || static_cast<int64_t>(values.size()) == w->dim(0))) return nullptr;
  const std::vector<double> zero_points = linalg::expand_parameter(values, w->dim(0), "w_zero_point");
  if (!linalg::fit_in_8bit_type(zero_points, w->dtype())) return nullptr;
  std::shared_ptr<const PackedWeights> packed = pack_weights(*w, zero_points, group);
  if (linalg::runs_always_take_q8_gemm(info, x_zp_index)) info.consume_constant_input(w_index);
  return packed;
}

using Weights = linalg::WeightsInput;

Weights weights_input(KernelContext& ctx, size_t index, const PackedWeights* constant) {
  return linalg::weights_input(ctx, index, constant ? constant->dtype : DType::kUndefined,
                               constant ? &constant->shape : nullptr);
}

// dst[j * ld_dst + i] = src[i * ld_src + j] + add[j] (wrapping as int32; add may be nullptr) for a rows x cols
// int32 matrix: the x32-transpose kernel, then the column's addend over each destination row (still in cache).
void transpose_add_s32(int64_t rows, int64_t cols, const int32_t* __restrict src, int64_t ld_src,
                       const int32_t* __restrict add, int32_t* __restrict dst, int64_t ld_dst) {
  transpose_x32(reinterpret_cast<const uint32_t*>(src), ld_src, reinterpret_cast<uint32_t*>(dst), ld_dst, rows, cols);
  if (add == nullptr) return;
  for (int64_t j = 0; j < cols; ++j) {
    const uint32_t b = static_cast<uint32_t>(add[j]);
    uint32_t* row = reinterpret_cast<uint32_t*>(dst + j * ld_dst);
    for (int64_t i = 0; i < rows; ++i) row[i] += b;
  }
}

// Copies n bytes (n >= 0) from src to dst, ranges apart: up to 64 bytes by overlapping 16- or 8-byte moves instead
// of a library call (a 7x7 stem's kernel row of 3 channels is 21 bytes; GCC turns any loop of moves into one).
inline void copy_bytes(uint8_t* __restrict dst, const uint8_t* __restrict src, int64_t n) {
  if (n > 64) {
    std::memcpy(dst, src, static_cast<size_t>(n));
  } else if (n >= 16) {
    const auto move16 = [&](int64_t i) { std::memcpy(dst + i, src + i, 16); };
    move16(0);
    move16(n - 16);
    if (n > 32) {
      move16(16);
      move16(n - 32);
    }
  } else if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// im2row (below) for 2-D convolutions: per output position and kernel row, the kernel row's inside part is one
// contiguous copy when the group spans all channels and the columns are not dilated (else one copy per column), and
// the parts in the padding are filled with `pad`.
void im2row_2d(const ConvGeometry& g, const uint8_t* x, int64_t channels, int64_t cg, uint8_t pad, int64_t begin,
               int64_t end, int64_t row_stride, uint8_t* rows) {
  const int64_t in_h = g.in_dims[0], in_w = g.in_dims[1], out_w = g.out_dims[1];
  const int64_t kernel_h = g.kernel[0], kernel_w = g.kernel[1];
  const int64_t stride_h = g.strides[0], stride_w = g.strides[1];
  const int64_t dilation_h = g.dilations[0], dilation_w = g.dilations[1];
  const int64_t depth = cg * g.kernel_size, segment = kernel_w * cg;
  const int64_t tail = row_stride - depth;
  const bool contiguous = dilation_w == 1 && cg == channels;
  // Per output column, the kernel columns [lo, hi) that read inside the input's width.
  std::vector<conv::Range> inside(static_cast<size_t>(out_w));
  for (int64_t ow = 0; ow < out_w; ++ow) {
    inside[static_cast<size_t>(ow)] = conv::valid_range(kernel_w, dilation_w, ow * stride_w - g.pad_begin[1], in_w);
  }
  for (int64_t o = begin; o < end; ++o) {
    const int64_t ih0 = o / out_w * stride_h - g.pad_begin[0], iw0 = o % out_w * stride_w - g.pad_begin[1];
    const conv::Range cols = inside[static_cast<size_t>(o % out_w)];
    uint8_t* row = rows + (o - begin) * row_stride;
    if (tail > 0) {
      // At most 3 bytes (see gemm_depth): one 4-byte store ending the row, before the segments overwrite its
      // first bytes (a memset call per row cost as much as the row's copies on a 3-channel stem).
      const uint32_t pads = 0x01010101u * pad;
      std::memcpy(row + row_stride - 4, &pads, 4);
    }
    for (int64_t kh = 0; kh < kernel_h; ++kh) {
      const int64_t ih = ih0 + kh * dilation_h;
      uint8_t* dst = row + kh * segment;
      if (ih < 0 || ih >= in_h || cols.lo >= cols.hi) {
        std::memset(dst, pad, static_cast<size_t>(segment));
        continue;
      }
      const uint8_t* line = x + ih * in_w * channels;
      if (cols.lo > 0) std::memset(dst, pad, static_cast<size_t>(cols.lo * cg));
      if (contiguous) {
        copy_bytes(dst + cols.lo * cg, line + (iw0 + cols.lo) * channels, (cols.hi - cols.lo) * cg);
      } else {
        for (int64_t kw = cols.lo; kw < cols.hi; ++kw) {
          copy_bytes(dst + kw * cg, line + (iw0 + kw * dilation_w) * channels, cg);
        }
      }
      if (cols.hi < kernel_w) std::memset(dst + cols.hi * cg, pad, static_cast<size_t>((kernel_w - cols.hi) * cg));
    }
  }
}

// Writes rows [begin, end) of the im2col matrix of one group in row form, row_stride bytes apart: row o (an
// output position) holds, for each kernel offset (row-major over the kernel dims), the cg channels of the input
// position it reads from x in channels-last order (`channels` bytes per position, the group's first channel at x),
// or `pad` bytes there, then `pad` up to row_stride.
void im2row(const ConvGeometry& g, const uint8_t* x, int64_t channels, int64_t cg, uint8_t pad, int64_t begin,
            int64_t end, int64_t row_stride, uint8_t* rows) {
  if (g.spatial_rank() == 2) {
    im2row_2d(g, x, channels, cg, pad, begin, end, row_stride, rows);
    return;
  }
  const size_t rank = g.spatial_rank();
  const int64_t depth = cg * g.kernel_size;
  std::vector<int64_t> out(rank), base(rank), kernel(rank);
  for (int64_t o = begin; o < end; ++o) {
    int64_t rest = o;
    for (size_t d = rank; d-- > 0;) {
      out[d] = rest % g.out_dims[d];
      rest /= g.out_dims[d];
      base[d] = out[d] * g.strides[d] - g.pad_begin[d];
    }
    uint8_t* row = rows + (o - begin) * row_stride;
    std::fill(row + depth, row + row_stride, pad);
    std::fill(kernel.begin(), kernel.end(), 0);
    for (int64_t kk = 0; kk < g.kernel_size; ++kk) {
      int64_t position = 0;
      bool inside = true;
      for (size_t d = 0; d < rank; ++d) {
        const int64_t i = base[d] + kernel[d] * g.dilations[d];
        inside = inside && i >= 0 && i < g.in_dims[d];
        position = position * g.in_dims[d] + i;
      }
      uint8_t* dst = row + kk * cg;
      if (cg <= 16) {  // a few channels: inline byte copies beat a library call each
        if (inside) {
          const uint8_t* src = x + position * channels;
          for (int64_t c = 0; c < cg; ++c) dst[c] = src[c];
        } else {
          for (int64_t c = 0; c < cg; ++c) dst[c] = pad;
        }
      } else if (inside) {
        std::memcpy(dst, x + position * channels, static_cast<size_t>(cg));
      } else {
        std::memset(dst, pad, static_cast<size_t>(cg));
      }
      for (size_t d = rank; d-- > 0;) {  // next kernel offset
        if (++kernel[d] < g.kernel[d]) break;
        kernel[d] = 0;
      }
    }
  }
}

// Whether `constant` (packed at creation) holds the weights of this run: consumed (no tensor passed), or passed and
// still the same bytes and shape.
bool are_the_constant_weights(const Weights& w, const PackedWeights* constant) {
  return constant != nullptr &&
         (w.tensor == nullptr || (constant->source == w.tensor->raw_data() && constant->shape == w.shape));
}

// The weights as a tensor for the float paths: the one passed, else a copy of the bytes kept at creation (empty when
// neither is at hand). `copy` holds the copy.
const Tensor* weights_tensor(const Weights& w, const PackedWeights* constant, std::optional<Tensor>& copy) {
  if (w.tensor != nullptr) return w.tensor;
  if (constant == nullptr || constant->raw.empty()) return nullptr;
  copy.emplace(w.dtype, w.shape);
  std::memcpy(copy->raw_data(), constant->raw.data(), constant->raw.size());
  return &*copy;
}

// [0, total) cut into `parts` ranges of whole `unit`-sized pieces (the last piece may be short), spread evenly:
// range i is [begin(i), begin(i + 1)). How the convolutions below split positions and channels over threads.
struct UnitRanges {
  int64_t total = 0, unit = 1, parts = 1;
  int64_t units() const { return (total + unit - 1) / unit; }
  int64_t begin(int64_t i) const { return std::min(total, units() * i / parts * unit); }
  int64_t size(int64_t i) const { return begin(i + 1) - begin(i); }
  int64_t largest() const { return (units() + parts - 1) / parts * unit; }
};

// QLinearConv's output requantized by the accumulation itself (see accumulate_q8, accumulate_pointwise_nchw): y's
// bytes, signed or not, one scale per output channel, and y's zero point (an integer in y's range).
struct RequantizedOutput {
  uint8_t* y = nullptr;
  bool y_signed = false;
  const double* scales = nullptr;
  double zero_point = 0;
  bool small_sums = false;  // every sum with its bias within +-2^24 (conv::integer_sums_within_2_24)

  // Requantizes `channels` rows of `count` int32 sums (row c: output channel first_channel + c) into image n's
  // output planes (g's), at positions [first, first + count).
  void rows(const ConvGeometry& g, int64_t n, int64_t first_channel, int64_t channels, int64_t first, int64_t count,
            const int32_t* sums) const {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t channel = first_channel + c;
      q8_requantize(sums + c * count, count, scales + channel, 0, zero_point, y_signed,
                    y + (n * g.out_channels + channel) * g.out_size + first, small_sums);
    }
  }

  // Requantizes `count` positions x `channels` int32 sums (ld_sums apart; column c: output channel first_channel +
  // c, its bias bias[c] when bias is set) as they are, into `buffer` (in L1), and transposes those bytes into image
  // n's output planes at positions [first, first + count).
  void positions(const ConvGeometry& g, int64_t n, int64_t first_channel, int64_t channels, int64_t first,
                 int64_t count, const int32_t* sums, int64_t ld_sums, const int32_t* bias,
                 std::vector<uint8_t>& buffer) const {
    buffer.resize(static_cast<size_t>(count * channels));
    q8_requantize_channels(sums, count, channels, ld_sums, bias, scales + first_channel, zero_point, y_signed,
                           buffer.data(), channels, small_sums);
    transpose_bytes(count, channels, buffer.data(), channels,
                    y + (n * g.out_channels + first_channel) * g.out_size + first, g.out_size, 0x00);
  }

  // Whether the q8 GEMM's register tiles can requantize these `channels` rows themselves (q8_gemm's in-register
  // requantization): small sums, every scale a float below 64 in magnitude.
  bool moderate(int64_t channels) const { return small_sums && q8_requantize_scales_are_moderate(scales, channels); }

  // Makes `out` write these bytes (row i: output channel i, ldc positions apart) from y + offset.
  void gemm_output(Q8GemmOutput& out, int64_t offset) const {
    out.c_q8 = y + offset;
    out.q8_signed = y_signed;
    out.row_scales = scales;
    out.q8_zero_point = zero_point;
    out.q8_small_sums = small_sums;
  }
};

// Whether the q8 GEMM of depth k runs on AMX tiles.
bool gemm_runs_on_amx(int64_t k) { return std::strstr(q8_gemm_kernel_name_for_depth(k), "__amx") != nullptr; }

// The same sums on the q8 GEMM: per image, x goes channels-last; per group, its im2col matrix in row form (output
// positions x (kernel offset, channel); x itself for pointwise convolutions) is A and the group's weights (depth
// reordered alike) are B; the [out_size x mg] result is transposed into [N, M, out_size] with the bias added.
// Returns false, doing nothing, when a zero point lies outside its operand's range.
bool accumulate_q8(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Weights& w,
                   const std::vector<double>& w_zero_points, const int32_t* bias, const PackedWeights* constant,
                   Parallelism& pool, int32_t* acc, const RequantizedOutput* requantized = nullptr) {
  if (!linalg::fit_in_8bit_type({x_zero_point}, x.dtype()) || !linalg::fit_in_8bit_type(w_zero_points, w.dtype)) {
    return false;
  }
  const bool use_constant = are_the_constant_weights(w, constant) && constant->zero_points == w_zero_points &&
                            static_cast<int64_t>(constant->groups.size()) == g.group &&
                            q8_gemm_runs_packed(constant->groups[0]);
  check_argument(use_constant || w.tensor != nullptr, "the packed constant weights (packed for ",
                 constant != nullptr ? constant->groups[0].kernel_name() : "", ") do not fit this run");
  std::shared_ptr<const PackedWeights> own;
  if (!use_constant) own = pack_weights(*w.tensor, w_zero_points, g.group);
  const PackedWeights& weights = use_constant ? *constant : *own;
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  const int64_t depth = cg * g.kernel_size;
  const int64_t k = gemm_depth(depth, g.kernel_size);  // im2row's row stride
  // Every stage (the transposes, im2row, the GEMM, the requantization) on the calling thread where the AMX tiles
  // run the GEMM in a few microseconds: the four splits cost more than they save. INT8 MobileNetV2's projections
  // on two threads (Xeon, per-node minima): 576 -> 96 channels at 14x14 39 -> 34 us, 192 -> 32 at 28x28 53 -> 44.
  SerialParallelism serial;
  Parallelism& parallelism = q8_gemm_on_amx_is_small(g.out_size, mg, k) ? serial : pool;
  const bool pointwise = g.is_pointwise();
  // An int8 x goes channels-last as uint8 (each byte ^ 0x80 = x + 128, zero point + 128): the same differences
  // x - zero point, and a uint8 A the GEMM reads in place (int8 A it repacks strip by strip, 7% of INT8 ResNet-50).
  const bool flip = x.dtype() == DType::kInt8;
  const int32_t a_zero_point = static_cast<int32_t>(x_zero_point) + (flip ? 128 : 0);
  const uint8_t pad = static_cast<uint8_t>(a_zero_point);
  // Tasks of kBlock output positions. Requantized into y with at least two blocks per thread, each block goes
  // through im2row, the GEMM, the requantization and the transpose into y's planes on one thread while its rows and
  // sums stay in L2 (blocked); otherwise each stage runs over the whole image, split over the pool by itself.
  constexpr int64_t kBlock = 256, kChannelUnit = 16;
  const int64_t position_blocks = (g.out_size + kBlock - 1) / kBlock;
  const int threads = parallelism.thread_count();
  const bool blocked = requantized != nullptr && position_blocks >= 2 * threads;
  // Small planes on several threads, on the AMX tiles: each thread makes the whole A itself (x channels-last and
  // its im2row rows, a few hundred KB) and takes its share of the output channels through the GEMM and the
  // requantization, all in its own caches; split by stage, each thread's tiles read the rows the other core wrote,
  // and the 256-channel 3x3 convolution at 14x14 of INT8 ResNet-50 ran no faster on two threads than on one.
  const int64_t strip_columns = q8_gemm_strip_columns(k);
  // Not for strided 1x1 convolutions, whose input (4x their output at stride 2) each thread would transpose whole
  // (INT8 ResNet-50's 512 -> 1024 at 28x28 -> 14x14, two threads: 249 -> 305 us).
  const bool replicated = requantized != nullptr && !blocked && threads > 1 && g.group == 1 &&
                          (pointwise || g.kernel_size > 1) && gemm_runs_on_amx(k) && mg >= 2 * threads * strip_columns;
  // Scratch written whole before it is read: left uninitialized, from the buffer pool (large blocks are reused
  // from run to run instead of being mapped and faulted in again).
  // (The replicated path uses per-thread buffers of its own.)
  Tensor channels_last_buffer = Tensor::uninitialized(DType::kUint8, {replicated ? 0 : g.in_channels * g.in_size});
  Tensor rows_buffer = Tensor::uninitialized(DType::kUint8, {pointwise || blocked || replicated ? 0 : k * g.out_size});
  Tensor product_buffer = Tensor::uninitialized(DType::kInt32, {blocked || replicated ? 0 : g.out_size * mg});
  uint8_t* const channels_last = channels_last_buffer.data<uint8_t>();
  uint8_t* const rows = rows_buffer.data<uint8_t>();
  int32_t* const product = product_buffer.data<int32_t>();
  for (int64_t n = 0; n < g.batch; ++n) {
    if (replicated) {
      const UnitRanges columns{mg, strip_columns, threads};
      const uint8_t* const xn = x.data<uint8_t>() + n * g.in_channels * g.in_size;
      parallelism.parallel_for(threads, [&](int64_t begin, int64_t end) {
        thread_local std::vector<uint8_t> own_channels_last, own_rows, block_bytes;
        thread_local std::vector<int32_t> sums;
        for (int64_t part = begin; part < end; ++part) {
          const int64_t c0 = columns.begin(part), count = columns.size(part);
          if (count == 0) continue;
          own_channels_last.resize(static_cast<size_t>(g.in_channels * g.in_size));
          transpose_bytes(g.in_channels, g.in_size, xn, g.in_size, own_channels_last.data(), g.in_channels,
                          flip ? 0x80 : 0x00);
          const uint8_t* a = own_channels_last.data();
          int64_t lda = g.in_channels;
          if (!pointwise) {
            own_rows.resize(static_cast<size_t>(k * g.out_size));
            im2row(g, a, g.in_channels, cg, pad, 0, g.out_size, k, own_rows.data());
            a = own_rows.data();
            lda = k;
          }
          sums.resize(static_cast<size_t>(g.out_size * mg));
          Q8GemmOutput out;
          out.c_s32 = sums.data();
          out.ldc = mg;
          out.first_column = c0;
          out.last_column = c0 + count;
          q8_gemm(g.out_size, mg, k, a, lda, false, a_zero_point, weights.groups[0], out, nullptr);
          requantized->positions(g, n, c0, count, 0, g.out_size, sums.data() + c0, mg,
                                 bias != nullptr ? bias + c0 : nullptr, block_bytes);
        }
      });
      continue;
    }
    // x to channels-last, the spatial positions split over the pool in units of 16 (each thread writes whole rows
    // of it; units of 256 left a 14x14 plane to one thread).
    parallelism.parallel_for((g.in_size + 15) / 16, [&](int64_t begin, int64_t end) {
      const int64_t first = begin * 16, last = std::min(g.in_size, end * 16);
      transpose_bytes(g.in_channels, last - first, x.data<uint8_t>() + n * g.in_channels * g.in_size + first, g.in_size,
                      channels_last + first * g.in_channels, g.in_channels, flip ? 0x80 : 0x00);
    });
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const uint8_t* a = channels_last + grp * cg;
      int64_t lda = g.in_channels;
      const int32_t* group_bias = bias != nullptr ? bias + grp * mg : nullptr;
      if (blocked) {
        // Measured on INT8 ResNet-50 (Xeon, per-node minima of alternating runs) against the stages over whole
        // images: the 7x7 stem 1260-1297 -> 1186-1202 us and the 3x3 layers on 64 channels at 56x56 343-383 ->
        // 295-307 at one thread, but the layer after each of those a little slower, the whole model level (eight
        // rounds: 15.07 -> 14.98 ms); at two threads the model 10.15 -> 9.78 ms (six rounds).
        // On several threads, blocks of whole 32-position strips spread evenly over a multiple of the thread count
        // (at most kBlock positions each): 256-position blocks left a 28x28 plane's 784 positions split 512 : 272.
        const UnitRanges blocks = threads > 1
                                      ? UnitRanges{g.out_size, 32, (position_blocks + threads - 1) / threads * threads}
                                      : UnitRanges{g.out_size, kBlock, position_blocks};
        parallelism.parallel_for_balanced(blocks.parts, [&](int64_t begin, int64_t end) {
          thread_local std::vector<uint8_t> block_rows, block_bytes;
          thread_local std::vector<int32_t> block_sums;
          for (int64_t block = begin; block < end; ++block) {
            const int64_t first = blocks.begin(block), count = blocks.size(block);
            if (count == 0) continue;
            const uint8_t* block_a = a + first * g.in_channels;
            int64_t block_lda = g.in_channels;
            if (!pointwise) {
              block_rows.resize(static_cast<size_t>(count * k));
              im2row(g, a, g.in_channels, cg, pad, first, first + count, k, block_rows.data());
              block_a = block_rows.data();
              block_lda = k;
            }
            block_sums.resize(static_cast<size_t>(count * mg));
            Q8GemmOutput out;
            out.c_s32 = block_sums.data();
            out.ldc = mg;
            q8_gemm(count, mg, k, block_a, block_lda, false, a_zero_point, weights.groups[static_cast<size_t>(grp)],
                    out, nullptr);
            requantized->positions(g, n, grp * mg, mg, first, count, block_sums.data(), mg, group_bias, block_bytes);
          }
        });
        continue;
      }
      if (!pointwise) {
        const auto fill = [&](int64_t begin, int64_t end) {
          im2row(g, a, g.in_channels, cg, pad, begin, end, k, rows + begin * k);
        };
        if (depth * g.out_size >= (int64_t{1} << 14))
          parallelism.parallel_for(g.out_size, fill);
        else
          fill(0, g.out_size);
        a = rows;
        lda = k;
      }
      Q8GemmOutput out;
      out.c_s32 = product;
      out.ldc = mg;
      q8_gemm(g.out_size, mg, k, a, lda, false, a_zero_point, weights.groups[static_cast<size_t>(grp)], out,
              &parallelism);
      // Back to channel planes in tasks of kBlock output positions x a range of channels (the channels split in
      // 16s where the positions alone make fewer tasks than threads: small planes). Requantized, each task's sums
      // become bytes as they are (positions x channels, a register of channels at a time with their biases and
      // scales) in a buffer in L1, transposed from there into y's planes: transposing the int32 sums first, then
      // adding the bias and requantizing plane rows, cost INT8 ResNet-50 (Xeon, one thread) ~10% of its time.
      UnitRanges channels{mg, kChannelUnit, 1};
      if (position_blocks < threads)
        channels.parts = std::min(channels.units(), (threads + position_blocks - 1) / position_blocks);
      parallelism.parallel_for(position_blocks * channels.parts, [&](int64_t begin, int64_t end) {
        thread_local std::vector<uint8_t> block;
        for (int64_t task = begin; task < end; ++task) {
          const int64_t first = task / channels.parts * kBlock, count = std::min(g.out_size, first + kBlock) - first;
          const int64_t c0 = channels.begin(task % channels.parts), c1 = c0 + channels.size(task % channels.parts);
          const int32_t* src = product + first * mg + c0;
          const int32_t* add = group_bias != nullptr ? group_bias + c0 : nullptr;
          if (requantized == nullptr) {
            transpose_add_s32(count, c1 - c0, src, mg, add,
                              acc + (n * g.out_channels + grp * mg + c0) * g.out_size + first, g.out_size);
            continue;
          }
          requantized->positions(g, n, grp * mg + c0, c1 - c0, first, count, src, mg, add, block);
        }
      });
    }
  }
  return true;
}

// Output planes up to this many positions are requantized by the pointwise GEMM's tiles themselves (see
// make_qlinear_conv), as one GEMM over the whole image.
constexpr int64_t kFusedRequantizeMaxPositions = 256;
// Larger planes: where the GEMM runs on AMX tiles (whose sums pass through a buffer in L1 anyway), the tiles still
// requantize: in one GEMM over the whole image when it (channels x positions bytes) is at most this large, else
// block by block (accumulate_pointwise_nchw), each block's B packed while it stays in L2. Measured on INT8 ResNet-50
// (Xeon with AMX, one thread, per-node minima of five alternating runs): against int32 sums of a block requantized
// after the GEMM, 64 -> 256 channels on 56x56 400-417 -> 346-368 us in blocks, 316-345 as a whole image (200 KB);
// 256 -> 64 (800 KB) 337-361 as a whole image, 299-317 in blocks; all nodes 17.7 -> 17.1-17.4 ms. On register tiles
// (AVX-512 VNNI, AVX2) the sums of a block go to L2 and are requantized row by row (see make_qlinear_conv).
constexpr int64_t kWholeImageMaxBytes = 256 << 10;
// Positions per block of the blocked images, at most.
constexpr int64_t kPointwiseBlock = 256;

// The position blocks of a large plane's pointwise convolution. On one thread, kPointwiseBlock positions each (the
// last one shorter). On more, whole 32-position column strips of the q8 GEMM (the widest tile's) spread evenly over
// a multiple of the thread count of blocks, at most kPointwiseBlock positions each: fixed blocks left 28x28 planes
// (784 positions: 256, 256, 256, 16) split 512 : 272 between two threads (INT8 ResNet-50 at two threads 16.1-16.7 ->
// 15.6-15.8 ms); on one thread even blocks measured 0.1 ms slower.
UnitRanges position_blocks(int64_t plane, int threads) {
  constexpr int64_t kStrip = 32;
  const int64_t blocks = (plane + kPointwiseBlock - 1) / kPointwiseBlock;
  const UnitRanges strips{plane, kStrip, 1};
  if (threads <= 1 || strips.units() < threads) return {plane, kPointwiseBlock, blocks};
  return {plane, kStrip, std::min(strips.units(), (blocks + threads - 1) / threads * threads)};
}

// Whether a pointwise convolution runs better with output positions as the GEMM's rows (accumulate_q8: x
// channels-last as A, the packed weights as B) than in NCHW (the weights as A, x packed per run as B): on small
// planes that reduce channels. Measured on INT8 ResNet-50 (Zen 4, one thread, per-layer minima): 14x14 1024 -> 256
// 322 -> 289 us, 1024 -> 512 622 -> 563, 7x7 2048 -> 512 379 -> 292; but 14x14 256 -> 1024 365 -> 395 and 7x7
// 512 -> 2048 level (expanding layers write more output, which that path transposes).
bool rows_suit_better(const ConvGeometry& g) { return g.out_size <= 196 && g.in_channels >= g.out_channels; }

// Whether a pointwise convolution whose constant weights were packed for the narrow-B tile (7-bit weights on AVX2
// without VNNI: q8_gemm_b7_ukernel_4x16__avx2, ~1.4x the int16 tile's rate) runs better with positions as rows, the
// weights as that B, than in NCHW (x as an int16 B): at 64 or more channels in and out. Measured on reduced-range
// INT8 ResNet-50 (AMD EPYC Zen 3, one thread, per-node minima of two alternating runs): its sum 67.6 -> 58.3 ms
// (7x7 512 -> 2048 1516 -> 648 us, 28x28 512 -> 256 1865 -> 1290, 56x56 256 -> 128 2048 -> 1560); MobileNetV2's
// 7x7 layers too (320 -> 1280 1059 -> 270 us), but its shallow expansions slower (16 -> 96 at 112x112 975 -> 1432,
// 24 -> 144 at 56x56 426 -> 584, 32 -> 192 at 28x28 166 -> 229) and its 56x56 projections to 24 channels 20-25 us.
// The same holds on planes of at most 14x14 for weights packed as bytes for the int16 tile (symmetric 8-bit weights
// on AVX2 without VNNI: q8_gemm_b8_ukernel_4x16__avx2; in NCHW they would be an int16 A packed on every run).
// Measured on INT8 ResNet-50 and MobileNetV2 (static, per-channel symmetric int8 weights; AMD EPYC Zen 3, one
// thread, per-node minima of alternating runs): 7x7 512 -> 2048 1423-1450 -> 778-785 us, 14x14 256 -> 1024 900-905
// -> 816-823, MobileNetV2's 7x7 320 -> 1280 583 -> 322 and 160 -> 960 237-240 -> 134, 14x14 96 -> 576 223 -> 210;
// but at 28x28 and 56x56 slower (512 -> 128 at 28x28 895 -> 987, 256 -> 64 at 56x56 1005 -> 1272-1392).
bool narrow_weights_suit_rows(const ConvGeometry& g, const PackedWeights* constant) {
  constexpr int64_t kMinChannels = 64, kByteWeightsMaxPositions = 196;
  if (g.in_channels < kMinChannels || g.out_channels < kMinChannels || constant == nullptr ||
      constant->groups.empty()) {
    return false;
  }
  return q8_gemm_packed_for_narrow_b(constant->groups[0]) ||
         (g.out_size <= kByteWeightsMaxPositions && q8_gemm_packed_for_byte_b(constant->groups[0]));
}

// A pointwise convolution (1x1 kernel, unit strides, no padding, one group) straight in NCHW: per image, the
// weights [M, C] are A (one zero point for all output channels) and the image [C, H*W] is B, so the int32 product
// [M, H*W] already is the output's channel planes (no transposes in or out). False, doing nothing, when the
// convolution is not pointwise, the weight zero points differ between channels, a zero point lies outside its
// type, or the weight bytes are not at hand. With `requantized`, the GEMM writes QLinearConv's bytes instead.
bool accumulate_pointwise_nchw(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Weights& w,
                               const std::vector<double>& w_zero_points, const int32_t* bias,
                               const PackedWeights* constant, Parallelism& parallelism, int32_t* acc,
                               const RequantizedOutput* requantized = nullptr) {
  if (g.group != 1 || !g.is_pointwise() || w_zero_points.empty() ||
      std::any_of(w_zero_points.begin(), w_zero_points.end(), [&](double z) { return z != w_zero_points[0]; }) ||
      !linalg::fit_in_8bit_type({x_zero_point}, x.dtype()) || !linalg::fit_in_8bit_type(w_zero_points, w.dtype)) {
    return false;
  }
  const uint8_t* weights = w.tensor != nullptr                             ? w.tensor->data<uint8_t>()
                           : constant != nullptr && !constant->raw.empty() ? constant->raw.data()
                                                                           : nullptr;
  if (weights == nullptr) return false;
  bool weights_signed = w.dtype == DType::kInt8;
  int32_t weights_zero_point = static_cast<int32_t>(w_zero_points[0]);
  const int32_t* weights_row_sums = nullptr;
  bool narrow_a = false;
  if (weights_signed && are_the_constant_weights(w, constant) && !constant->raw_as_uint8.empty()) {
    weights = constant->raw_as_uint8.data();  // the same differences w - zero point, as uint8
    weights_row_sums = constant->raw_as_uint8_row_sums.data();
    weights_signed = false;
    weights_zero_point += constant->raw_as_uint8_offset;
    narrow_a = constant->raw_as_uint8_narrow;
  }
  const auto pack_image = narrow_a ? pack_q8_gemm_b_for_narrow_a : pack_q8_gemm_b;
  const int64_t channels = g.in_channels, positions = g.out_size, outputs = g.out_channels;
  const int32_t xz = static_cast<int32_t>(x_zero_point);
  const bool amx = gemm_runs_on_amx(channels);
  if (requantized != nullptr && positions > kFusedRequantizeMaxPositions &&
      !(amx && channels * positions <= kWholeImageMaxBytes)) {
    // Large planes: blocks of positions, one per task, each packed and GEMM'd serially; on AMX, and on the AVX2
    // tiles that requantize from their registers (q8_gemm_requantizes_in_registers; INT8 MobileNetV2 on Zen 3, one
    // thread, layers alone: 16 -> 96 at 112x112 763-782 -> 687-690 us, 32 -> 16 237-239 -> 221-222), its tiles
    // requantize into y, else into int32 sums kept in L2 and requantized from there row by row (the AVX-512 VNNI
    // tiles' requantization through their scratch is slower on such planes, and whole int32 planes go out to memory
    // and back).
    const bool tiles_requantize = amx || (q8_gemm_requantizes_in_registers(channels) && requantized->moderate(outputs));
    const UnitRanges blocks = position_blocks(positions, parallelism.thread_count());
    parallelism.parallel_for_balanced(g.batch * blocks.parts, [&](int64_t begin, int64_t end) {
      // Per thread and kept: a fresh vector per call (up to 2 MB) was zero-filled, and mapped and faulted in anew.
      thread_local std::vector<int32_t> sums;
      if (!tiles_requantize) sums.resize(std::max(sums.size(), static_cast<size_t>(outputs * blocks.largest())));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t n = task / blocks.parts, first = blocks.begin(task % blocks.parts);
        const int64_t count = blocks.size(task % blocks.parts);
        const PackedQ8GemmB image = pack_image(x.dtype() == DType::kInt8, false, channels, count,
                                               x.data<uint8_t>() + n * channels * positions + first, positions, &xz, 1);
        Q8GemmOutput out;
        out.row_bias = bias;
        out.a_row_sums = weights_row_sums;
        if (tiles_requantize) {
          out.ldc = positions;
          requantized->gemm_output(out, n * outputs * positions + first);
        } else {
          out.ldc = count;
          out.c_s32 = sums.data();
        }
        q8_gemm(outputs, count, channels, weights, channels, weights_signed, weights_zero_point, image, out, nullptr);
        if (!tiles_requantize) requantized->rows(g, n, 0, outputs, first, count, sums.data());
      }
    });
    return true;
  }
  for (int64_t n = 0; n < g.batch; ++n) {
    const PackedQ8GemmB image = pack_image(x.dtype() == DType::kInt8, false, channels, positions,
                                           x.data<uint8_t>() + n * channels * positions, positions, &xz, 1);
    Q8GemmOutput out;
    out.ldc = positions;
    out.row_bias = bias;
    out.a_row_sums = weights_row_sums;
    if (requantized != nullptr) {
      requantized->gemm_output(out, n * outputs * positions);
    } else {
      out.c_s32 = acc + n * outputs * positions;
    }
    q8_gemm(outputs, positions, channels, weights, channels, weights_signed, weights_zero_point, image, out,
            &parallelism);
  }
  return true;
}

// The int32 sums [N, M, out_size] into acc: the q8 GEMM, or the widened loops for zero points outside the types.
// With `requantized`, the im2row path writes QLinearConv's bytes itself (returning true: acc untouched); the others
// always fill acc (returning false).
bool accumulate(const ConvGeometry& g, const Tensor& x, double x_zero_point, const Weights& w,
                const std::vector<double>& w_zero_points, const int32_t* bias, const PackedWeights* constant,
                Parallelism& parallelism, int32_t* acc, const RequantizedOutput* requantized = nullptr) {
  if (g.in_channels > 0 && !rows_suit_better(g) && !narrow_weights_suit_rows(g, constant) &&
      accumulate_pointwise_nchw(g, x, x_zero_point, w, w_zero_points, bias, constant, parallelism, acc)) {
    return false;
  }
  // Depthwise and shallow convolutions through the float kernels (exact), with the weights as given or kept raw.
  if (conv::integer_conv_runs_in_float(g, x.dtype(), x_zero_point, w.dtype, w_zero_points)) {
    std::optional<Tensor> copy;
    if (const Tensor* weights = weights_tensor(w, constant, copy)) {
      conv::integer_conv_sums_in_float(g, x, x_zero_point, *weights, w_zero_points, bias, parallelism, acc);
      return false;
    }
  }
  if (g.kernel_size > 0 && g.in_group_channels() > 0 &&
      group_fits_q8_gemm(g.out_group_channels(), g.in_group_channels() * g.kernel_size) &&
      accumulate_q8(g, x, x_zero_point, w, w_zero_points, bias, constant, parallelism, acc, requantized)) {
    return requantized != nullptr;
  }
  check_argument(w.tensor != nullptr, "zero points outside the operands' types need the consumed weights");
  accumulate_widened(g, x, x_zero_point, *w.tensor, w_zero_points, bias, acc);
  return false;
}

std::vector<int64_t> output_shape(const ConvGeometry& g) {
  std::vector<int64_t> shape{g.batch, g.out_channels};
  shape.insert(shape.end(), g.out_dims.begin(), g.out_dims.end());
  return shape;
}

const Tensor* optional_input(KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

double scalar_parameter(const Tensor* tensor, const char* what) {
  const std::vector<double> values = linalg::tensor_values(tensor);
  check_argument(values.size() == 1, what, " must hold one value, got ", tensor ? tensor->description() : "");
  return values[0];
}

std::unique_ptr<Kernel> make_conv_integer(const KernelInfo& info) {
  const ConvAttributes attrs = conv::parse_conv_attributes(info.node, false);
  const std::shared_ptr<const PackedWeights> constant = pack_constant_weights(info, 1, 3, 2, attrs.group);
  return make_kernel([attrs, constant](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Weights w = weights_input(ctx, 1, constant.get());
    check_argument(linalg::is_int8_type(x.dtype()) && linalg::is_int8_type(w.dtype),
                   "ConvInteger needs int8/uint8 inputs, got x ", tensor_text(x), " and w ", w.description());
    const ConvGeometry g = conv::conv_geometry(attrs, x.shape(), w.shape, "ConvInteger");
    const double x_zp = scalar_parameter(optional_input(ctx, 2), "ConvInteger x_zero_point");
    const std::vector<double> w_zp = linalg::expand_parameter(linalg::tensor_values(optional_input(ctx, 3)),
                                                              g.out_channels, "ConvInteger w_zero_point");
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kInt32, output_shape(g));
    if (y.element_count() == 0) return;
    accumulate(g, x, x_zp, w, w_zp, nullptr, constant.get(), ctx.parallelism(), y.data<int32_t>());
  });
}

// QLinearConv's requantization scale per output channel: x_scale * w_scale[m] / y_scale, each step rounded in the
// scales' dtype as the reference does.
std::vector<double> channel_scales(double x_scale, const std::vector<double>& w_scale, double y_scale,
                                   DType scale_dtype) {
  std::vector<double> scales(w_scale.size());
  for (size_t m = 0; m < scales.size(); ++m) {
    scales[m] =
        linalg::round_to_dtype(linalg::round_to_dtype(x_scale * w_scale[m], scale_dtype) / y_scale, scale_dtype);
  }
  return scales;
}

// What QLinearConv computes once at creation from constant inputs instead of on every run: the channel scales
// (when x_scale, w and its scale and y_scale are constants) and, for a depthwise convolution with constant weights
// and weight zero points, the weights widened to float for the float path. A small layer (MobileNetV2's 960
// channels at 7x7) otherwise spent a tenth of its time on them.
struct ConstantParameters {
  std::vector<double> scales;  // empty: computed per run
  std::shared_ptr<const Tensor> widened_w;
  const void* w_source = nullptr;     // the weights widened_w was made from
  std::vector<double> w_zero_points;  // and their zero points, one per output channel

  // widened_w when it was made from this run's weights and zero points, else nullptr.
  const Tensor* widened_for(const Tensor* w, const std::vector<double>& zero_points) const {
    return widened_w != nullptr && w != nullptr && w->raw_data() == w_source && zero_points == w_zero_points
               ? widened_w.get()
               : nullptr;
  }
};

ConstantParameters constant_parameters(const KernelInfo& info, int64_t group) {
  ConstantParameters constants;
  const Tensor* w = info.constant_input(3);
  if (w == nullptr || w->rank() < 3 || !linalg::is_int8_type(w->dtype()) || w->dim(0) == 0) return constants;
  const int64_t out_channels = w->dim(0);
  const Tensor* x_scale = info.constant_input(1);
  const Tensor* w_scale = info.constant_input(4);
  const Tensor* y_scale = info.constant_input(6);
  if (x_scale != nullptr && w_scale != nullptr && y_scale != nullptr && x_scale->element_count() == 1 &&
      y_scale->element_count() == 1 && (w_scale->element_count() == 1 || w_scale->element_count() == out_channels)) {
    constants.scales = channel_scales(linalg::tensor_values(x_scale)[0],
                                      linalg::expand_parameter(linalg::tensor_values(w_scale), out_channels, "w_scale"),
                                      linalg::tensor_values(y_scale)[0], x_scale->dtype());
  }
  const bool depthwise = group == out_channels && w->dim(1) == 1;
  const Tensor* w_zp = info.node.has_input(5) ? info.constant_input(5) : nullptr;
  if (depthwise && (!info.node.has_input(5) || w_zp != nullptr)) {
    const std::vector<double> values = linalg::tensor_values(w_zp);
    if (values.size() == 1 || static_cast<int64_t>(values.size()) == out_channels) {
      constants.w_zero_points = linalg::expand_parameter(values, out_channels, "w_zero_point");
      SerialParallelism serial;
      constants.widened_w =
          std::make_shared<const Tensor>(conv::integer_conv_widened_weights(*w, constants.w_zero_points, serial));
      constants.w_source = w->raw_data();
    }
  }
  return constants;
}

std::unique_ptr<Kernel> make_qlinear_conv(const KernelInfo& info) {
  const ConvAttributes attrs = conv::parse_conv_attributes(info.node, false);
  const std::shared_ptr<const PackedWeights> constant = pack_constant_weights(info, 3, 5, 2, attrs.group);
  const auto constants = std::make_shared<const ConstantParameters>(constant_parameters(info, attrs.group));
  return make_kernel([attrs, constant, constants](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Weights w = weights_input(ctx, 3, constant.get());
    check_argument(linalg::is_int8_type(x.dtype()) && linalg::is_int8_type(w.dtype),
                   "QLinearConv needs int8/uint8 inputs, got x ", tensor_text(x), " and w ", w.description());
    const ConvGeometry g = conv::conv_geometry(attrs, x.shape(), w.shape, "QLinearConv");
    const double x_scale = scalar_parameter(&ctx.input(1), "QLinearConv x_scale");
    const double x_zp = scalar_parameter(optional_input(ctx, 2), "QLinearConv x_zero_point");
    const std::vector<double> w_scale =
        linalg::expand_parameter(linalg::tensor_values(&ctx.input(4)), g.out_channels, "QLinearConv w_scale");
    const std::vector<double> w_zp = linalg::expand_parameter(linalg::tensor_values(optional_input(ctx, 5)),
                                                              g.out_channels, "QLinearConv w_zero_point");
    const double y_scale = scalar_parameter(&ctx.input(6), "QLinearConv y_scale");
    const double y_zp = scalar_parameter(optional_input(ctx, 7), "QLinearConv y_zero_point");
    const DType out_dtype = ctx.has_input(7) ? ctx.input(7).dtype() : x.dtype();
    check_argument(linalg::is_int8_type(out_dtype), "QLinearConv y_zero_point must be int8 or uint8");
    const int32_t* bias = nullptr;
    if (ctx.has_input(8)) {
      const Tensor& b = ctx.input(8);
      check_argument(b.dtype() == DType::kInt32 && b.element_count() == g.out_channels, "QLinearConv bias B ",
                     tensor_text(b), " must be int32 with ", g.out_channels, " elements");
      bias = b.data<int32_t>();
    }
    // Every path below writes each byte of y (requantized blocks, planes or the int32 sums' planes).
    Tensor& y = ctx.allocate_output_uninitialized(0, out_dtype, output_shape(g));
    if (y.element_count() == 0) return;
    // One scale per output channel, rounded in the scales' dtype as the reference does (computed at creation when
    // its inputs are constants).
    std::vector<double> run_scales;
    if (static_cast<int64_t>(constants->scales.size()) != g.out_channels)
      run_scales = channel_scales(x_scale, w_scale, y_scale, ctx.input(1).dtype());
    const std::vector<double>& scales = run_scales.empty() ? constants->scales : run_scales;
    // Where y's zero point is an integer in its type (always, for a valid model), the accumulation requantizes
    // into y's bytes itself, path by path below; otherwise every path goes through int32 sums.
    const bool integer_zero_point = std::nearbyint(y_zp) == y_zp && linalg::fit_in_8bit_type({y_zp}, out_dtype);
    const RequantizedOutput requantized{static_cast<uint8_t*>(y.raw_data()), out_dtype == DType::kInt8, scales.data(),
                                        y_zp,
                                        conv::integer_sums_within_2_24(g.in_group_channels() * g.kernel_size, x.dtype(),
                                                                       x_zp, w.dtype, w_zp, bias, g.out_channels)};
    // Pointwise: requantized by the GEMM (the same bytes, no int32 planes). Small planes in its tiles: measured on
    // INT8 MobileNetV2 (Zen 4, one thread, sums of per-layer minima per plane size, against int32 planes with the
    // bias added in the GEMM): 7x7 1046 -> 915 us, 14x14 1327 -> 1266, but 28x28 506 -> 548, 56x56 884 -> 978 and
    // 112x112 928 -> 1032 (the tiles' scattered byte rows cost more there than one streaming pass), so larger
    // planes go block by block through int32 sums in L2 (INT8 MobileNetV2 6.9-7.3 -> 6.5-6.7 ms against whole
    // int32 planes and one pass; ResNet-50 level), except on AMX (see kWholeImageMaxBytes).
    if (integer_zero_point && g.in_channels > 0 && !rows_suit_better(g) &&
        !narrow_weights_suit_rows(g, constant.get()) &&
        accumulate_pointwise_nchw(g, x, x_zp, w, w_zp, bias, constant.get(), ctx.parallelism(), nullptr,
                                  &requantized)) {
      return;
    }
    // Depthwise and shallow convolutions in float (as accumulate runs them; pointwise ones stay on the q8 GEMM):
    // requantized plane by plane from the float sums.
    if (integer_zero_point && !(g.group == 1 && g.is_pointwise()) &&
        conv::integer_conv_runs_in_float(g, x.dtype(), x_zp, w.dtype, w_zp)) {
      std::optional<Tensor> copy;
      if (const Tensor* weights = weights_tensor(w, constant.get(), copy)) {
        conv::integer_conv_requantized_in_float(
            g, x, x_zp, *weights, w_zp, bias, scales, y_zp, out_dtype == DType::kInt8, requantized.small_sums,
            ctx.parallelism(), static_cast<uint8_t*>(y.raw_data()), constants->widened_for(weights, w_zp));
        return;
      }
    }
    Tensor acc_buffer = Tensor::uninitialized(DType::kInt32, {y.element_count()});
    int32_t* const acc = acc_buffer.data<int32_t>();
    // The im2row path requantizes its own blocks of output positions.
    if (accumulate(g, x, x_zp, w, w_zp, bias, constant.get(), ctx.parallelism(), acc,
                   integer_zero_point ? &requantized : nullptr)) {
      return;
    }
    // Each output plane requantized with its channel's scale; the planes split over the pool.
    ctx.parallelism().parallel_for(g.batch * g.out_channels, [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        const double& scale = scales[static_cast<size_t>(plane % g.out_channels)];
        linalg::requantize(acc + plane * g.out_size, g.out_size, &scale, 0, y_zp, y, plane * g.out_size);
      }
    });
  });
}

void infer_conv_integer(InferenceContext& context) { conv::infer_conv_output(context, 1, DType::kInt32); }

void infer_qlinear_conv(InferenceContext& context) {
  const TypeInfo* zp = context.input_type(7);
  const TypeInfo* x = context.input_type(0);
  const DType dtype = zp != nullptr && zp->is_tensor() ? zp->elem_type : (x ? x->elem_type : DType::kUndefined);
  conv::infer_conv_output(context, 3, dtype);
}

const RegisterOp kConvInteger{{.op_type = "ConvInteger",
                               .since_version = 10,
                               .last_version = INT_MAX,
                               .factory = make_conv_integer,
                               .infer = infer_conv_integer}};
const RegisterOp kQLinearConv{{.op_type = "QLinearConv",
                               .since_version = 10,
                               .last_version = INT_MAX,
                               .factory = make_qlinear_conv,
                               .infer = infer_qlinear_conv}};

}  // namespace
}  // namespace tessera

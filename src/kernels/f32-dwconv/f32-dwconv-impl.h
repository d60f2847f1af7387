// The f32-dwconv loop, instantiated by each ISA file (f32-dwconv-avx512.cpp, ...). Internal linkage only;
// include only from those files.
#pragma once

#include <algorithm>

#include "kernels/f32-dwconv/f32-dwconv-table.h"
#include "kernels/simd_vec.h"

namespace tessera::f32_dwconv {
namespace {

// dst[j] = src[2 j] for j in [lo, hi): the column phase of a stride-2 convolution, one register of outputs at a
// time from two loads and one shuffle. The loads also read the odd float after the register's last even one,
// src[2 (j + kLanes) - 1], so a register runs only while src[2 (j + kLanes)] is still an element (j + kLanes <
// hi); src[2 (hi - 1)] may be the last float of the plane (ASan found the read past it).
inline void deinterleave_even(const float* src, float* dst, int64_t lo, int64_t hi) {
  int64_t j = lo;
  for (; j + simd::kLanes < hi; j += simd::kLanes) simd::store(dst + j, simd::even_lanes(src + 2 * j));
  for (; j < hi; ++j) dst[j] = src[2 * j];
}

// dst[0, count) = 0, in registers (a library call costs more than these short fills).
inline void fill_zero(float* dst, int64_t count) {
  int64_t j = 0;
  for (; j + simd::kLanes <= count; j += simd::kLanes) simd::store(dst + j, simd::Vec{});
  for (; j < count; ++j) dst[j] = 0.0f;
}

// Fills scratch with the phase-split padded plane: phase q, row r, column j holds
// x[r - pad_top][j * stride_w + q - pad_left] (zero outside x).
void build_phases(const DwConv2dF32Params& p, const PhaseLayout& layout, const float* x, float* scratch) {
  for (int64_t q = 0; q < layout.phases; ++q) {
    // Columns j with 0 <= j * stride_w + q - pad_left < in_w: [j_lo, j_hi).
    const int64_t first = p.pad_left - q;  // j * stride_w >= first
    const int64_t j_lo =
        std::clamp<int64_t>(first <= 0 ? 0 : (first + p.stride_w - 1) / p.stride_w, 0, layout.phase_width);
    const int64_t last = p.in_w + p.pad_left - q;  // j * stride_w < last
    const int64_t j_hi =
        std::clamp<int64_t>(last <= 0 ? 0 : (last + p.stride_w - 1) / p.stride_w, j_lo, layout.phase_width);
    for (int64_t r = 0; r < layout.rows; ++r) {
      float* dst = scratch + (q * layout.rows + r) * layout.phase_width;
      const int64_t ih = r - p.pad_top;
      if (ih < 0 || ih >= p.in_h) {
        std::fill(dst, dst + layout.phase_width, 0.0f);
        continue;
      }
      std::fill(dst, dst + j_lo, 0.0f);
      const float* src = x + ih * p.in_w + q - p.pad_left;
      if (p.stride_w == 1) {
        std::copy(src + j_lo, src + j_hi, dst + j_lo);
      } else if (p.stride_w == 2) {
        deinterleave_even(src, dst, j_lo, j_hi);
      } else {
        for (int64_t j = j_lo; j < j_hi; ++j) dst[j] = src[j * p.stride_w];
      }
      std::fill(dst + j_hi, dst + layout.phase_width, 0.0f);
    }
  }
}

// kBlock floats as one GCC vector: one zmm register under AVX-512, two ymm under AVX2, four xmm otherwise.
typedef float Block __attribute__((vector_size(kBlock * sizeof(float))));

// One block of kBlock outputs of row `oh` starting at column ow0, accumulated in registers over every tap.
// `taps` holds, per tap, the offset of its source row segment in the phase planes (for ow0 = 0).
inline void output_block(const DwConv2dF32Params& p, const int64_t* taps, const float* w, float bias,
                         const float* scratch, int64_t row_offset, int64_t ow0, float* out) {
  Block acc = Block{} + bias;
  const int64_t count = p.kernel_h * p.kernel_w;
  for (int64_t k = 0; k < count; ++k) {
    Block source;  // an unaligned load (memcpy: no aliasing or alignment assumptions)
    __builtin_memcpy(&source, scratch + taps[k] + row_offset + ow0, sizeof source);
    acc += w[k] * source;
  }
  const Block lo = Block{} + p.output_min, hi = Block{} + p.output_max;
  acc = acc < lo ? lo : acc;
  acc = acc > hi ? hi : acc;
  __builtin_memcpy(out, &acc, sizeof acc);
}

// The same for a kernel of exactly kTaps taps (3x3): the weights are broadcast into registers once per plane and
// the tap loop is unrolled, so each tap costs one load and one multiply-add.
template <int kTaps>
inline void output_block_fixed(const Block* wv, const int64_t* taps, Block bias, Block lo, Block hi,
                               const float* source_row, float* out) {
  Block acc = bias;
  for (int k = 0; k < kTaps; ++k) {
    Block source;
    __builtin_memcpy(&source, source_row + taps[k], sizeof source);
    acc += wv[k] * source;
  }
  acc = acc < lo ? lo : acc;
  acc = acc > hi ? hi : acc;
  __builtin_memcpy(out, &acc, sizeof acc);
}

template <int kTaps>
void dwconv_rows_fixed(const DwConv2dF32Params& p, const PhaseLayout& layout, const int64_t* taps, const float* w,
                       float bias, const float* scratch, float* y) {
  Block wv[kTaps];
  for (int k = 0; k < kTaps; ++k) wv[k] = Block{} + w[k];
  const Block b = Block{} + bias, lo = Block{} + p.output_min, hi = Block{} + p.output_max;
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    float* y_row = y + oh * p.out_w;
    const float* source_row = scratch + oh * p.stride_h * layout.phase_width;
    int64_t ow0 = 0;
    for (; ow0 + kBlock <= p.out_w; ow0 += kBlock)
      output_block_fixed<kTaps>(wv, taps, b, lo, hi, source_row + ow0, y_row + ow0);
    if (ow0 < p.out_w && oh + 1 < p.out_h && (p.out_h - oh - 1) * p.out_w >= kBlock - (p.out_w - ow0)) {
      // A row's tail written as a whole block spills into the next row, which is computed after and overwrites it.
      output_block_fixed<kTaps>(wv, taps, b, lo, hi, source_row + ow0, y_row + ow0);
    } else if (ow0 < p.out_w) {
      float tail[kBlock];
      output_block_fixed<kTaps>(wv, taps, b, lo, hi, source_row + ow0, tail);
      std::copy(tail, tail + (p.out_w - ow0), y_row + ow0);
    }
  }
}

void dwconv(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  const PhaseLayout layout = phase_layout(p);
  build_phases(p, layout, x, scratch);
  // Each tap's source segment for output row 0; row oh adds oh * stride_h rows.
  int64_t taps[kDwConvMaxTaps];
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int64_t column = kw * p.dilation_w;
      taps[kh * p.kernel_w + kw] =
          ((column % p.stride_w) * layout.rows + kh * p.dilation_h) * layout.phase_width + column / p.stride_w;
    }
  }
  if (p.kernel_h * p.kernel_w == 9) return dwconv_rows_fixed<9>(p, layout, taps, w, bias, scratch, y);
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    float* y_row = y + oh * p.out_w;
    const int64_t row_offset = oh * p.stride_h * layout.phase_width;
    int64_t ow0 = 0;
    for (; ow0 + kBlock <= p.out_w; ow0 += kBlock)
      output_block(p, taps, w, bias, scratch, row_offset, ow0, y_row + ow0);
    if (ow0 < p.out_w) {
      // The row's tail: the phase rows are padded to whole blocks, so compute a full block and keep its head.
      float tail[kBlock];
      output_block(p, taps, w, bias, scratch, row_offset, ow0, tail);
      std::copy(tail, tail + (p.out_w - ow0), y_row + ow0);
    }
  }
}

// Channels side by side, one per lane (ChannelLayout): the planes are interleaved into one zero-padded buffer,
// each output position is one register of kLanes channels accumulated over the taps, and the results are
// scattered back to the planes. For small planes, where a plane per call left most of each register idle.
template <int kTaps>
void channel_group(const DwConv2dF32Params& p, const ChannelLayout& layout, int64_t lanes, const float* const* x,
                   const float* w, const float* bias, float* y, float* scratch) {
  using simd::kLanes;
  using simd::Vec;
  const int64_t taps = p.kernel_h * p.kernel_w;
  float* buffer = scratch;
  float* out = buffer + layout.buffer_floats;
  fill_zero(buffer, layout.buffer_floats);
  const int64_t rows = std::min(p.in_h, layout.rows - p.pad_top), cols = std::min(p.in_w, layout.cols - p.pad_left);
  for (int64_t l = 0; l < lanes; ++l) {
    for (int64_t ih = 0; ih < rows; ++ih) {
      const float* src = x[l] + ih * p.in_w;
      float* dst = buffer + ((ih + p.pad_top) * layout.cols + p.pad_left) * kLanes + l;
      for (int64_t iw = 0; iw < cols; ++iw) dst[iw * kLanes] = src[iw];
    }
  }
  Vec wv[kTaps > 0 ? kTaps : kDwConvMaxTaps];
  int64_t offsets[kTaps > 0 ? kTaps : kDwConvMaxTaps];
  for (int64_t t = 0; t < taps; ++t) {
    float lane_weights[kLanes] = {};
    for (int64_t l = 0; l < lanes; ++l) lane_weights[l] = w[l * taps + t];
    wv[t] = simd::load(lane_weights);
    offsets[t] = ((t / p.kernel_w) * p.dilation_h * layout.cols + (t % p.kernel_w) * p.dilation_w) * kLanes;
  }
  float lane_bias[kLanes] = {};
  for (int64_t l = 0; l < lanes && bias != nullptr; ++l) lane_bias[l] = bias[l];
  const Vec b = simd::load(lane_bias), lo = Vec{} + p.output_min, hi = Vec{} + p.output_max;
  const int64_t n = kTaps > 0 ? kTaps : taps;
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      const float* source = buffer + (oh * p.stride_h * layout.cols + ow * p.stride_w) * kLanes;
      Vec acc = b;
      for (int64_t t = 0; t < n; ++t) acc += wv[t] * simd::load(source + offsets[t]);
      acc = acc < lo ? lo : acc;
      acc = acc > hi ? hi : acc;
      simd::store(out + (oh * p.out_w + ow) * kLanes, acc);
    }
  }
  const int64_t size = p.out_h * p.out_w;
  for (int64_t l = 0; l < lanes; ++l) {
    float* plane = y + l * size;
    for (int64_t o = 0; o < size; ++o) plane[o] = out[o * kLanes + l];
  }
}

// Planes of more than kDwConvChannelsMaxOutputs outputs go one per call to dwconv (side by side, most of the
// interleaved buffer would miss the caches), smaller ones kLanes channels side by side.
void dwconv_channels(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w,
                     const float* bias, float* y, float* scratch) {
  const int64_t taps = p.kernel_h * p.kernel_w;
  if (p.out_h * p.out_w > kDwConvChannelsMaxOutputs) {
    for (int64_t c = 0; c < count; ++c)
      dwconv(p, x[c], w + c * taps, bias != nullptr ? bias[c] : 0.0f, y + c * p.out_h * p.out_w, scratch);
    return;
  }
  const ChannelLayout layout = channel_layout(p);
  for (int64_t c = 0; c < count; c += simd::kLanes) {
    const int64_t lanes = std::min<int64_t>(simd::kLanes, count - c);
    const float* bias_c = bias != nullptr ? bias + c : nullptr;
    float* y_c = y + c * p.out_h * p.out_w;
    if (taps == 9) {
      channel_group<9>(p, layout, lanes, x + c, w + c * taps, bias_c, y_c, scratch);
    } else {
      channel_group<0>(p, layout, lanes, x + c, w + c * taps, bias_c, y_c, scratch);
    }
  }
}

}  // namespace
}  // namespace tessera::f32_dwconv

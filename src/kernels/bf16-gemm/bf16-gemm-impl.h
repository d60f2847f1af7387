// The bf16-gemm tile, A packing and rounding loop, written once over an ISA traits type and instantiated by each
// per-ISA file (bf16-gemm-14x32-avx512bf16.cpp, ...), whose compiler flags vectorise them. Include only from those
// files, and instantiate only with traits types declared in an anonymous namespace there (internal linkage).
//
// An Isa traits type provides: Vec (float32 lanes), kLanes, AVec (one A pair made ready for dot), BVec (kLanes
// B pairs made ready), zero(), set1(float), load(const float*), store(float*, Vec), mul, add, min, max,
// load_b(const uint16_t*) (kLanes pairs: 2 * kLanes elements), broadcast_a(uint32_t pair) and
// dot(acc, AVec, BVec) = acc + a[0] * b[0] + a[1] * b[1] per lane, in float32. The variants without vdpbf16ps
// split each pair into two float32 values (the low half shifted up, the high half masked), then add the two
// products in depth order.
#pragma once

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "kernels/bf16-gemm/bf16-gemm-table.h"

namespace tessera::bf16gemm {
namespace {

inline uint32_t load_pair(const uint16_t* p) {
  uint32_t pair;
  std::memcpy(&pair, p, sizeof pair);
  return pair;
}

// The float32 values of the two bfloat16 halves of a pair: the low half is the earlier depth step.
inline float pair_low(uint32_t pair) { return std::bit_cast<float>(pair << 16); }
inline float pair_high(uint32_t pair) { return std::bit_cast<float>(pair & 0xFFFF0000u); }

// float_to_bfloat16 (base/float_types.cpp) as a branch-free expression the compiler vectorises.
inline uint16_t round_to_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet = (bits >> 16) | 0x40u;
  return static_cast<uint16_t>((bits & 0x7FFFFFFFu) > 0x7F800000u ? quiet : rounded);
}

void round_values(const float* values, int64_t count, uint16_t* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = round_to_bf16(values[i]);
}

// A 32-bit store into the bfloat16 strips (which the tiles read back as bfloat16 pairs and 64-byte rows).
using PairStore = uint32_t __attribute__((may_alias));

// Packs float32 rows of B into one strip (see PackBF32Fn): each pair of depth rows rounded and interleaved column by
// column, the earlier row in the low half, written as 32-bit pairs so the column loop vectorises.
template <int Nr>
void pack_b_f32(int64_t groups, int64_t k, int64_t cols, const float* b, int64_t ldb, uint16_t* strip) {
  for (int64_t g = 0; g < groups; ++g) {
    PairStore* out = reinterpret_cast<PairStore*>(strip + g * Nr * 2);
    const int64_t p = 2 * g;
    if (p >= k) {
      for (int64_t c = 0; c < Nr; ++c) out[c] = 0;
      continue;
    }
    const float* low = b + p * ldb;
    if (p + 1 < k) {
      const float* high = low + ldb;
      for (int64_t c = 0; c < cols; ++c) {
        out[c] = static_cast<uint32_t>(round_to_bf16(low[c])) | (static_cast<uint32_t>(round_to_bf16(high[c])) << 16);
      }
    } else {
      for (int64_t c = 0; c < cols; ++c) out[c] = round_to_bf16(low[c]);
    }
    for (int64_t c = cols; c < Nr; ++c) out[c] = 0;
  }
}

#if defined(__AVX512BW__)
// Packs one 32-column B strip straight from a Bf16Im2colImage (see PackBIm2colFn): each im2col row's 32 values
// gathered into one register by masked loads, one per output row the strip's columns cross (the same for every
// depth step, worked out once), then each pair of rows interleaved by two word permutes and stored. Lanes of no
// column (past cols) stay zero, as do the rows past the depth.
void pack_b_im2col_32(const Bf16Im2colImage& image, int64_t groups, int64_t j0, int64_t cols, uint16_t* strip) {
  constexpr int kCols = 32;
  // The strip's columns as runs of one output row: the lanes they fill, and the element offset (from the start of
  // the tap's reads) that lane 0 of their load has.
  struct Run {
    __mmask32 lanes;
    int64_t offset;
  };
  Run runs[kCols];
  int count = 0;
  for (int64_t j = 0; j < cols;) {
    const int64_t column = j0 + j, oh = column / image.out_w, ow = column % image.out_w;
    const int64_t length = std::min(cols - j, image.out_w - ow);
    const uint64_t ones = length >= 64 ? ~uint64_t{0} : (uint64_t{1} << length) - 1;
    runs[count++] = {static_cast<__mmask32>(ones << j), oh * image.stride_h * image.row_pitch + ow - j};
    j += length;
  }
  // Interleaving word indices: low = columns 0-15, high = columns 16-31, each as (earlier step, later step) pairs.
  alignas(64) uint16_t low_index[kCols], high_index[kCols];
  for (int i = 0; i < kCols; ++i) {
    low_index[i] = static_cast<uint16_t>(i / 2 + (i % 2) * kCols);
    high_index[i] = static_cast<uint16_t>(kCols / 2 + i / 2 + (i % 2) * kCols);
  }
  const __m512i low = _mm512_load_si512(low_index), high = _mm512_load_si512(high_index);
  const int64_t depth = image.channels * image.kernel_h * image.kernel_w;
  // The depth walk: channel, kernel row and column, and the element offset of the tap's reads.
  int64_t d = 0, kh = 0, kw = 0, channel_offset = 0, row_offset = 0, phase = 0, shift = 0;
  const int64_t phase_step = image.dilation_w % image.stride_w, shift_step = image.dilation_w / image.stride_w;
  const uintptr_t base = reinterpret_cast<uintptr_t>(image.data);
  const auto next_row = [&]() {
    __m512i v = _mm512_setzero_si512();
    if (d >= depth) return v;
    const int64_t tap = channel_offset + row_offset + phase * image.phase_width + shift;
    // Addresses as integers: lane 0 of a run's load may lie before the image (its lanes are masked off).
    for (int r = 0; r < count; ++r) {
      const uintptr_t address = base + static_cast<uintptr_t>(tap + runs[r].offset) * sizeof(uint16_t);
      v = _mm512_mask_loadu_epi16(v, runs[r].lanes, reinterpret_cast<const void*>(address));
    }
    ++d;
    if (++kw < image.kernel_w) {
      phase += phase_step;
      shift += shift_step;
      if (phase >= image.stride_w) {
        phase -= image.stride_w;
        ++shift;
      }
      return v;
    }
    kw = phase = shift = 0;
    if (++kh < image.kernel_h) {
      row_offset += image.dilation_h * image.row_pitch;
      return v;
    }
    kh = row_offset = 0;
    channel_offset += image.plane_pitch;
    return v;
  };
  for (int64_t g = 0; g < groups; ++g) {
    const __m512i earlier = next_row();
    const __m512i later = next_row();
    _mm512_storeu_si512(strip + g * 2 * kCols, _mm512_permutex2var_epi16(earlier, low, later));
    _mm512_storeu_si512(strip + g * 2 * kCols + kCols, _mm512_permutex2var_epi16(earlier, high, later));
  }
}
#endif

// pack_b_im2col_32 for 32-column strips under AVX-512 BW, else none.
template <int Nr>
constexpr PackBIm2colFn pack_b_im2col_for() {
#if defined(__AVX512BW__)
  if constexpr (Nr == 32) return pack_b_im2col_32;
#endif
  return nullptr;
}

// Packs rows of A (see PackAFn): row r's pairs of depth steps at strip[(g * Mr + r) * 2 + e].
template <int Mr>
void pack_a(int64_t rows, int64_t k, const void* a, int64_t lda, bool a_f32, uint16_t* strip) {
  const int64_t full = k / 2;
  for (int64_t r = 0; r < rows; ++r) {
    uint16_t* dst = strip + r * 2;
    if (a_f32) {
      const float* row = static_cast<const float*>(a) + r * lda;
      for (int64_t g = 0; g < full; ++g) {
        dst[g * Mr * 2] = round_to_bf16(row[2 * g]);
        dst[g * Mr * 2 + 1] = round_to_bf16(row[2 * g + 1]);
      }
      if (k % 2 != 0) {
        dst[full * Mr * 2] = round_to_bf16(row[k - 1]);
        dst[full * Mr * 2 + 1] = 0;
      }
    } else {
      const uint16_t* row = static_cast<const uint16_t*>(a) + r * lda;
      for (int64_t g = 0; g < full; ++g) std::memcpy(dst + g * Mr * 2, row + 2 * g, 2 * sizeof(uint16_t));
      if (k % 2 != 0) {
        dst[full * Mr * 2] = row[k - 1];
        dst[full * Mr * 2 + 1] = 0;
      }
    }
  }
}

// Stores rows [row0, row0 + kRows) of a finished tile as TileOutput says; a partial tile (cols < Nr) goes through
// a buffer so no column past cols is touched. (The AMX tile passes its 32 rows 8 at a time by row0: a per-pass copy
// of TileOutput stalled behind its tile stores.)
template <typename Isa, int kNv, int kRows>
inline void store_tile(const typename Isa::Vec (&acc)[kRows][kNv], const TileOutput& t, int64_t row0 = 0) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  constexpr int kNr = kNv * kLanes;
  const Vec alpha = Isa::set1(t.alpha), lo = Isa::set1(t.min), hi = Isa::set1(t.max);
  Vec bias[kNv];
  alignas(64) float padded_bias[kNr] = {};
  const bool full = t.cols == kNr;
  if (t.column_bias != nullptr && !full) std::memcpy(padded_bias, t.column_bias, t.cols * sizeof(float));
  for (int j = 0; j < kNv; ++j) {
    bias[j] = t.column_bias == nullptr ? Isa::zero() : Isa::load((full ? t.column_bias : padded_bias) + j * kLanes);
  }
  alignas(64) float buffer[kNr];
  alignas(64) float sum_buffer[kNr] = {};
  float* const c = t.c + row0 * t.ldc;
  for (int i = 0; i < kRows; ++i) {
    float* row = full ? c + i * t.ldc : buffer;
    Vec row_bias = t.row_bias != nullptr ? Isa::set1(t.row_bias[row0 + i]) : Isa::zero();
    const float* sum_row = nullptr;
    if (t.sum != nullptr) {
      sum_row = t.sum + (row0 + i) * t.sum_ld;
      if (!full) {
        std::memcpy(sum_buffer, sum_row, t.cols * sizeof(float));
        sum_row = sum_buffer;
      }
    }
#pragma GCC unroll 8
    for (int j = 0; j < kNv; ++j) {
      Vec r = Isa::add(Isa::add(Isa::mul(acc[i][j], alpha), bias[j]), row_bias);
      if (sum_row != nullptr) r = Isa::add(r, Isa::load(sum_row + j * kLanes));
      // r second: minps / maxps return their second operand when either is NaN, so NaN passes through.
      Isa::store(row + j * kLanes, Isa::min(hi, Isa::max(lo, r)));
    }
    if (!full) std::memcpy(c + i * t.ldc, buffer, t.cols * sizeof(float));
  }
}

// See TileFn. kMr is the packed A strip width, kNv the vectors per row (nr = kNv * kLanes), kRows the rows this
// instantiation computes (1..kMr).
template <typename Isa, int kMr, int kNv, int kRows>
void tile(int64_t groups, const uint16_t* a, const uint16_t* b, const TileOutput& out) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  constexpr int kNr = kNv * kLanes;
  Vec acc[kRows][kNv];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < kNv; ++j) acc[i][j] = Isa::zero();
  }
  for (int64_t g = 0; g < groups; ++g) {
    typename Isa::BVec bv[kNv];
#pragma GCC unroll 8
    for (int j = 0; j < kNv; ++j) bv[j] = Isa::load_b(b + j * kLanes * 2);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const typename Isa::AVec av = Isa::broadcast_a(load_pair(a + i * 2));
#pragma GCC unroll 8
      for (int j = 0; j < kNv; ++j) acc[i][j] = Isa::dot(acc[i][j], av, bv[j]);
    }
    a += kMr * 2;
    b += kNr * 2;
  }
  store_tile<Isa, kNv, kRows>(acc, out);
}

// The by_rows table of a kMr-row kernel (rows 1..kMr; the rest nullptr).
template <typename Isa, int kMr, int kNv, size_t... kRowsMinusOne>
constexpr Bf16GemmSet make_set(const char* name, std::index_sequence<kRowsMinusOne...>) {
  return Bf16GemmSet{name,
                     kMr,
                     kNv * Isa::kLanes,
                     {tile<Isa, kMr, kNv, kRowsMinusOne + 1>...},
                     pack_a<kMr>,
                     pack_b_f32<kNv * Isa::kLanes>,
                     round_values,
                     1,
                     nullptr,
                     pack_b_im2col_for<kNv * Isa::kLanes>()};
}

template <typename Isa, int kMr, int kNv>
constexpr Bf16GemmSet make_set(const char* name) {
  return make_set<Isa, kMr, kNv>(name, std::make_index_sequence<kMr>{});
}

}  // namespace
}  // namespace tessera::bf16gemm

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

#include <bit>
#include <cstring>
#include <utility>

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
                     nullptr};
}

template <typename Isa, int kMr, int kNv>
constexpr Bf16GemmSet make_set(const char* name) {
  return make_set<Isa, kMr, kNv>(name, std::make_index_sequence<kMr>{});
}

}  // namespace
}  // namespace tessera::bf16gemm

// The q8-gemm A packing, tile epilogue and portable tile, instantiated by each ISA file
// (q8-gemm-8x32-avx512vnni.cpp, ...), whose compiler flags vectorise them. Internal linkage only; include only
// from those files.
#pragma once

#include <cstring>

#include "kernels/q8-gemm/q8-gemm-table.h"

// The float epilogue rounds float(S) * a_scale, then * b_scale, then + bias: never one fused multiply-add, so
// every variant gives the bits of the portable one.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

namespace tessera::q8gemm {
namespace {

// Packs rows of A for the byte kernels (G = 4): A' = A, or A xor 0x80 for int8 (uint8 A + 128), and the row
// sums of A'.
template <int Mr>
void pack_a_bytes(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t, void* strip,
                  int32_t* row_sums) {
  constexpr int kGroup = 4;
  uint8_t* dst = static_cast<uint8_t*>(strip);
  const uint8_t flip = a_signed ? 0x80 : 0x00;
  const uint32_t flip4 = a_signed ? 0x80808080u : 0u;
  const int64_t full = k / kGroup;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    uint32_t sum = 0;
    for (int64_t p = 0; p < k; ++p) sum += static_cast<uint8_t>(row[p] ^ flip);
    row_sums[r] = static_cast<int32_t>(sum);
    for (int64_t g = 0; g < full; ++g) {
      uint32_t v;
      std::memcpy(&v, row + g * kGroup, sizeof v);
      v ^= flip4;
      std::memcpy(dst + (g * Mr + r) * kGroup, &v, sizeof v);
    }
    if (full * kGroup < k) {
      uint8_t* tail = dst + (full * Mr + r) * kGroup;
      for (int64_t e = 0; e < kGroup; ++e) {
        const int64_t p = full * kGroup + e;
        tail[e] = p < k ? static_cast<uint8_t>(row[p] ^ flip) : 0;
      }
    }
  }
}

// Packs rows of A for the int16 kernels (G = 2): A - a_zero_point as int16 (no row sums needed).
template <int Mr>
void pack_a_wide(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t a_zero_point,
                 void* strip, int32_t*) {
  constexpr int kGroup = 2;
  int16_t* dst = static_cast<int16_t*>(strip);
  const int64_t groups = (k + kGroup - 1) / kGroup;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t e = 0; e < kGroup; ++e) {
        const int64_t p = g * kGroup + e;
        int32_t v = 0;
        if (p < k) v = (a_signed ? static_cast<int32_t>(static_cast<int8_t>(row[p])) : row[p]) - a_zero_point;
        dst[(g * Mr + r) * kGroup + e] = static_cast<int16_t>(v);
      }
    }
  }
}

// Stores one row of exact sums s[0..cols) as TileOutput orders.
inline void store_row(const TileOutput& t, int64_t i, const int32_t* s) {
  const int64_t cols = t.cols;
  if (t.c_s32 != nullptr) {
    std::memcpy(t.c_s32 + i * t.ldc, s, static_cast<size_t>(cols) * sizeof(int32_t));
    return;
  }
  float* c = t.c_f32 + i * t.ldc;
  const float a_scale = t.a_scale;
  if (t.per_column_scale) {
    for (int64_t j = 0; j < cols; ++j) c[j] = static_cast<float>(s[j]) * a_scale * t.b_scales[j];
  } else {
    const float b_scale = t.b_scales[0];
    for (int64_t j = 0; j < cols; ++j) c[j] = static_cast<float>(s[j]) * a_scale * b_scale;
  }
  if (t.bias != nullptr) {
    for (int64_t j = 0; j < cols; ++j) c[j] = c[j] + t.bias[j];
  }
}

template <int Nr, bool Wide>
void epilogue(const TileOutput& t) {
  int32_t s[Nr];
  for (int64_t i = 0; i < t.rows; ++i) {
    const int32_t* acc = t.acc + i * t.acc_stride;
    if constexpr (Wide) {
      store_row(t, i, acc);
    } else {
      // S = acc - zb'[j] * rowsum'[i] + col_terms[j], in wrap-around (unsigned) arithmetic like int32 hardware.
      const uint32_t row_sum = static_cast<uint32_t>(t.row_sums[i]);
      for (int64_t j = 0; j < t.cols; ++j) {
        s[j] =
            static_cast<int32_t>(static_cast<uint32_t>(acc[j]) - static_cast<uint32_t>(t.col_zero_points[j]) * row_sum +
                                 static_cast<uint32_t>(t.col_terms[j]));
      }
      store_row(t, i, s);
    }
  }
}

// The SIMD tile of Rows x (Nv * Isa::kLanes): per depth group, Nv B registers and one broadcast of each row's
// group (4 bytes: 4 uint8 steps, or 2 int16 steps) folded in by Isa::dot. Isa provides Vec, kLanes, zero(),
// load(p), broadcast(int32), dot(acc, a, b) and store(p, v).
template <typename Isa, int Mr, int Nv, int Rows>
void tile_simd(int64_t groups, const void* a_strip, const void* b_strip, int32_t* acc_out) {
  using Vec = typename Isa::Vec;
  constexpr int kNr = Nv * Isa::kLanes;
  const uint8_t* a = static_cast<const uint8_t*>(a_strip);
  const uint8_t* b = static_cast<const uint8_t*>(b_strip);
  Vec acc[Rows][Nv];
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < Nv; ++v) acc[r][v] = Isa::zero();
  }
  for (int64_t g = 0; g < groups; ++g) {
    Vec bv[Nv];
    for (int v = 0; v < Nv; ++v) bv[v] = Isa::load(b + v * Isa::kLanes * 4);
    for (int r = 0; r < Rows; ++r) {
      int32_t group;
      std::memcpy(&group, a + r * 4, sizeof group);
      const Vec av = Isa::broadcast(group);
      for (int v = 0; v < Nv; ++v) acc[r][v] = Isa::dot(acc[r][v], av, bv[v]);
    }
    a += Mr * 4;
    b += kNr * 4;
  }
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < Nv; ++v) Isa::store(acc_out + r * kNr + v * Isa::kLanes, acc[r][v]);
  }
}

// The portable tile over int16 strips (G = 2), in wrap-around arithmetic; plain loops the compiler vectorises.
template <int Mr, int Nr, int Rows>
void tile_wide_scalar(int64_t groups, const void* a_strip, const void* b_strip, int32_t* acc_out) {
  const int16_t* a = static_cast<const int16_t*>(a_strip);
  const int16_t* b = static_cast<const int16_t*>(b_strip);
  uint32_t acc[Rows][Nr] = {};
  for (int64_t g = 0; g < groups; ++g) {
    for (int r = 0; r < Rows; ++r) {
      const int32_t a0 = a[r * 2], a1 = a[r * 2 + 1];
      for (int c = 0; c < Nr; ++c) {
        acc[r][c] += static_cast<uint32_t>(a0 * b[c * 2] + a1 * b[c * 2 + 1]);
      }
    }
    a += Mr * 2;
    b += Nr * 2;
  }
  for (int r = 0; r < Rows; ++r) {
    for (int c = 0; c < Nr; ++c) acc_out[r * Nr + c] = static_cast<int32_t>(acc[r][c]);
  }
}

}  // namespace
}  // namespace tessera::q8gemm

#pragma GCC pop_options

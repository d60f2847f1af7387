// The per-ISA table of bf16-gemm (plain data only; see the note at the top of f32-gemm-ukernel.h: an inline
// function shared with the ISA files could be emitted with their instructions).
//
// Packed layouts, bfloat16 bits, depth steps in pairs (a group is two depth steps, vdpbf16ps's unit; groups =
// ceil(k / 2) rounded up to a multiple of the set's group_align):
//   A strip of mr rows: groups x mr x 2 elements, element (g, r, e) = A[row r][2g + e] (zero past k), or, for the
//   AMX tiles (which load rows of A), mr rows of groups x 2 elements, element (r, 2g + e) likewise;
//   B strip of nr columns: groups x nr x 2 elements, element (g, c, e) = B[2g + e][column c] (zero past k and n).
#pragma once

#include <cstdint>

#include "kernels/bf16-gemm/bf16_gemm.h"

namespace tessera::bf16gemm {

inline constexpr int kMaxMr = 32;
inline constexpr int kMaxNr = 32;

// Where a tile goes: C[i][j] = clamp(alpha * acc[i][j] + column_bias[j] + row_bias[i] + sum[i][j], min, max) for
// i < rows, j < cols (each addend only when given).
struct TileOutput {
  int64_t rows, cols;
  float* c;  // the tile's first element
  int64_t ldc;
  float alpha;
  const float* column_bias;  // the tile's columns, or nullptr
  float min, max;
  const float* row_bias = nullptr;  // the tile's rows, or nullptr
  const float* sum = nullptr;       // the sum tile's first element (rows sum_ld apart), or nullptr
  int64_t sum_ld = 0;
  // Packed B bytes a tile that streams B may prefetch into L2 while it runs (part of the next B strip), or none.
  const uint16_t* prefetch = nullptr;
  int64_t prefetch_bytes = 0;
};

// Computes and stores one tile of `rows` (fixed by the function) rows from an A strip and a B strip.
using TileFn = void (*)(int64_t groups, const uint16_t* a, const uint16_t* b, const TileOutput& out);

// Packs `rows` (<= mr) rows of A (k elements each, lda apart; float32 rounded to bfloat16 when a_f32, else
// bfloat16 bits) into one strip (layout above). The strip's rows past `rows` are left as they are.
using PackAFn = void (*)(int64_t rows, int64_t k, const void* a, int64_t lda, bool a_f32, uint16_t* strip);

// Packs `cols` (<= nr) columns of k rows of float32 B (row p at b + p * ldb), rounded to bfloat16, into one B strip
// of `groups` (>= ceil(k / 2)) pairs of depth steps (layout above), zero past k and cols.
using PackBF32Fn = void (*)(int64_t groups, int64_t k, int64_t cols, const float* b, int64_t ldb, uint16_t* strip);

// bf16_round_f32's loop (see bf16_gemm.h).
using RoundFn = void (*)(const float* values, int64_t count, uint16_t* out);

// Packs `cols` (<= nr) columns of the im2col matrix of `image` from column j0 into one B strip of `groups` pairs of
// depth steps (see pack_bf16_gemm_b_im2col_strip), zero past the depth and cols.
using PackBIm2colFn = void (*)(const Bf16Im2colImage& image, int64_t groups, int64_t j0, int64_t cols, uint16_t* strip);

struct Bf16GemmSet {
  const char* name;
  int mr;
  int nr;
  TileFn by_rows[kMaxMr];  // by_rows[r - 1] computes r rows
  PackAFn pack_a;
  PackBF32Fn pack_b_f32;
  RoundFn round;
  int group_align;  // the depth groups of the packed strips are a multiple of this (1, or 16 for the AMX tiles)
  // Called on each thread after its last tile of a bf16_gemm call (the AMX tiles release their configuration), or
  // nullptr.
  void (*end_tiles)();
  // pack_bf16_gemm_b_im2col_strip's packing, or nullptr where the variant has none.
  PackBIm2colFn pack_b_im2col = nullptr;
};

extern const Bf16GemmSet kPortableSet;
#if defined(__x86_64__)
extern const Bf16GemmSet kAvx2Set;
extern const Bf16GemmSet kAvx512Set;
extern const Bf16GemmSet kAvx512Bf16Set;
extern const Bf16GemmSet kAmxSet;
#endif

}  // namespace tessera::bf16gemm

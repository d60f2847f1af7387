// The per-ISA table of q8-gemm (plain data only; see the note at the top of f32-gemm-ukernel.h: an inline
// function shared with the ISA files could be emitted with their instructions).
//
// Packed layouts (G = group, depth steps per lane; E = int16 when `wide` (B's one byte when also
// `byte_b_elements`), else one byte; groups = ceil(k / G)
// rounded up to a multiple of the set's group_align):
//   A strip of mr rows: groups x mr x G elements, element (g, r, e) = A'[row r][g * G + e] (zero past k and for
//   the rows past the strip's end), or, for `rows_a` sets (AMX tiles load rows of A), mr rows of groups x G
//   elements each, element (r, g * G + e) likewise;
//   B strip of nr columns: groups x nr x G elements, element (g, c, e) = B'[g * G + e][column c] (zero past k
//   and past n).
// `wide` kernels take int16 A - a_zp and B - b_zp (no corrections); the others uint8 A' and int8 B' (int8 A
// xor 0x80, uint8 B xor 0x80, zero points shifted alike), corrected by the row sums of A' and column terms.
#pragma once

#include <cstdint>

namespace tessera::q8gemm {

inline constexpr int kMaxMr = 32;

// Packs `rows` (<= mr) rows of A (k bytes each, lda apart) into one strip (layout above; the kernel's own A
// element) and, for non-wide kernels, row_sums[r] = sum_p A'[r][p].
using PackAFn = void (*)(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t a_zero_point,
                         void* strip, int32_t* row_sums);

// row_sums[r] = sum_p A[r][p] for uint8 rows read in place (byte kernels only; never reads past k).
using RowSumsFn = void (*)(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, int32_t* row_sums);

// Where a tile goes: with acc[i][j] the sum over the groups of the strip products,
// S = acc - col_zero_points[j] * row_sums[i] + col_terms[j] (the three nullptr for wide kernels: S = acc), then
// + row_bias[i] when set, stored as int32, float or requantized bytes (see Q8GemmOutput), for i < rows and j < cols.
// col_zero_points is nullptr also when every column has one zero point zb': then q8_gemm folds -zb' * row_sums[i]
// into row_bias (a scalar per row instead of a vector multiplication per register), and S = acc + col_terms[j]
// + row_bias[i].
struct TileOutput {
  int64_t rows, cols;
  int32_t* scratch;                // mr x nr int32 the tile may use (partial tiles go through it)
  int64_t a_stride;                // 0: A is a packed strip; else uint8 A read in place, rows a_stride bytes apart
  const int32_t* row_sums;         // the tile's rows
  const int32_t* col_zero_points;  // the tile's columns
  const int32_t* col_terms;        // the tile's columns
  int32_t* c_s32;                  // the tile's first element, or nullptr
  float* c_f32;                    // likewise
  int64_t ldc;
  float a_scale;
  const float* b_scales;  // the tile's columns (per column) or one value
  bool per_column_scale;
  const float* bias;  // the tile's columns or nullptr
  const int32_t* row_bias;   // the tile's rows (added to S before any store) or nullptr
  uint8_t* c_q8;             // the tile's first byte (requantized output, see Q8GemmOutput), or nullptr
  bool q8_signed;            // c_q8 holds int8 (else uint8)
  const double* row_scales;  // the tile's rows' requantization scales
  double q8_zero_point;
  bool q8_small_sums;  // every sum (with its row bias) lies within +-2^24 (see Q8GemmOutput)
  // Small sums, every row scale of the call a float below 64 in magnitude, an integer zero point: the AVX2 tiles
  // then requantize their rows straight from the registers (requantize_moderate16_lanes), without the per-row
  // tests of requantize_tile_row.
  bool q8_moderate;
};

// Computes and stores one tile of `rows` (fixed by the function) rows from an A strip and a B strip.
using TileFn = void (*)(int64_t groups, const void* a, const void* b, const TileOutput& out);

// q8_requantize's loop (see q8_gemm.h).
using RequantizeFn = void (*)(const int32_t* values, int64_t count, const double* scales, int64_t scale_stride,
                              double zero_point, bool out_signed, uint8_t* out, bool small_sums);

// q8_requantize_float_sums's loop (see q8_gemm.h).
using RequantizeFloatSumsFn = void (*)(const float* sums, int64_t count, int32_t bias, double scale, double zero_point,
                                       bool out_signed, uint8_t* out, bool small_sums);

// q8_requantize_float_sums_channels's loop (see q8_gemm.h).
using RequantizeFloatSumsChannelsFn = void (*)(const float* sums, int64_t positions, int64_t channels,
                                               const int32_t* bias, const double* scales, double zero_point,
                                               bool out_signed, uint8_t* out, bool small_sums);

// q8_requantize_channels's loop (see q8_gemm.h).
using RequantizeChannelsFn = void (*)(const int32_t* sums, int64_t positions, int64_t channels, int64_t ld_sums,
                                      const int32_t* bias, const double* scales, double zero_point, bool out_signed,
                                      uint8_t* out, int64_t ld_out, bool small_sums);

struct Q8GemmSet {
  const char* name;
  int mr;
  int nr;
  int group;
  int group_align;  // the depth groups of the packed strips are a multiple of this (1, or 16 for the AMX tiles)
  bool wide;
  TileFn by_rows[kMaxMr];  // by_rows[r - 1] computes r rows
  PackAFn pack_a;
  RowSumsFn row_sums;  // nullptr: A is always packed; else uint8 A is read in place when k is a multiple of
                       // group * group_align
  RequantizeFn requantize;
  RequantizeFloatSumsFn requantize_float_sums;
  RequantizeFloatSumsChannelsFn requantize_float_sums_channels;
  RequantizeChannelsFn requantize_channels;
  // Called on each thread after its last tile of a q8_gemm call (the AMX tiles release their configuration), or
  // nullptr.
  void (*end_tiles)();
  // The CPUID choice takes this variant only for depths of at least this (0: any) and, when its strips are padded
  // (group_align > 1), only where the padding adds at most a quarter to the depth; other GEMMs go to the next
  // variant the CPU runs. A variant a test selects runs every depth.
  int64_t min_depth;
  // What uint8 B loses to become the byte kernels' int8 B' (B' = B - unsigned_b_shift; int8 B is taken as it is):
  // 128 (0 reads as 128), or 64 for kAvx2B7Set, whose B' must lie in [-64, 64].
  int32_t unsigned_b_shift;
  // The variant pack_q8_gemm_b takes instead of this one when every B' of that variant lies in [-64, 64] (its
  // unsigned_b_shift applied to uint8 B), or nullptr.
  const Q8GemmSet* narrow_b;
  // The variant pack_q8_gemm_b_for_narrow_a takes instead of this one: its tile is exact where every A' lies in
  // [0, 128] whatever B' holds (q8_gemm checks A), or nullptr.
  const Q8GemmSet* narrow_a = nullptr;
  // The tiles requantize full rows straight from their registers where TileOutput::q8_moderate holds (the 256-bit
  // tiles: store_tile's requantize_moderate16_lanes path).
  bool requantizes_in_registers = false;
  // A `wide` variant whose B strips hold B - b_zp as int8 (the tile widens them as it loads), not int16.
  bool byte_b_elements = false;
  // The variant pack_q8_gemm_b takes instead of this one (where narrow_b does not apply) for a B whose every
  // B - b_zp fits int8 by its type and zero points alone (int8 with zero point 0, uint8 with 128), or nullptr.
  const Q8GemmSet* byte_b = nullptr;
};

extern const Q8GemmSet kPortableSet;
#if defined(__x86_64__)
extern const Q8GemmSet kAvx2Set;
extern const Q8GemmSet kAvx2B7Set;  // chosen by pack_q8_gemm_b for a narrow B (kAvx2Set.narrow_b)
extern const Q8GemmSet kAvx2A7Set;  // chosen by pack_q8_gemm_b_for_narrow_a (kAvx2Set.narrow_a)
extern const Q8GemmSet kAvx2ByteBSet;  // chosen by pack_q8_gemm_b for a B - zb that fits int8 (kAvx2Set.byte_b)
extern const Q8GemmSet kAvxVnniSet;
extern const Q8GemmSet kAvx512VnniSet;
extern const Q8GemmSet kAmxSet;
#endif

}  // namespace tessera::q8gemm

// q8-gemm for AMX-INT8 (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mamx-tile -mamx-int8 -mamx-bf16;
// used only when CPUID reports AMX-TILE and AMX-INT8 with AVX-512 VNNI and Linux grants the tile data state,
// cpu_has_amx_int8()): a 32x32 tile of uint8 A' x int8 B' in four 16x16 int32 tile registers, one tdpbusd per
// 64 depth steps of each 16x16 quarter (the registers as amx-tiles.h assigns them). The B strips are the byte kernels'
// layout (16 columns x 4 depth steps per 64-byte row of a B tile, 128 bytes apart), padded to whole tiles of 64 depth
// steps; A is read in place (rows lda apart) or packed row by row. The sums go through the scratch, then 8 rows at a
// time through the AVX-512 VNNI variant's register epilogue (store_tile), so both variants store the same bits.
#include <algorithm>

#include "kernels/amx-tiles.h"
#include "kernels/q8-gemm/q8-gemm-avx512vnni-traits.h"

namespace tessera::q8gemm {
#if defined(__x86_64__)
namespace {

using amx::kHalf;
constexpr int kMr = 2 * kHalf;
constexpr int kNr = 2 * kHalf;
constexpr int kGroupsPerTile = amx::kTileRowBytes / 4;  // 4-step depth groups per tile row
constexpr int kEpilogueRows = 8;                        // rows per pass of the register epilogue

// Packs `rows` rows of A row by row (the strip's rows kGroupsPerTile-aligned: round_up(k, 64) bytes each; zero
// past k and for the rows past `rows`), A' = A or A xor 0x80 for int8, with the row sums of A'.
void pack_a_rows(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t, void* strip,
                 int32_t* row_sums) {
  constexpr int64_t kTileBytes = kGroupsPerTile * 4;
  const int64_t row_bytes = (k + kTileBytes - 1) / kTileBytes * kTileBytes;
  uint8_t* dst = static_cast<uint8_t*>(strip);
  const uint8_t flip = a_signed ? 0x80 : 0x00;
  for (int64_t r = 0; r < kMr; ++r) {
    uint8_t* out = dst + r * row_bytes;
    if (r >= rows) {
      std::memset(out, 0, static_cast<size_t>(row_bytes));
      continue;
    }
    const uint8_t* row = a + r * lda;
    uint32_t sum = 0;
    for (int64_t p = 0; p < k; ++p) {
      out[p] = static_cast<uint8_t>(row[p] ^ flip);
      sum += out[p];
    }
    std::memset(out + k, 0, static_cast<size_t>(row_bytes - k));
    row_sums[r] = static_cast<int32_t>(sum);
  }
}

// The epilogue is compiled with q8-gemm-impl.h's floating-point options, as the traits are (GCC inlines only
// between functions of the same options).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC optimize("no-trapping-math")

// Stores rows [row0, row0 + Rows) of the tile, their int32 sums (32 per row) at `sums`, through the register
// epilogue (store_tile; its partial and requantized stores rewrite only those rows of `sums`).
template <int Rows>
[[gnu::noinline]] void store_rows(int32_t* sums, const TileOutput& t, int64_t row0) {
  __m512i acc[Rows][2];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    acc[r][0] = _mm512_loadu_si512(sums + r * kNr);
    acc[r][1] = _mm512_loadu_si512(sums + r * kNr + kHalf);
  }
  store_tile<Avx512Vnni, 2, Rows>(acc, t, row0, sums);
}

using StoreRowsFn = void (*)(int32_t* sums, const TileOutput& t, int64_t row0);
constexpr StoreRowsFn kStoreRows[kEpilogueRows] = {store_rows<1>, store_rows<2>, store_rows<3>, store_rows<4>,
                                                   store_rows<5>, store_rows<6>, store_rows<7>, store_rows<8>};

#pragma GCC pop_options

// The tile of t.rows (1..32) rows: groups (a multiple of 16) depth groups of A (in place t.a_stride apart, else a
// packed strip of groups * 4 bytes per row) by a B strip.
void tile_amx(int64_t groups, const void* a_strip, const void* b_strip, const TileOutput& t) {
  const int rows = static_cast<int>(t.rows);
  int32_t* const sums = t.scratch;
  amx::multiply_block<amx::Product::kInt8>(rows, groups, static_cast<const char*>(a_strip),
                                           amx::row_major_a(t.a_stride != 0 ? t.a_stride : groups * 4),
                                           static_cast<const char*>(b_strip), sums);
  for (int r0 = 0; r0 < rows; r0 += kEpilogueRows)
    kStoreRows[std::min(kEpilogueRows, rows - r0) - 1](sums + r0 * kNr, t, r0);
}

}  // namespace

const Q8GemmSet kAmxSet = {
    .name = "q8_gemm_ukernel_32x32__amx",
    .mr = kMr,
    .nr = kNr,
    .group = 4,
    .group_align = kGroupsPerTile,
    .wide = false,
    .by_rows = {tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx,
                tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx,
                tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx,
                tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx},
    .pack_a = pack_a_rows,
    .row_sums = row_sums_sad,
    .requantize = requantize,
    .requantize_float_sums = requantize_float_sums,
    .requantize_float_sums_channels = requantize_float_sums_channels,
    .requantize_channels = requantize_channels,
    .end_tiles = amx::release,
    // Each tile's fixed costs (the sums stored and reloaded, the last tdpbusd's latency) and the padding to 64
    // depth steps outweigh the faster depth loop on shallow GEMMs. INT8 MobileNetV2 and ResNet-50, per-layer minima
    // (Xeon, AMX against VNNI, us): depth 16 654 against 523, 24 283 against 206, 32 235 against 203, 147 (the
    // ResNet-50 stem, padded to 192) 3099 against 2748; but depth 64 3043 against 3537 (ResNet-50's five 56x56
    // layers) and 62 against 73 (14x14), 128 1969 against 2355, 160 85 against 92, 96 100-116 against 119-121.
    .min_depth = 64,
};
#endif
}  // namespace tessera::q8gemm

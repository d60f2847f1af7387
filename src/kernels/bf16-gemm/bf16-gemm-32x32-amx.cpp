// bf16-gemm for AMX-BF16 (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mamx-tile -mamx-int8
// -mamx-bf16; used only when CPUID reports AMX-TILE and AMX-BF16 with AVX-512 F, BW and VL and Linux grants the
// tile data state, cpu_has_amx_bf16()): a 32x32 tile of bfloat16 A x B in four 16x16 float32 tile registers, one
// tdpbf16ps per 32 depth steps of each 16x16 quarter (the registers as amx-tiles.h assigns them). The B strips are
// the other variants' layout (16 columns x one pair of depth steps per 64-byte row of a B tile, 128 bytes apart),
// padded to whole tiles of 32 depth steps; A is packed tile by tile (amx::kTileMajorA). The sums go through a buffer,
// then 8 rows at a time through the shared register epilogue (store_tile). tdpbf16ps rounds and flushes as vdpbf16ps
// does not promise to: like the AVX-512 BF16 variant, it agrees with the others to float32 rounding, not bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/amx-tiles.h"
#include "kernels/bf16-gemm/bf16-gemm-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::bf16gemm {
#if defined(__x86_64__)
namespace {

using amx::kHalf;
constexpr int kMr = 2 * kHalf;
constexpr int kNr = 2 * kHalf;
constexpr int kGroupsPerTile = amx::kTileRowBytes / 4;  // pairs of depth steps per tile row
constexpr int kEpilogueRows = 8;                        // rows per pass of the register epilogue

// Packs `rows` rows of A tile by tile (amx::kTileMajorA: per 32 depth steps, rows 0-15 then 16-31, 32 elements
// each; zero past k): float32 rounded to nearest even, or bfloat16 copied. The strip's rows past `rows` are left as
// they are (never loaded: the tile configuration has only `rows` rows).
void pack_a_rows(int64_t rows, int64_t k, const void* a, int64_t lda, bool a_f32, uint16_t* strip) {
  constexpr int64_t kTileSteps = 2 * kGroupsPerTile;
  const int64_t chunks = (k + kTileSteps - 1) / kTileSteps;
  // k == 0 leaves nothing to pack, and A may then have no data at all (bf16_gemm's contract).
  if (k == 0) return;
  thread_local std::vector<uint16_t> row;  // one row, padded to whole chunks; kept (packed per call for every strip)
  row.resize(static_cast<size_t>(chunks * kTileSteps));
  for (int64_t r = 0; r < rows; ++r) {
    if (a_f32) {
      round_values(static_cast<const float*>(a) + r * lda, k, row.data());
    } else {
      std::memcpy(row.data(), static_cast<const uint16_t*>(a) + r * lda, static_cast<size_t>(k) * sizeof(uint16_t));
    }
    std::fill(row.begin() + k, row.end(), uint16_t{0});
    uint16_t* const out = strip + ((r / kHalf) * kHalf + r % kHalf) * kTileSteps;
    for (int64_t c = 0; c < chunks; ++c) {
      std::memcpy(out + c * 2 * kHalf * kTileSteps, row.data() + c * kTileSteps, kTileSteps * sizeof(uint16_t));
    }
  }
}

// Stores rows [row0, row0 + Rows) of the tile, their float32 sums (32 per row) at `sums`, through the register
// epilogue.
template <int Rows>
[[gnu::noinline]] void store_rows(const float* sums, const TileOutput& t, int64_t row0) {
  __m512 acc[Rows][2];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    acc[r][0] = _mm512_loadu_ps(sums + r * kNr);
    acc[r][1] = _mm512_loadu_ps(sums + r * kNr + kHalf);
  }
  store_tile<Avx512FloatOps, 2, Rows>(acc, t, row0);
}

using StoreRowsFn = void (*)(const float* sums, const TileOutput& t, int64_t row0);
constexpr StoreRowsFn kStoreRows[kEpilogueRows] = {store_rows<1>, store_rows<2>, store_rows<3>, store_rows<4>,
                                                   store_rows<5>, store_rows<6>, store_rows<7>, store_rows<8>};

// The tile of t.rows (1..32) rows: groups (a multiple of 16) pairs of depth steps of a packed A strip by a B strip.
void tile_amx(int64_t groups, const uint16_t* a_strip, const uint16_t* b_strip, const TileOutput& t) {
  const int rows = static_cast<int>(t.rows);
  alignas(64) float sums[kMr * kNr];
  const amx::Prefetch prefetch{reinterpret_cast<const char*>(t.prefetch), t.prefetch_bytes};
  amx::multiply_block<amx::Product::kBf16>(rows, groups, reinterpret_cast<const char*>(a_strip), amx::kTileMajorA,
                                           reinterpret_cast<const char*>(b_strip), sums, prefetch);
  for (int r0 = 0; r0 < rows; r0 += kEpilogueRows)
    kStoreRows[std::min(kEpilogueRows, rows - r0) - 1](sums + r0 * kNr, t, r0);
}

}  // namespace

const Bf16GemmSet kAmxSet = {
    .name = "bf16_gemm_ukernel_32x32__amx",
    .mr = kMr,
    .nr = kNr,
    .by_rows = {tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx,
                tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx,
                tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx,
                tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx, tile_amx},
    .pack_a = pack_a_rows,
    .pack_b_f32 = pack_b_f32<kNr>,
    .round = round_values,
    .group_align = kGroupsPerTile,
    .end_tiles = amx::release,
    .pack_b_im2col = pack_b_im2col_32,
};
#endif
}  // namespace tessera::bf16gemm

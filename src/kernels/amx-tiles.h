// The AMX tile configuration shared by the AMX GEMM tiles (q8-gemm-32x32-amx.cpp, bf16-gemm-32x32-amx.cpp): both
// use the same eight tile registers the same way, so one loaded configuration serves both on a thread. Include
// only from files compiled with -mamx-tile (the *-amx.cpp files).
//
//   tmm0-3: the 32x32 block of float32 / int32 sums as four 16x16 quarters (top-left, top-right, bottom-left,
//           bottom-right), 64 bytes per row;
//   tmm4-5: the top and bottom 16 rows of A, 64 bytes (64 int8 or 32 bfloat16 depth steps) per row;
//   tmm6-7: the left and right 16 columns of B, 16 rows of 64 bytes (16 columns x 4 int8 or 2 bfloat16 steps).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace tessera::amx {

inline constexpr int kHalf = 16;          // rows (of A and C) and columns (of B and C) per tile register
inline constexpr int kTileRowBytes = 64;  // bytes per row of every tile register

// Rows of A the calling thread's loaded tile configuration is for; 0 when none is loaded.
inline thread_local int configured_rows = 0;

// Loads the configuration for a block of `rows` rows (1..32), unless it is loaded already: C and A tiles of
// min(rows, 16) rows on top and the rest below (a tile of 0 rows is left unconfigured and never used).
inline void configure(int rows) {
  if (configured_rows == rows) return;
  // The palette 1 configuration: 64 bytes, the layout ldtilecfg reads.
  struct alignas(64) Config {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
  } config{};
  config.palette_id = 1;
  const int top = std::min(rows, kHalf), bottom = rows - top;
  const auto set = [&](int tile, int tile_rows) {
    config.rows[tile] = static_cast<uint8_t>(tile_rows);
    config.bytes_per_row[tile] = tile_rows > 0 ? kTileRowBytes : 0;
  };
  set(0, top);
  set(1, top);
  set(2, bottom);
  set(3, bottom);
  set(4, top);
  set(5, bottom);
  set(6, kHalf);
  set(7, kHalf);
  _tile_loadconfig(&config);
  configured_rows = rows;
}

// Releases the tile registers (after a thread's last tile of a call), so the thread's state is small again.
inline void release() {
  if (configured_rows != 0) _tile_release();
  configured_rows = 0;
}

// What one tile instruction multiplies: uint8 x int8 groups of 4 into int32 (tdpbusd), or bfloat16 pairs into
// float32 (tdpbf16ps).
enum class Product { kInt8, kBf16 };

// Where the 16-row tiles of A lie: the top tile of depth chunk c (16 groups) at a + c * chunk_bytes, its rows
// row_bytes apart, the bottom tile bottom_bytes after the top one.
struct ATiles {
  int64_t chunk_bytes, row_bytes, bottom_bytes;
};

// A's rows `lda` bytes apart, as given (row-major).
inline ATiles row_major_a(int64_t lda) { return {kTileRowBytes, lda, kHalf * lda}; }

// A packed tile by tile: per depth chunk, the top then the bottom 16 rows of 64 bytes, each tile 1 KiB of
// consecutive bytes (one sequential read per tile load instead of 16 rows a row length apart).
inline constexpr ATiles kTileMajorA = {2 * kHalf * kTileRowBytes, kTileRowBytes, kHalf* kTileRowBytes};

// Bytes the caller wants in L2 before its next block (the next B strip, streamed from memory), prefetched a few
// cache lines per depth chunk while this block runs; none when `bytes` is 0.
struct Prefetch {
  const char* start = nullptr;
  int64_t bytes = 0;
};

// The 32x32 block (its first `rows` rows, 1..32) of sums of A by a B strip, stored to `sums` (32 four-byte elements
// per row): A's tiles where `at` says, B's strip 32 columns wide (128 bytes per depth group), `groups` (a multiple
// of 16) depth groups of 4 bytes each. Loads the configuration for `rows` when another one is loaded.
template <Product P>
inline void multiply_block(int rows, int64_t groups, const char* a, const ATiles& at, const char* b, void* sums,
                           const Prefetch& prefetch = {}) {
  constexpr int64_t kBGroupBytes = 2 * kHalf * 4;
  constexpr int64_t kGroupsPerTile = kTileRowBytes / 4;
  constexpr int64_t kLine = 64;
  // Lines of `prefetch` per depth chunk, spread evenly over the chunks.
  const int64_t chunks = groups / kGroupsPerTile;
  const int64_t lines = prefetch.bytes / kLine;
  const int64_t lines_per_chunk = chunks > 0 ? (lines + chunks - 1) / chunks : 0;
  const char* next_line = prefetch.start;
  const char* const prefetch_end = prefetch.start + lines * kLine;
  configure(rows);
  const bool bottom = rows > kHalf;
  _tile_zero(0);
  _tile_zero(1);
  if (bottom) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t g = 0; g < groups; g += kGroupsPerTile) {
    for (int64_t i = 0; i < lines_per_chunk && next_line < prefetch_end; ++i, next_line += kLine) {
      _mm_prefetch(next_line, _MM_HINT_T1);
    }
    const char* a_top = a + g / kGroupsPerTile * at.chunk_bytes;
    _tile_loadd(4, a_top, at.row_bytes);
    _tile_loadd(6, b + g * kBGroupBytes, kBGroupBytes);
    _tile_loadd(7, b + g * kBGroupBytes + kTileRowBytes, kBGroupBytes);
    // GCC's tile intrinsics take the register numbers as literal tokens.
    if constexpr (P == Product::kInt8) {
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
    } else {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
    }
    if (bottom) {
      _tile_loadd(5, a_top + at.bottom_bytes, at.row_bytes);
      if constexpr (P == Product::kInt8) {
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      } else {
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
    }
  }
  constexpr int64_t kStride = 2 * kHalf * 4;
  char* out = static_cast<char*>(sums);
  _tile_stored(0, out, kStride);
  _tile_stored(1, out + kTileRowBytes, kStride);
  if (bottom) {
    _tile_stored(2, out + kHalf * kStride, kStride);
    _tile_stored(3, out + kHalf * kStride + kTileRowBytes, kStride);
  }
}

}  // namespace tessera::amx

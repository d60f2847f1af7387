#include "ops/conv/byte_transpose.h"

#include <algorithm>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tessera::conv {

namespace {

#if defined(__SSE2__)
// dst[j * ld_dst + i] = src[i * ld_src + j] ^ flip for one 16 x 16 byte block: 16 loads, four rounds of
// interleaves (bytes, then 2-, 4- and 8-byte units), 16 stores.
inline void transpose_16x16_bytes(const uint8_t* src, int64_t ld_src, uint8_t* dst, int64_t ld_dst, uint8_t flip) {
  __m128i r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * ld_src));
  for (int i = 0; i < 8; ++i) {
    t[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    t[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm_unpacklo_epi16(t[2 * i], t[2 * i + 1]);
    r[i + 4] = _mm_unpackhi_epi16(t[2 * i], t[2 * i + 1]);
    r[i + 8] = _mm_unpacklo_epi16(t[8 + 2 * i], t[8 + 2 * i + 1]);
    r[i + 12] = _mm_unpackhi_epi16(t[8 + 2 * i], t[8 + 2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {
    t[4 * q] = _mm_unpacklo_epi32(r[4 * q], r[4 * q + 1]);
    t[4 * q + 1] = _mm_unpackhi_epi32(r[4 * q], r[4 * q + 1]);
    t[4 * q + 2] = _mm_unpacklo_epi32(r[4 * q + 2], r[4 * q + 3]);
    t[4 * q + 3] = _mm_unpackhi_epi32(r[4 * q + 2], r[4 * q + 3]);
  }
  // t[4q + k] holds, for source rows 0-7 (k even: rows 0-3, 4-7 interleaved) ... combine halves by 8-byte units.
  for (int q = 0; q < 4; ++q) {
    r[4 * q] = _mm_unpacklo_epi64(t[4 * q], t[4 * q + 2]);
    r[4 * q + 1] = _mm_unpackhi_epi64(t[4 * q], t[4 * q + 2]);
    r[4 * q + 2] = _mm_unpacklo_epi64(t[4 * q + 1], t[4 * q + 3]);
    r[4 * q + 3] = _mm_unpackhi_epi64(t[4 * q + 1], t[4 * q + 3]);
  }
  const __m128i flips = _mm_set1_epi8(static_cast<char>(flip));
  for (int j = 0; j < 16; ++j) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j * ld_dst), _mm_xor_si128(r[j], flips));
  }
}
#endif

}  // namespace

// Restrict parameters: without them every byte store could alias the loop state, which GCC then reloads.
void transpose_bytes(int64_t rows, int64_t cols, const uint8_t* __restrict src, int64_t ld_src, uint8_t* __restrict dst,
                     int64_t ld_dst, uint8_t flip) {
  constexpr int64_t kBlock = 32;
  for (int64_t i0 = 0; i0 < rows; i0 += kBlock) {
    const int64_t i1 = std::min(rows, i0 + kBlock);
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
      const int64_t j1 = std::min(cols, j0 + kBlock);
      int64_t i_done = i0, j_done = j0;
#if defined(__SSE2__)
      const int64_t i16 = i0 + (i1 - i0) / 16 * 16, j16 = j0 + (j1 - j0) / 16 * 16;
      for (int64_t i = i0; i < i16; i += 16) {
        for (int64_t j = j0; j < j16; j += 16)
          transpose_16x16_bytes(src + i * ld_src + j, ld_src, dst + j * ld_dst + i, ld_dst, flip);
      }
      // The edges: columns past j16 for the 16-row blocks, then rows past i16.
      for (int64_t j = j16; j < j1; ++j) {
        for (int64_t i = i0; i < i16; ++i) dst[j * ld_dst + i] = src[i * ld_src + j] ^ flip;
      }
      i_done = i16;
#endif
      for (int64_t j = j_done; j < j1; ++j) {
        for (int64_t i = i_done; i < i1; ++i) dst[j * ld_dst + i] = src[i * ld_src + j] ^ flip;
      }
    }
  }
}

}  // namespace tessera::conv

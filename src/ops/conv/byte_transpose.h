// Byte-matrix transposes for the 8-bit convolutions (QLinearConv, ConvInteger): channel planes to channels-last
// and back.
#pragma once

#include <cstdint>

namespace tessera::conv {

// dst[j * ld_dst + i] = src[i * ld_src + j] ^ flip for a rows x cols byte matrix, in cache-sized blocks (16 x 16
// register blocks where SSE2 is there, the edges byte by byte). flip 0x80 turns int8 values into uint8 ones + 128.
// src and dst must not overlap.
void transpose_bytes(int64_t rows, int64_t cols, const uint8_t* __restrict src, int64_t ld_src, uint8_t* __restrict dst,
                     int64_t ld_dst, uint8_t flip);

}  // namespace tessera::conv

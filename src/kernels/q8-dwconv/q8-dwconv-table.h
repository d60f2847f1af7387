// The per-ISA table of q8-dwconv and the padded plane's layout, shared by the driver and the ISA files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/q8-dwconv/q8-dwconv.h"

namespace tessera::q8_dwconv {

using DwConvFn = void (*)(const Window2d& w, const uint8_t* x, bool x_signed, int32_t x_zero_point,
                          const int16_t* weights, int32_t bias, int32_t* sums, void* scratch);

using DwConvNhwcFn = void (*)(const Window2d& w, int64_t channels, int64_t ld, const uint8_t* x, bool x_signed,
                              const int16_t* weights, int32_t* sums, void* scratch);

struct Q8DwConvSet {
  const char* name;
  DwConvFn run;
  DwConvNhwcFn run_nhwc;
};

extern const Q8DwConvSet kPortableSet;
#if defined(__x86_64__)
extern const Q8DwConvSet kAvx2Set;
extern const Q8DwConvSet kAvx512Set;
#endif

// Outputs per block of the widest variant (AVX-512: 16 int32 lanes; column stride 1 computes even and odd outputs,
// two registers): the layout is the same for every variant, so scratch sizes do not depend on the one selected.
inline constexpr int64_t kMaxLanes = 16;

// The padded plane: `rows` rows of `width` bytes (padded row r is input row r - pad_top, padded column c input
// column c - pad_left; the padding holds the zero point's byte, so every tap's x - zero point is 0 there), then one
// row of sums of `row_outputs` int32 (out_w rounded up to whole blocks) at the next 64-byte boundary.
struct PlaneLayout {
  int64_t rows, width, row_outputs;
  int64_t plane_bytes() const { return (rows * width + 63) / 64 * 64; }
  int64_t bytes() const { return plane_bytes() + row_outputs * 4 + 64; }
};

inline PlaneLayout plane_layout(const Window2d& w) {
  PlaneLayout layout;
  layout.rows = (w.out_h - 1) * w.stride_h + 3;
  // Stride 1: blocks of 2 x lanes outputs, read at offsets 0..3 of their first column; stride 2: blocks of lanes
  // outputs, read at offsets 0 and 2 of twice their first column. Each read covers 2 x lanes bytes.
  const int64_t block = w.stride_w == 1 ? 2 * kMaxLanes : kMaxLanes;
  layout.row_outputs = (w.out_w + block - 1) / block * block;
  const int64_t width = w.stride_w == 1 ? layout.row_outputs + 3 : 2 * layout.row_outputs + 2;
  layout.width = (width + 15) / 16 * 16;
  return layout;
}

// Copies n bytes in 16-byte moves (constant-size copies the compiler inlines; a library call per short row cost more
// than the row), the last one overlapping the one before it; shorter spans byte by byte.
inline void copy_bytes(uint8_t* dst, const uint8_t* src, int64_t n) {
  if (n < 16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
    return;
  }
  for (int64_t i = 0; i + 16 < n; i += 16) std::memcpy(dst + i, src + i, 16);
  std::memcpy(dst + n - 16, src + n - 16, 16);
}

// Fills the padded plane of x (bytes as they are) with the zero point's byte around it: each row first filled with
// it in 16-byte moves (width is a multiple of 16), then the input row copied over.
inline void fill_plane(const Window2d& w, const PlaneLayout& layout, const uint8_t* x, uint8_t zero_point,
                       uint8_t* plane) {
  uint8_t pattern[16];
  std::memset(pattern, zero_point, sizeof pattern);
  const int64_t first = std::min(w.pad_left, layout.width);
  const int64_t last = std::clamp<int64_t>(w.pad_left + w.in_w, first, layout.width);  // input columns end
  for (int64_t r = 0; r < layout.rows; ++r) {
    uint8_t* row = plane + r * layout.width;
    for (int64_t c = 0; c < layout.width; c += 16) std::memcpy(row + c, pattern, 16);
    const int64_t iy = r - w.pad_top;
    if (iy >= 0 && iy < w.in_h) copy_bytes(row + first, x + iy * w.in_w, last - first);
  }
}

// The bias with the zero point's terms folded in: bias - zero_point * sum(weights), modulo 2^32, so that the sums
// of weights times the bytes as they are (padding included) give bias + sum(weights * (x - zero_point)).
inline int32_t folded_bias(int32_t bias, int32_t zero_point, const int16_t* weights) {
  uint32_t sum = static_cast<uint32_t>(bias);
  for (int k = 0; k < 9; ++k) sum -= static_cast<uint32_t>(zero_point * static_cast<int32_t>(weights[k]));
  return static_cast<int32_t>(sum);
}

// The channels-last form's weights for a register of `lanes` int16 (2 x the int32 lanes) over channels [c0, c0 +
// lanes): per pair of taps (a, b) = (0, 1), (2, 3), (4, 5), (6, 7), (8, none), the two registers vpmaddwd multiplies
// with the taps' values interleaved by unpacklo / unpackhi within each 128-bit lane: `lo` pairs (w_a, w_b) of
// channels c0 + 8k + i, `hi` of c0 + 8k + 4 + i (128-bit lane k, i < 4). Channels from `channels` on get 0.
// out: 5 pairs x 2 registers x lanes int16.
inline void interleave_nhwc_weights(const int16_t* weights, int64_t channels, int64_t c0, int lanes, int16_t* out) {
  const auto weight = [&](int64_t c, int tap) -> int16_t {
    return c < channels && tap < 9 ? weights[c * 9 + tap] : int16_t{0};
  };
  for (int pair = 0; pair < 5; ++pair) {
    int16_t* lo = out + (pair * 2) * lanes;
    int16_t* hi = lo + lanes;
    for (int k = 0; k < lanes / 8; ++k) {
      for (int i = 0; i < 4; ++i) {
        lo[2 * (4 * k + i)] = weight(c0 + 8 * k + i, 2 * pair);
        lo[2 * (4 * k + i) + 1] = weight(c0 + 8 * k + i, 2 * pair + 1);
        hi[2 * (4 * k + i)] = weight(c0 + 8 * k + 4 + i, 2 * pair);
        hi[2 * (4 * k + i) + 1] = weight(c0 + 8 * k + 4 + i, 2 * pair + 1);
      }
    }
  }
}

// The weight pairs as vpmaddwd multiplies them: (w[dy][0], w[dy][1]) and (w[dy][2], 0), low half first.
inline int32_t weight_pair(int16_t low, int16_t high) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(low)) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(high)) << 16));
}

}  // namespace tessera::q8_dwconv

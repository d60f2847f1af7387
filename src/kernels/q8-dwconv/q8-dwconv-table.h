// The per-ISA table of q8-dwconv and the padded plane's layout, shared by the driver and the ISA files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/q8-dwconv/q8-dwconv.h"

namespace tessera::q8_dwconv {

using DwConvFn = void (*)(const Window2d& w, const uint8_t* x, bool x_signed, int32_t x_zero_point,
                          const int16_t* weights, int32_t bias, int32_t* sums, void* scratch);

struct Q8DwConvSet {
  const char* name;
  DwConvFn run;
};

extern const Q8DwConvSet kPortableSet;
#if defined(__x86_64__)
extern const Q8DwConvSet kAvx2Set;
extern const Q8DwConvSet kAvx512Set;
#endif

// Outputs per block of the widest variant (AVX-512: 16 int32 lanes; column stride 1 computes even and odd outputs,
// two registers): the layout is the same for every variant, so scratch sizes do not depend on the one selected.
inline constexpr int64_t kMaxLanes = 16;

// The zero-padded int16 plane: `rows` rows of `width` values (padded row r is input row r - pad_top, padded column
// c input column c - pad_left), then one row of sums of `row_outputs` int32 (out_w rounded up to whole blocks).
struct PlaneLayout {
  int64_t rows, width, row_outputs;
  int64_t bytes() const { return rows * width * 2 + row_outputs * 4 + 64; }
};

inline PlaneLayout plane_layout(const Window2d& w) {
  PlaneLayout layout;
  layout.rows = (w.out_h - 1) * w.stride_h + 3;
  // Stride 1: blocks of 2 x lanes outputs, read at offsets 0..3 of their first column; stride 2: blocks of lanes
  // outputs, read at offsets 0 and 2 of twice their first column.
  const int64_t block = w.stride_w == 1 ? 2 * kMaxLanes : kMaxLanes;
  layout.row_outputs = (w.out_w + block - 1) / block * block;
  const int64_t width = w.stride_w == 1 ? layout.row_outputs + 3 : 2 * layout.row_outputs + 2;
  layout.width = (width + 15) / 16 * 16;
  return layout;
}

// Fills the padded plane of x: rows x width int16 values x - zero point inside the input, 0 outside. Written as
// plain loops that each ISA file's compiler vectorizes.
template <typename T>
inline void fill_plane(const Window2d& w, const PlaneLayout& layout, const T* x, int32_t zero_point, int16_t* plane) {
  const int64_t first = std::min(w.pad_left, layout.width);
  const int64_t last = std::clamp<int64_t>(w.pad_left + w.in_w, first, layout.width);  // input columns end
  for (int64_t r = 0; r < layout.rows; ++r) {
    int16_t* row = plane + r * layout.width;
    const int64_t iy = r - w.pad_top;
    if (iy < 0 || iy >= w.in_h) {
      std::memset(row, 0, static_cast<size_t>(layout.width) * sizeof(int16_t));
      continue;
    }
    const T* src = x + iy * w.in_w;
    int16_t* dst = row + first;
    const int64_t count = last - first;
    std::memset(row, 0, static_cast<size_t>(first) * sizeof(int16_t));
    for (int64_t c = 0; c < count; ++c) dst[c] = static_cast<int16_t>(static_cast<int32_t>(src[c]) - zero_point);
    std::memset(row + last, 0, static_cast<size_t>(layout.width - last) * sizeof(int16_t));
  }
}

// The weight pairs as vpmaddwd multiplies them: (w[dy][0], w[dy][1]) and (w[dy][2], 0), low half first.
inline int32_t weight_pair(int16_t low, int16_t high) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(low)) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(high)) << 16));
}

}  // namespace tessera::q8_dwconv

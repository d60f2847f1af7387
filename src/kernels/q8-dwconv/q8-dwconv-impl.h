// The SIMD form of q8-dwconv (see q8-dwconv.h), written once over an ISA's traits and instantiated by the AVX2 and
// AVX-512 files. Isa provides V (kLanes int32 lanes), kLanes, load(const int16_t*) (2 * kLanes int16 at any
// offset), set1(int32), madd_add(acc, x, w) (acc + vpmaddwd(x, w)), store(int32_t*, V) and
// store_interleaved(int32_t*, even, odd) (2 * kLanes outputs: even[i] at 2i, odd[i] at 2i + 1).
#pragma once

#include <cstring>

#include "kernels/q8-dwconv/q8-dwconv-table.h"

namespace tessera::q8_dwconv {
namespace {

template <typename Isa>
void run_3x3(const Window2d& w, const uint8_t* x, bool x_signed, int32_t x_zero_point, const int16_t* weights,
             int32_t bias, int32_t* sums, void* scratch) {
  using V = typename Isa::V;
  constexpr int64_t kL = Isa::kLanes;
  const PlaneLayout layout = plane_layout(w);
  int16_t* const plane = static_cast<int16_t*>(scratch);
  int32_t* const row_sums = reinterpret_cast<int32_t*>(plane + layout.rows * layout.width);
  if (x_signed)
    fill_plane(w, layout, reinterpret_cast<const int8_t*>(x), x_zero_point, plane);
  else
    fill_plane(w, layout, x, x_zero_point, plane);
  V pair01[3], pair2[3];
  for (int dy = 0; dy < 3; ++dy) {
    pair01[dy] = Isa::set1(weight_pair(weights[dy * 3], weights[dy * 3 + 1]));
    pair2[dy] = Isa::set1(weight_pair(weights[dy * 3 + 2], 0));
  }
  const V start = Isa::set1(bias);
  for (int64_t oy = 0; oy < w.out_h; ++oy) {
    const int16_t* r0 = plane + oy * w.stride_h * layout.width;
    const int16_t* r1 = r0 + layout.width;
    const int16_t* r2 = r1 + layout.width;
    // Whole blocks straight into the sums where the row holds them, the last partial one through row_sums.
    int32_t* const out = sums + oy * w.out_w;
    if (w.stride_w == 1) {
      for (int64_t j0 = 0; j0 < w.out_w; j0 += 2 * kL) {
        V even = start, odd = start;
        const int16_t* const rows[3] = {r0 + j0, r1 + j0, r2 + j0};
        for (int dy = 0; dy < 3; ++dy) {
          const int16_t* const p = rows[dy];
          even = Isa::madd_add(even, Isa::load(p), pair01[dy]);
          odd = Isa::madd_add(odd, Isa::load(p + 1), pair01[dy]);
          even = Isa::madd_add(even, Isa::load(p + 2), pair2[dy]);
          odd = Isa::madd_add(odd, Isa::load(p + 3), pair2[dy]);
        }
        if (j0 + 2 * kL <= w.out_w) {
          Isa::store_interleaved(out + j0, even, odd);
        } else {
          Isa::store_interleaved(row_sums, even, odd);
          for (int64_t j = j0; j < w.out_w; ++j) out[j] = row_sums[j - j0];
        }
      }
    } else {
      for (int64_t j0 = 0; j0 < w.out_w; j0 += kL) {
        V acc = start;
        const int16_t* const rows[3] = {r0 + 2 * j0, r1 + 2 * j0, r2 + 2 * j0};
        for (int dy = 0; dy < 3; ++dy) {
          acc = Isa::madd_add(acc, Isa::load(rows[dy]), pair01[dy]);
          acc = Isa::madd_add(acc, Isa::load(rows[dy] + 2), pair2[dy]);
        }
        if (j0 + kL <= w.out_w) {
          Isa::store(out + j0, acc);
        } else {
          Isa::store(row_sums, acc);
          for (int64_t j = j0; j < w.out_w; ++j) out[j] = row_sums[j - j0];
        }
      }
    }
  }
}

}  // namespace
}  // namespace tessera::q8_dwconv

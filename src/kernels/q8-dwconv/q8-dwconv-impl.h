// The SIMD form of q8-dwconv (see q8-dwconv.h), written once over an ISA's traits and instantiated by the AVX2 and
// AVX-512 files. Isa provides V (kLanes int32 lanes), kLanes, load<Signed>(const uint8_t*) (2 * kLanes bytes at any
// offset widened to int16, sign- or zero-extended), set1(int32), madd_add(acc, x, w) (acc + vpmaddwd(x, w)),
// store(int32_t*, V) and store_interleaved(int32_t*, even, odd) (2 * kLanes outputs: even[i] at 2i, odd[i] at
// 2i + 1); for the channels-last form also zero(), load_s16(const int16_t*) (2 * kLanes int16), unpacklo16 /
// unpackhi16 (within 128-bit lanes) and store_halves(int32_t*, lo, hi) (2 * kLanes int32: the 128-bit lanes of lo and
// hi alternating, lo's first).
#pragma once

#include <cstring>

#include "kernels/q8-dwconv/q8-dwconv-table.h"

namespace tessera::q8_dwconv {
namespace {

template <typename Isa, bool Signed>
void rows_3x3(const Window2d& w, const PlaneLayout& layout, const uint8_t* plane, const int16_t* weights, int32_t bias,
              int32_t* sums, int32_t* row_sums) {
  using V = typename Isa::V;
  constexpr int64_t kL = Isa::kLanes;
  const V w01_0 = Isa::set1(weight_pair(weights[0], weights[1])), w2_0 = Isa::set1(weight_pair(weights[2], 0));
  const V w01_1 = Isa::set1(weight_pair(weights[3], weights[4])), w2_1 = Isa::set1(weight_pair(weights[5], 0));
  const V w01_2 = Isa::set1(weight_pair(weights[6], weights[7])), w2_2 = Isa::set1(weight_pair(weights[8], 0));
  const V start = Isa::set1(bias);
  const auto load = [](const uint8_t* p) { return Isa::template load<Signed>(p); };
  for (int64_t oy = 0; oy < w.out_h; ++oy) {
    const uint8_t* r0 = plane + oy * w.stride_h * layout.width;
    const uint8_t* r1 = r0 + layout.width;
    const uint8_t* r2 = r1 + layout.width;
    // Whole blocks straight into the sums; a row of at least one block ends with a block shifted back to end at
    // out_w (recomputing a few outputs) instead of a partial one, which narrower rows store through row_sums.
    int32_t* const out = sums + oy * w.out_w;
    if (w.stride_w == 1) {
      for (int64_t next = 0; next < w.out_w; next += 2 * kL) {
        const int64_t j0 = next + 2 * kL > w.out_w && w.out_w >= 2 * kL ? w.out_w - 2 * kL : next;
        V even = Isa::madd_add(start, load(r0 + j0), w01_0);
        V odd = Isa::madd_add(start, load(r0 + j0 + 1), w01_0);
        even = Isa::madd_add(even, load(r0 + j0 + 2), w2_0);
        odd = Isa::madd_add(odd, load(r0 + j0 + 3), w2_0);
        even = Isa::madd_add(even, load(r1 + j0), w01_1);
        odd = Isa::madd_add(odd, load(r1 + j0 + 1), w01_1);
        even = Isa::madd_add(even, load(r1 + j0 + 2), w2_1);
        odd = Isa::madd_add(odd, load(r1 + j0 + 3), w2_1);
        even = Isa::madd_add(even, load(r2 + j0), w01_2);
        odd = Isa::madd_add(odd, load(r2 + j0 + 1), w01_2);
        even = Isa::madd_add(even, load(r2 + j0 + 2), w2_2);
        odd = Isa::madd_add(odd, load(r2 + j0 + 3), w2_2);
        if (j0 + 2 * kL <= w.out_w) {
          Isa::store_interleaved(out + j0, even, odd);
        } else {
          Isa::store_interleaved(row_sums, even, odd);
          for (int64_t j = j0; j < w.out_w; ++j) out[j] = row_sums[j - j0];
        }
      }
    } else {
      for (int64_t next = 0; next < w.out_w; next += kL) {
        const int64_t j0 = next + kL > w.out_w && w.out_w >= kL ? w.out_w - kL : next;
        const int64_t c = 2 * j0;
        V acc = Isa::madd_add(start, load(r0 + c), w01_0);
        acc = Isa::madd_add(acc, load(r0 + c + 2), w2_0);
        acc = Isa::madd_add(acc, load(r1 + c), w01_1);
        acc = Isa::madd_add(acc, load(r1 + c + 2), w2_1);
        acc = Isa::madd_add(acc, load(r2 + c), w01_2);
        acc = Isa::madd_add(acc, load(r2 + c + 2), w2_2);
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

template <typename Isa>
void run_3x3(const Window2d& w, const uint8_t* x, bool x_signed, int32_t x_zero_point, const int16_t* weights,
             int32_t bias, int32_t* sums, void* scratch) {
  const PlaneLayout layout = plane_layout(w);
  uint8_t* const plane = static_cast<uint8_t*>(scratch);
  int32_t* const row_sums = reinterpret_cast<int32_t*>(plane + layout.plane_bytes());
  fill_plane(w, layout, x, static_cast<uint8_t>(x_zero_point), plane);
  const int32_t folded = folded_bias(bias, x_zero_point, weights);
  if (x_signed)
    rows_3x3<Isa, true>(w, layout, plane, weights, folded, sums, row_sums);
  else
    rows_3x3<Isa, false>(w, layout, plane, weights, folded, sums, row_sums);
}

// The channels-last form (see q8_dwconv3x3_nhwc): channel groups of 2 x kLanes, each group's ten weight registers
// held while every output position of the block runs; per position the nine taps' bytes are widened, interleaved
// two taps at a time (the ninth with zeros) and multiplied by vpmaddwd into two accumulators, whose 128-bit lanes
// hold channels 8k..8k+3 and 8k+4..8k+7, put back in order by store_halves.
template <typename Isa, bool Signed>
void nhwc_groups(const Window2d& w, int64_t channels, int64_t ld, const uint8_t* x, const int16_t* weights,
                 int32_t* sums, int16_t* interleaved) {
  using V = typename Isa::V;
  constexpr int kGroup = 2 * static_cast<int>(Isa::kLanes);  // channels (int16 lanes) per register
  const int64_t cols = (w.out_w - 1) * w.stride_w + 3;
  const int64_t row_bytes = cols * ld;
  for (int64_t c0 = 0; c0 < ld; c0 += kGroup) {
    interleave_nhwc_weights(weights, channels, c0, kGroup, interleaved);
    V lo_w[5], hi_w[5];
    for (int pair = 0; pair < 5; ++pair) {
      lo_w[pair] = Isa::load_s16(interleaved + (pair * 2) * kGroup);
      hi_w[pair] = Isa::load_s16(interleaved + (pair * 2 + 1) * kGroup);
    }
    const auto load = [](const uint8_t* p) { return Isa::template load<Signed>(p); };
    for (int64_t oy = 0; oy < w.out_h; ++oy) {
      const uint8_t* r0 = x + oy * w.stride_h * row_bytes + c0;
      const uint8_t* r1 = r0 + row_bytes;
      const uint8_t* r2 = r1 + row_bytes;
      int32_t* out = sums + oy * w.out_w * ld + c0;
      for (int64_t ox = 0; ox < w.out_w; ++ox, out += ld) {
        const int64_t c = ox * w.stride_w * ld;
        // Taps in order: (r0, 0), (r0, 1), (r0, 2), (r1, 0), ... (r2, 2).
        const V t0 = load(r0 + c), t1 = load(r0 + c + ld), t2 = load(r0 + c + 2 * ld);
        const V t3 = load(r1 + c), t4 = load(r1 + c + ld), t5 = load(r1 + c + 2 * ld);
        const V t6 = load(r2 + c), t7 = load(r2 + c + ld), t8 = load(r2 + c + 2 * ld);
        const V zero = Isa::zero();
        V lo = Isa::madd_add(zero, Isa::unpacklo16(t0, t1), lo_w[0]);
        V hi = Isa::madd_add(zero, Isa::unpackhi16(t0, t1), hi_w[0]);
        lo = Isa::madd_add(lo, Isa::unpacklo16(t2, t3), lo_w[1]);
        hi = Isa::madd_add(hi, Isa::unpackhi16(t2, t3), hi_w[1]);
        lo = Isa::madd_add(lo, Isa::unpacklo16(t4, t5), lo_w[2]);
        hi = Isa::madd_add(hi, Isa::unpackhi16(t4, t5), hi_w[2]);
        lo = Isa::madd_add(lo, Isa::unpacklo16(t6, t7), lo_w[3]);
        hi = Isa::madd_add(hi, Isa::unpackhi16(t6, t7), hi_w[3]);
        lo = Isa::madd_add(lo, Isa::unpacklo16(t8, zero), lo_w[4]);
        hi = Isa::madd_add(hi, Isa::unpackhi16(t8, zero), hi_w[4]);
        Isa::store_halves(out, lo, hi);
      }
    }
  }
}

template <typename Isa>
void run_nhwc(const Window2d& w, int64_t channels, int64_t ld, const uint8_t* x, bool x_signed, const int16_t* weights,
              int32_t* sums, void* scratch) {
  int16_t* const interleaved = static_cast<int16_t*>(scratch);
  if (x_signed)
    nhwc_groups<Isa, true>(w, channels, ld, x, weights, sums, interleaved);
  else
    nhwc_groups<Isa, false>(w, channels, ld, x, weights, sums, interleaved);
}

}  // namespace
}  // namespace tessera::q8_dwconv

// The Winograd F(4x4, 3x3) tile transforms, instantiated by each ISA file (f32-winograd-avx512.cpp, ...).
// Internal linkage only; include only from those files.
#pragma once

#include <algorithm>
#include <array>

#include "kernels/f32-winograd/f32-winograd-table.h"

namespace tessera::f32_winograd {
namespace {

constexpr int kTile = 4;   // outputs per tile side
constexpr int kInput = 6;  // input tile side
constexpr int kXi = kInput * kInput;

// Channels transformed together: the 1-D transforms below run on arrays of kLanes, which the compiler vectorizes,
// and V / M hold channels contiguously, so a block's loads and stores are contiguous too.
constexpr int kLanes = 16;
using Lanes = std::array<float, kLanes>;

// B^T applied to 6 values (each a block of channels): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
// 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
inline void input_transform_1d(const Lanes* in, int stride, Lanes* out, int out_stride) {
  for (int l = 0; l < kLanes; ++l) {
    const float d0 = in[0][l], d1 = in[stride][l], d2 = in[2 * stride][l], d3 = in[3 * stride][l],
                d4 = in[4 * stride][l], d5 = in[5 * stride][l];
    out[0][l] = 4 * d0 - 5 * d2 + d4;
    out[out_stride][l] = -4 * d1 - 4 * d2 + d3 + d4;
    out[2 * out_stride][l] = 4 * d1 - 4 * d2 - d3 + d4;
    out[3 * out_stride][l] = -2 * d1 - d2 + 2 * d3 + d4;
    out[4 * out_stride][l] = 2 * d1 - d2 - 2 * d3 + d4;
    out[5 * out_stride][l] = 4 * d1 - 5 * d3 + d5;
  }
}

// A^T applied to 6 values (4 from 6), A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
inline void output_transform_1d(const Lanes* in, int stride, Lanes* out, int out_stride) {
  for (int l = 0; l < kLanes; ++l) {
    const float m0 = in[0][l], m1 = in[stride][l], m2 = in[2 * stride][l], m3 = in[3 * stride][l],
                m4 = in[4 * stride][l], m5 = in[5 * stride][l];
    const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
    out[0][l] = m0 + a + c;
    out[out_stride][l] = b + 2 * d;
    out[2 * out_stride][l] = a + 4 * c;
    out[3 * out_stride][l] = b + 8 * d + m5;
  }
}

// V[xi][t][c] for tiles [t0, t1) of one image: the transformed 6x6 input tiles, kLanes channels at a time.
void transform_input(const WinogradPlanes& g, const float* x, int64_t t0, int64_t t1, float* v) {
  const int64_t in_h = g.in_h, in_w = g.in_w;
  const int64_t channels = g.in_channels;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t ih0 = (t / g.tiles_w) * kTile - g.pad_top, iw0 = (t % g.tiles_w) * kTile - g.pad_left;
    const bool interior = ih0 >= 0 && iw0 >= 0 && ih0 + kInput <= in_h && iw0 + kInput <= in_w;
    for (int64_t c0 = 0; c0 < channels; c0 += kLanes) {
      const int count = static_cast<int>(std::min<int64_t>(kLanes, channels - c0));
      Lanes d[kXi];
      // A partial block's missing channels are zeros; a whole block is overwritten below (no zeroing pass).
      if (count < kLanes) std::fill(&d[0][0], &d[0][0] + kXi * kLanes, 0.0f);
      for (int lane = 0; lane < count; ++lane) {
        const float* plane = x + (c0 + lane) * g.in_size;
        if (interior) {
          for (int r = 0; r < kInput; ++r) {
            const float* row = plane + (ih0 + r) * in_w + iw0;
            for (int s = 0; s < kInput; ++s) d[r * kInput + s][lane] = row[s];
          }
        } else {
          for (int r = 0; r < kInput; ++r) {
            const int64_t ih = ih0 + r;
            for (int s = 0; s < kInput; ++s) {
              const int64_t iw = iw0 + s;
              d[r * kInput + s][lane] = (ih >= 0 && ih < in_h && iw >= 0 && iw < in_w) ? plane[ih * in_w + iw] : 0.0f;
            }
          }
        }
      }
      Lanes rows[kXi], out[kXi];
      for (int s = 0; s < kInput; ++s) input_transform_1d(d + s, kInput, rows + s, kInput);  // B^T d
      for (int r = 0; r < kInput; ++r) input_transform_1d(rows + r * kInput, 1, out + r * kInput, 1);  // (.) B
      for (int xi = 0; xi < kXi; ++xi) {
        float* dst = v + (xi * g.tiles + t) * channels + c0;
        // A whole block as a fixed-size copy (vector moves; a variable-length one becomes a slow `rep movs`).
        if (count == kLanes) {
          std::copy(out[xi].begin(), out[xi].end(), dst);
        } else {
          for (int lane = 0; lane < count; ++lane) dst[lane] = out[xi][lane];
        }
      }
    }
  }
}

// y for tiles [t0, t1) of one image from M[xi][t][m]: A^T m A, plus bias, clamped, written where it lands in y.
void transform_output(const WinogradPlanes& g, const float* mprod, const float* bias, float lo, float hi, int64_t t0,
                      int64_t t1, float* y) {
  const int64_t out_h = g.out_h, out_w = g.out_w;
  const int64_t channels = g.out_channels;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t oh0 = (t / g.tiles_w) * kTile, ow0 = (t % g.tiles_w) * kTile;
    const int64_t rows = std::min<int64_t>(kTile, out_h - oh0), cols = std::min<int64_t>(kTile, out_w - ow0);
    for (int64_t m0 = 0; m0 < channels; m0 += kLanes) {
      const int count = static_cast<int>(std::min<int64_t>(kLanes, channels - m0));
      Lanes tile[kXi];
      for (int xi = 0; xi < kXi; ++xi) {
        const float* src = mprod + (xi * g.tiles + t) * channels + m0;
        if (count == kLanes) {
          std::copy(src, src + kLanes, tile[xi].begin());  // fixed size: vector moves, not `rep movs`
        } else {
          tile[xi].fill(0.0f);
          for (int lane = 0; lane < count; ++lane) tile[xi][lane] = src[lane];
        }
      }
      Lanes half[kTile * kInput], out[kTile * kTile];
      for (int s = 0; s < kInput; ++s) output_transform_1d(tile + s, kInput, half + s, kInput);  // A^T m: 4 x 6
      for (int r = 0; r < kTile; ++r) output_transform_1d(half + r * kInput, 1, out + r * kTile, 1);  // (.) A
      for (int lane = 0; lane < count; ++lane) {
        const float b = bias ? bias[m0 + lane] : 0.0f;
        float* plane = y + (m0 + lane) * g.out_size;
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t s = 0; s < cols; ++s) {
            plane[(oh0 + r) * out_w + ow0 + s] = std::min(std::max(out[r * kTile + s][lane] + b, lo), hi);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace tessera::f32_winograd

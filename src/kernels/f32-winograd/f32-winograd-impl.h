// The Winograd F(4x4, 3x3) and F(2x2, 3x3) tile transforms, instantiated by each ISA file (f32-winograd-avx512.cpp,
// ...). Internal linkage only; include only from those files.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "kernels/f32-winograd/f32-winograd-table.h"
#if defined(__AVX2__)
#include "kernels/float_register_ops.h"
#endif

namespace tessera::f32_winograd {
namespace {

// Channels transformed together: the 1-D transforms below run on arrays of kLanes, which the compiler vectorizes,
// and V / M hold channels contiguously, so a block's loads and stores are contiguous too.
constexpr int kLanes = 16;
using Lanes = std::array<float, kLanes>;

// The 1-D transforms of F(kTile x kTile, 3x3): kInput input values per tile side.
template <int kTile>
struct Transforms;

// F(4x4, 3x3), points 0, +-1, +-2, infinity (Lavin & Gray).
template <>
struct Transforms<4> {
  static constexpr int kInput = 6;
  // B^T applied to 6 values (each a block of channels): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
  // 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
  static void input_1d(const Lanes* in, int stride, Lanes* out, int out_stride) {
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
  // A^T applied to 6 values (4 from 6), A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]. Value k of
  // lane l at in[k * stride + l] (floats: a block of M read in place, or a Lanes array with stride kLanes).
  static void output_1d(const float* in, int64_t stride, Lanes* out, int out_stride) {
    for (int l = 0; l < kLanes; ++l) {
      const float m0 = in[l], m1 = in[stride + l], m2 = in[2 * stride + l], m3 = in[3 * stride + l],
                  m4 = in[4 * stride + l], m5 = in[5 * stride + l];
      const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
      out[0][l] = m0 + a + c;
      out[out_stride][l] = b + 2 * d;
      out[2 * out_stride][l] = a + 4 * c;
      out[3 * out_stride][l] = b + 8 * d + m5;
    }
  }
};

// F(2x2, 3x3), points 0, +-1, infinity.
template <>
struct Transforms<2> {
  static constexpr int kInput = 4;
  // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
  static void input_1d(const Lanes* in, int stride, Lanes* out, int out_stride) {
    for (int l = 0; l < kLanes; ++l) {
      const float d0 = in[0][l], d1 = in[stride][l], d2 = in[2 * stride][l], d3 = in[3 * stride][l];
      out[0][l] = d0 - d2;
      out[out_stride][l] = d1 + d2;
      out[2 * out_stride][l] = d2 - d1;
      out[3 * out_stride][l] = d1 - d3;
    }
  }
  // A^T = [1 1 1 0; 0 1 -1 -1] (2 from 4); the values as in Transforms<4>::output_1d.
  static void output_1d(const float* in, int64_t stride, Lanes* out, int out_stride) {
    for (int l = 0; l < kLanes; ++l) {
      const float m0 = in[l], m1 = in[stride + l], m2 = in[2 * stride + l], m3 = in[3 * stride + l];
      out[0][l] = m0 + m1 + m2;
      out[out_stride][l] = m1 - m2 - m3;
    }
  }
};

#if defined(__AVX2__)
// The gather of transform_input for 8 channels of one interior tile row: first + c * plane points at the tile's
// kColumns (6 or 4) input floats of channel c in that row (and 8 - kColumns readable floats after them); their
// values land transposed, column s of the tile in d[s][offset .. offset + 8) (channel c at offset + c). Eight loads and
// one 8x8 register transpose in place of 48 scalar loads and stores: the transforms were 63% of ResNet-50's 64-channel
// 3x3 layer at 56x56 (Zen 3). With kMasked, only the lanes `columns` selects are read (the others are zeros): a border
// tile's columns outside the plane; `first` then points at the row's first float and the tile starts `shift` floats
// from it (negative at the left edge: the address of a lane before the row is formed as an integer, never as a pointer
// outside x).
template <int kColumns, bool kMasked>
inline void gather_tile_row8(const float* first, int64_t plane, Lanes* d, int offset, [[maybe_unused]] __m256i columns,
                             [[maybe_unused]] int64_t shift) {
  const auto load = [&](int c) {
    if constexpr (kMasked) {
      const auto lane0 = reinterpret_cast<std::uintptr_t>(first + c * plane) + shift * int64_t{sizeof(float)};
      return _mm256_maskload_ps(reinterpret_cast<const float*>(lane0), columns);
    } else {
      return _mm256_loadu_ps(first + c * plane);
    }
  };
  __m256 r[8];
  for (int c = 0; c < 8; ++c) r[c] = load(c);
  Avx2FloatOps::transpose(r);  // r[s]: column s of the 8 channels
  for (int s = 0; s < kColumns; ++s) _mm256_storeu_ps(d[s].data() + offset, r[s]);
}

// The scatter of transform_output for 8 channels of one output tile row: (*out[s])[offset + c] (s < 4) is output
// column s of channel c, its first `cols` (1-4) stored consecutively at first + c * plane (one 4x8 register
// transpose, eight stores of up to 16 bytes in place of up to 32 scalar ones). The columns come by pointer, so a
// 2-wide row passes its two columns twice without copying them.
inline void scatter_tile_row8(const Lanes* const (&out)[4], int offset, float* first, int64_t plane, int cols) {
  const __m256 o0 = _mm256_loadu_ps(out[0]->data() + offset), o1 = _mm256_loadu_ps(out[1]->data() + offset);
  const __m256 o2 = _mm256_loadu_ps(out[2]->data() + offset), o3 = _mm256_loadu_ps(out[3]->data() + offset);
  const __m256 u0 = _mm256_unpacklo_ps(o0, o1), u1 = _mm256_unpackhi_ps(o0, o1);
  const __m256 u2 = _mm256_unpacklo_ps(o2, o3), u3 = _mm256_unpackhi_ps(o2, o3);
  // w_k: channel k (low half) and channel k + 4 (high half), columns 0-3.
  const __m256 w0 = _mm256_shuffle_ps(u0, u2, 0x44), w1 = _mm256_shuffle_ps(u0, u2, 0xEE);
  const __m256 w2 = _mm256_shuffle_ps(u1, u3, 0x44), w3 = _mm256_shuffle_ps(u1, u3, 0xEE);
  // Channel c's columns in the low half of a register (Avx2FloatOps::store_n writes only the first `cols` lanes).
  const __m256 channels[8] = {w0,
                              w1,
                              w2,
                              w3,
                              _mm256_permute2f128_ps(w0, w0, 0x11),
                              _mm256_permute2f128_ps(w1, w1, 0x11),
                              _mm256_permute2f128_ps(w2, w2, 0x11),
                              _mm256_permute2f128_ps(w3, w3, 0x11)};
  for (int c = 0; c < 8; ++c) Avx2FloatOps::store_n(first + c * plane, channels[c], cols);
}
#endif

// B^T d B of one block of `count` channels of tile t (d: the kInput x kInput input values, channels in lanes),
// stored into V[t][xi][c0 ..) (each tile kXi rows of `channels` channels).
template <int kTile>
inline void transform_block(const Lanes* d, float* v, int64_t t, int64_t channels, int64_t c0, int count) {
  using T = Transforms<kTile>;
  constexpr int kInput = T::kInput, kXi = kInput * kInput;
  Lanes rows[kXi], out[kXi];
  for (int s = 0; s < kInput; ++s) T::input_1d(d + s, kInput, rows + s, kInput);            // B^T d
  for (int r = 0; r < kInput; ++r) T::input_1d(rows + r * kInput, 1, out + r * kInput, 1);  // (.) B
  for (int xi = 0; xi < kXi; ++xi) {
    float* dst = v + (t * kXi + xi) * channels + c0;
    // A whole block as a fixed-size copy (vector moves; a variable-length one becomes a slow `rep movs`).
    if (count == kLanes) {
      std::copy(out[xi].begin(), out[xi].end(), dst);
    } else {
      for (int lane = 0; lane < count; ++lane) dst[lane] = out[xi][lane];
    }
  }
}

// V[t][xi][c] for tiles [t0, t1) of one image: the transformed input tiles, kLanes channels at a time.
template <int kTile>
void transform_input_tiles(const WinogradPlanes& g, const float* x, int64_t t0, int64_t t1, float* v) {
  constexpr int kInput = Transforms<kTile>::kInput, kXi = kInput * kInput;
  const int64_t in_h = g.in_h, in_w = g.in_w;
  const int64_t channels = g.in_channels;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t ih0 = (t / g.tiles_w) * kTile - g.pad_top, iw0 = (t % g.tiles_w) * kTile - g.pad_left;
    const bool interior = ih0 >= 0 && iw0 >= 0 && ih0 + kInput <= in_h && iw0 + kInput <= in_w;
    for (int64_t c0 = 0; c0 < channels; c0 += kLanes) {
      const int count = static_cast<int>(std::min<int64_t>(kLanes, channels - c0));
      Lanes d[kXi];
#if defined(__AVX2__)
      // A whole block: rows read 8 floats wide (8 - kInput past the tile), in place where they lie inside the row, else
      // through a mask of the columns inside it (border tiles; rows outside the plane are zeros). Border tiles are
      // half of SqueezeNet's 27x27 tiles and most of its 13x13 ones.
      if (count == kLanes) {
        const bool whole_rows = iw0 >= 0 && iw0 + 8 <= in_w;
        const __m256i lane =
            _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(iw0)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256i columns = _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(-1)),
                                                 _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(in_w)), lane));
        for (int r = 0; r < kInput; ++r) {
          const int64_t ih = ih0 + r;
          if (ih < 0 || ih >= in_h) {
            for (int s = 0; s < kInput; ++s) d[r * kInput + s].fill(0.0f);
            continue;
          }
          for (int half = 0; half < kLanes; half += 8) {
            const float* row = x + (c0 + half) * g.in_size + ih * in_w;
            if (whole_rows) {
              gather_tile_row8<kInput, false>(row + iw0, g.in_size, d + r * kInput, half, columns, 0);
            } else {
              gather_tile_row8<kInput, true>(row, g.in_size, d + r * kInput, half, columns, iw0);
            }
          }
        }
        transform_block<kTile>(d, v, t, channels, c0, count);
        continue;
      }
#endif
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
      transform_block<kTile>(d, v, t, channels, c0, count);
    }
  }
}

// y for tiles [t0, t1) of one image from M[t][xi][m]: A^T m A, plus bias, clamped, written where it lands in y.
template <int kTile>
void transform_output_tiles(const WinogradPlanes& g, const float* mprod, const float* bias, float lo, float hi,
                            int64_t t0, int64_t t1, float* y) {
  using T = Transforms<kTile>;
  constexpr int kInput = T::kInput, kXi = kInput * kInput;
  const int64_t out_h = g.out_h, out_w = g.out_w;
  const int64_t channels = g.out_channels;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t oh0 = (t / g.tiles_w) * kTile, ow0 = (t % g.tiles_w) * kTile;
    const int64_t rows = std::min<int64_t>(kTile, out_h - oh0), cols = std::min<int64_t>(kTile, out_w - ow0);
    for (int64_t m0 = 0; m0 < channels; m0 += kLanes) {
      const int count = static_cast<int>(std::min<int64_t>(kLanes, channels - m0));
      // A whole block is read where it lies in M (value xi of lane l at m[xi * channels + l]); a partial one is
      // copied first, its missing channels zeros. A copy of every block cost a third of this function (SqueezeNet,
      // AMD EPYC Zen 3, perf): 16-byte stores read back by 32-byte loads, which the store buffer cannot forward.
      const float* m = mprod + t * kXi * channels + m0;
      int64_t m_ld = channels;
      Lanes tile[kXi];
      if (count < kLanes) {
        for (int xi = 0; xi < kXi; ++xi) {
          tile[xi].fill(0.0f);
          for (int lane = 0; lane < count; ++lane) tile[xi][lane] = m[xi * channels + lane];
        }
        m = tile[0].data();
        m_ld = kLanes;
      }
      Lanes half[kTile * kInput], out[kTile * kTile];
      for (int s = 0; s < kInput; ++s) T::output_1d(m + s * m_ld, kInput * m_ld, half + s, kInput);       // A^T m
      for (int r = 0; r < kTile; ++r) T::output_1d(half[r * kInput].data(), kLanes, out + r * kTile, 1);  // (.) A
#if defined(__AVX2__)
      if (count == kLanes) {
        // Bias and clamp over whole registers (the scalar path's expression, lane by lane: NaN passes), then each of
        // the tile's rows inside the plane stored, its columns inside the plane (1-4) per channel.
        for (Lanes& o : out) {
          for (int lane = 0; lane < kLanes; ++lane) {
            o[lane] = std::min(std::max(o[lane] + (bias ? bias[m0 + lane] : 0.0f), lo), hi);
          }
        }
        for (int half = 0; half < kLanes; half += 8) {
          for (int r = 0; r < rows; ++r) {
            float* first = y + (m0 + half) * g.out_size + (oh0 + r) * out_w + ow0;
            // scatter_tile_row8 reads 4 columns; a 2-wide row's last two are its first two again, never stored.
            const Lanes* row = out + r * kTile;
            const Lanes* const columns[4] = {row, row + 1, row + (kTile == 4 ? 2 : 0), row + (kTile == 4 ? 3 : 1)};
            scatter_tile_row8(columns, half, first, g.out_size, static_cast<int>(cols));
          }
        }
        continue;
      }
#endif
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

// The table's entries: each transform for the planes' tile size (4 or 2).
void transform_input(const WinogradPlanes& g, const float* x, int64_t t0, int64_t t1, float* v) {
  if (g.tile == 2) {
    transform_input_tiles<2>(g, x, t0, t1, v);
  } else {
    transform_input_tiles<4>(g, x, t0, t1, v);
  }
}

void transform_output(const WinogradPlanes& g, const float* mprod, const float* bias, float lo, float hi, int64_t t0,
                      int64_t t1, float* y) {
  if (g.tile == 2) {
    transform_output_tiles<2>(g, mprod, bias, lo, hi, t0, t1, y);
  } else {
    transform_output_tiles<4>(g, mprod, bias, lo, hi, t0, t1, y);
  }
}

}  // namespace
}  // namespace tessera::f32_winograd

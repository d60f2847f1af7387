#include "ops/conv/winograd.h"

#include <algorithm>
#include <array>

#include "base/error.h"
#include "kernels/f32-winograd/f32-winograd.h"

namespace tessera::conv {

namespace {

// G (6x3) of F(4x4, 3x3), points 0, +-1, +-2, infinity (Lavin & Gray).
constexpr float kG4[6][3] = {{1.0f / 4, 0, 0},
                             {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                             {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                             {1.0f / 24, 1.0f / 12, 1.0f / 6},
                             {1.0f / 24, -1.0f / 12, 1.0f / 6},
                             {0, 0, 1}};
// G (4x3) of F(2x2, 3x3), points 0, +-1, infinity.
constexpr float kG2[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};

// Input values per tile side (tile + 2) and transformed values per tile ((tile + 2)^2) of F(tile x tile, 3x3).
constexpr int input_side(int tile) { return tile + 2; }
constexpr int transformed_count(int tile) { return input_side(tile) * input_side(tile); }

// Output tiles of `tile` x `tile` covering a plane of these dims.
int64_t tile_count(const std::vector<int64_t>& out_dims, int tile) {
  int64_t tiles = 1;
  for (int64_t d : out_dims) tiles *= (d + tile - 1) / tile;
  return tiles;
}

// One image's planes and tiles for f32-winograd.
WinogradPlanes planes_of(const ConvGeometry& g, int tile) {
  WinogradPlanes p;
  p.tile = tile;
  p.in_h = g.in_dims[0];
  p.in_w = g.in_dims[1];
  p.pad_top = g.pad_begin[0];
  p.pad_left = g.pad_begin[1];
  p.out_h = g.out_dims[0];
  p.out_w = g.out_dims[1];
  p.in_channels = g.in_channels;
  p.out_channels = g.out_channels;
  p.in_size = g.in_size;
  p.out_size = g.out_size;
  p.tiles_w = (p.out_w + tile - 1) / tile;
  p.tiles = ((p.out_h + tile - 1) / tile) * p.tiles_w;
  return p;
}

// Per-thread scratch, grown on demand and kept.
float* scratch(std::vector<float>& buffer, int64_t count) {
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

}  // namespace

bool winograd_applies(const ConvAttributes& attrs, const std::vector<int64_t>& w_shape) {
  if (w_shape.size() != 4 || w_shape[2] != 3 || w_shape[3] != 3 || attrs.group != 1) return false;
  auto all_ones = [](const std::vector<int64_t>& v) {
    return std::all_of(v.begin(), v.end(), [](int64_t s) { return s == 1; });
  };
  if (!all_ones(attrs.strides) || !all_ones(attrs.dilations)) return false;
  // With few channels the transforms, not the GEMMs, dominate. With the AVX-512 tiles (32 columns), up to 17 input
  // channels (a depth of at most kRowsInPlaceMaxDepth) the convolution reads its im2col rows in place instead,
  // which is faster there: SqueezeNet's 16 -> 64 channels at 55x55 (Xeon, one thread, per-node minima) 0.53-0.60 ->
  // 0.47-0.51 ms at batch 1, two layers 11.2-11.9 -> 7.2 ms at batch 8; at 32 channels (27x27) Winograd stays 1.8x
  // faster than the packed panels. (On Zen 4, Winograd measured 1.15-1.43x faster at 16 channels than the packed
  // panels, before rows in place existed.) With the narrower AVX2 tiles the rows-in-place GEMM's 55-column rows
  // end in a half tile that costs as much as a whole one, and Winograd wins from 16 channels: the same layer alone
  // (Zen 3, one thread, 300 runs, minima / medians) 0.75-0.80 / 0.98-1.10 ms in place, 0.50-0.51 / 0.54-0.79 by
  // Winograd (ONNX Runtime 0.66-0.68 / 0.72-0.78).
  const int64_t min_in_channels = gemm_f32_tile().columns >= 32 ? kRowsInPlaceMaxDepth / 9 + 1 : 16;
  return w_shape[0] >= 16 && w_shape[1] >= min_in_channels;
}

bool winograd_suits_plane(const std::vector<int64_t>& out_dims) {
  constexpr int64_t kMinTiles = 4;
  const int64_t tiles = tile_count(out_dims, 4);
  // The share of the register tiles' rows the GEMMs' `tiles` rows fill: at least half.
  const int64_t rows = gemm_f32_tile().rows;
  const int64_t padded = (tiles + rows - 1) / rows * rows;
  return tiles >= kMinTiles && 2 * tiles >= padded;
}

// F(4x4) from 9 tiles of 4x4 (12x12 planes) on; below, F(2x2) where the plane has at least 9 of its 2x2 tiles
// (5x5 and up), else F(4x4) where winograd_suits_plane still takes it. On a 7x7 plane F(4x4)'s 4 tiles leave its
// GEMMs 4 rows each, so its 36 transformed weight matrices (4x the weights) stream from memory for 4 uses of each
// value; F(2x2) does 1.8x its multiplications but on 16 rows, from 16 matrices. ResNet-50's 512-channel 3x3 layer
// at 7x7 (AMD EPYC Zen 3, AVX2, one thread, the layer alone, medians / minima of three alternating rounds of 300
// runs): F(4x4) 3.97-4.39 / 2.71-3.31 ms, F(2x2) 3.17-3.63 / 2.36-2.55 (ONNX Runtime 4.04 / 3.32); in the model
// (per-node medians / minima, 40 runs) 4.09-4.19 / 3.50-3.58 -> 3.18-3.32 / 2.47-2.48 ms; two threads 2.13-2.24 ->
// 1.49-1.66 ms medians; batch 8 (its 8 images' 128 tiles stacked) 25.9-26.2 -> 17.1-17.7 ms minima. At 14x14 (16
// tiles of 4x4) F(4x4) stays ahead: 1.61-1.90 against 2.06-2.12 ms medians.
int winograd_tile_for_plane(const std::vector<int64_t>& out_dims) {
  constexpr int64_t kF4MinTiles = 9;
  constexpr int64_t kF2MinTiles = 9;
  if (tile_count(out_dims, 4) >= kF4MinTiles) return 4;
  if (tile_count(out_dims, 2) >= kF2MinTiles) return 2;
  return winograd_suits_plane(out_dims) ? 4 : 0;
}

std::shared_ptr<const WinogradWeights> make_winograd_weights(const float* w, int64_t out_channels, int64_t in_channels,
                                                             int tile) {
  check_argument(tile == 4 || tile == 2, "Winograd: tiles of 4x4 or 2x2 outputs, not ", tile);
  const int input = input_side(tile);
  const float(*kG)[3] = tile == 4 ? kG4 : kG2;
  auto weights = std::make_shared<WinogradWeights>();
  weights->tile = tile;
  weights->in_channels = in_channels;
  weights->out_channels = out_channels;
  weights->transformed.resize(static_cast<size_t>(transformed_count(tile)));
  // One row i of the transform at a time: (G g)[i] per (m, c) in w's own order (a sequential read of the weights),
  // then its six entries U[i][k] = (G g G^T)[i][k] into six [M][C] matrices, packed transposed as B. Reading w once
  // per (i, k) down the output channels (a stride of C * 9 floats) made the transforms a fifth of ResNet-50's
  // session creation; a whole [36][C][M] staging array (4x the weights) cost more in page faults.
  const int64_t count = in_channels * out_channels;
  std::vector<float> u(static_cast<size_t>(input * count));
  for (int i = 0; i < input; ++i) {
    for (int64_t mc = 0; mc < count; ++mc) {
      const float* g = w + mc * 9;
      float gg[3];
      for (int j = 0; j < 3; ++j) gg[j] = kG[i][0] * g[j] + kG[i][1] * g[3 + j] + kG[i][2] * g[6 + j];  // (G g)[i][j]
      for (int k = 0; k < input; ++k) {
        float value = 0.0f;
        for (int j = 0; j < 3; ++j) value += gg[j] * kG[k][j];
        u[static_cast<size_t>(k * count + mc)] = value;
      }
    }
    for (int k = 0; k < input; ++k) {
      weights->transformed[static_cast<size_t>(i * input + k)] =
          pack_gemm_b_f32(true, in_channels, out_channels, u.data() + k * count, in_channels);
    }
  }
  return weights;
}

namespace {

// Whether each of `threads` threads runs the whole pipeline on its own share of a pass's `tiles` tiles (their
// input transform, their rows of the GEMMs, their output transform) rather than the three stages each split over
// the pool. Split by stage, each stage reads what the other core wrote in the one before (V, then M); split by
// tiles, each thread keeps its V and M rows in its own caches but reads all the transformed weights. So tiles where
// V and M outweigh the weights, with at least one whole register strip of tiles per thread. Measured (Xeon, two
// threads, per-node minima, old and new alternately, two runs in swapped orders): SqueezeNet's two 32 -> 128 channel
// layers at 27x27 170 + 171 -> 168 + 155 us and 175 + 188 -> 178 + 164 us; ResNet-50's three 64-channel layers at
// 56x56 701, 635, 627 -> 687, 631, 608 us.
bool splits_by_tiles(const WinogradPlanes& l, int64_t tiles, int threads) {
  if (threads <= 1) return false;
  const int64_t transformed = tiles * (l.in_channels + l.out_channels);
  const int64_t weights = l.in_channels * l.out_channels;
  return transformed > weights && tiles >= int64_t{gemm_f32_tile().rows} * threads;
}

// At batch > 1, the images whose tiles run as one set of GEMM rows where the transformed weights are at least
// kStackedMinWeightBytes: as many as keep a pass within kStackedTileRows tiles (at least one image). Weights that
// large stream from memory for every pass, so fewer passes gain (ResNet-50's 256-channel layer at 14x14, 9.4 MB,
// and its 512-channel F(2x2) one at 7x7, 16.8 MB, above); smaller ones stay in the caches, and stacking only
// spreads V and M beyond L2 (SqueezeNet's 64 -> 256 channel layers at 13x13, 2.4 MB, batch 8, per-node minima,
// Zen 3: 1.7-2.8 -> 1.8-3.1 ms at one thread, 1.1-1.6 -> 1.3-2.2 at two, stacked by eight).
constexpr int64_t kStackedTileRows = 128;
constexpr int64_t kStackedMinWeightBytes = int64_t{4} << 20;

// Images per pass (see kStackedTileRows).
int64_t images_per_pass(const WinogradPlanes& l, int64_t xis, int64_t batch) {
  const int64_t weight_bytes = xis * l.in_channels * l.out_channels * static_cast<int64_t>(sizeof(float));
  if (weight_bytes < kStackedMinWeightBytes) return 1;
  return std::clamp<int64_t>(kStackedTileRows / l.tiles, 1, batch);
}

}  // namespace

bool winograd_stacks_images(const ConvGeometry& g, const WinogradWeights& weights) {
  return images_per_pass(planes_of(g, weights.tile), static_cast<int64_t>(weights.transformed.size()), g.batch) > 1;
}

void winograd_conv_f32(const ConvGeometry& g, const WinogradWeights& weights, const float* x, const float* bias,
                       float output_min, float output_max, float* y, Parallelism& parallelism) {
  const WinogradPlanes l = planes_of(g, weights.tile);
  const int64_t c = g.in_channels, m = g.out_channels;
  const int64_t xis = static_cast<int64_t>(weights.transformed.size());  // GEMMs: 36 or 16
  // Images per pass: the tiles of several images stacked as the GEMMs' rows where one image has few and the
  // weights are large, so each transformed weight matrix streams from memory once per pass, not once per image.
  const int64_t images = images_per_pass(l, xis, g.batch);
  const int64_t rows = images * l.tiles;  // tiles per pass; stacked tile r is tile r % tiles of image r / tiles
  thread_local std::vector<float> v_buffer, m_buffer;
  float* v = scratch(v_buffer, xis * rows * c);
  float* mprod = scratch(m_buffer, xis * rows * m);
  // Rows [r0, r1) (stacked tiles) of GEMM xi: M[.][xi] = V[.][xi] x U[xi] (A and C rows xis rows apart), on the
  // calling thread. Tile-major V and M (each tile's rows contiguous) against xi-major: the transforms write and read
  // one run per tile instead of 36 streams (Zen 3, the layer alone, medians of three alternating runs: ResNet-50's
  // 256-channel layer at 14x14 1.93-2.44 -> 1.78-2.18 ms, 512 at 7x7 4.33-5.58 -> 4.01-5.31, 64 at 56x56 1.61-2.20
  // -> 1.60-1.81; SqueezeNet's 32 -> 128 at 27x27 at two threads 0.49-0.52 -> 0.23-0.49).
  auto multiply = [&](int64_t xi, int64_t r0, int64_t r1) {
    const GemmOperandF32 a{nullptr, v + (r0 * xis + xi) * c, xis * c, false, nullptr};
    const GemmOperandF32 b{&weights.transformed[static_cast<size_t>(xi)]};
    gemm_f32_packed(r1 - r0, m, c, 1.0f, a, b, 0.0f, mprod + (r0 * xis + xi) * m, xis * m, nullptr);
  };
  // The input / output transforms of stacked tiles [r0, r1) of the pass starting at image n0, image by image.
  auto for_images = [&](int64_t r0, int64_t r1, const auto& fn) {
    for (int64_t r = r0; r < r1;) {
      const int64_t i = r / l.tiles, t0 = r % l.tiles, t1 = std::min(l.tiles, t0 + (r1 - r));
      fn(i, t0, t1);
      r += t1 - t0;
    }
  };
  auto transform_in = [&](int64_t n0, int64_t r0, int64_t r1) {
    for_images(r0, r1, [&](int64_t i, int64_t t0, int64_t t1) {
      winograd_input_transform_f32(l, x + (n0 + i) * c * g.in_size, t0, t1, v + i * l.tiles * xis * c);
    });
  };
  auto transform_out = [&](int64_t n0, int64_t r0, int64_t r1) {
    for_images(r0, r1, [&](int64_t i, int64_t t0, int64_t t1) {
      winograd_output_transform_f32(l, mprod + i * l.tiles * xis * m, bias, output_min, output_max, t0, t1,
                                    y + (n0 + i) * m * g.out_size);
    });
  };
  const int threads = parallelism.thread_count();
  if (splits_by_tiles(l, rows, threads)) {
    // Stacked tiles [r0, r1) through all three stages on the calling thread; the GEMMs' rows are those tiles. Part
    // boundaries on whole register strips of the pass's own tiles (a last pass of fewer images splits its own strips,
    // not the full pass's), so no part adds a partial strip and every thread has a share.
    const int64_t mr = gemm_f32_tile().rows;
    for (int64_t n0 = 0; n0 < g.batch; n0 += images) {
      const int64_t pass_rows = std::min(images, g.batch - n0) * l.tiles;
      const int64_t strips = (pass_rows + mr - 1) / mr;
      parallelism.parallel_for(threads, [&](int64_t begin, int64_t end) {
        for (int64_t part = begin; part < end; ++part) {
          const int64_t r0 = std::min(pass_rows, strips * part / threads * mr);
          const int64_t r1 = std::min(pass_rows, strips * (part + 1) / threads * mr);
          if (r0 >= r1) continue;
          transform_in(n0, r0, r1);
          for (int64_t xi = 0; xi < xis; ++xi) multiply(xi, r0, r1);
          transform_out(n0, r0, r1);
        }
      });
    }
    return;
  }
  // Four pieces per thread (tiles for the transforms, whole GEMMs between them), claimed by whichever thread is
  // free, so a thread the OS deschedules holds up a quarter of its share.
  const int64_t pieces = Parallelism::kPiecesPerThread * parallelism.thread_count();
  for (int64_t n0 = 0; n0 < g.batch; n0 += images) {
    const int64_t pass_rows = std::min(images, g.batch - n0) * l.tiles;
    parallelism.parallel_for_pieces(pass_rows, pieces,
                                    [&](int64_t begin, int64_t end) { transform_in(n0, begin, end); });
    // The xis independent GEMMs [stacked tiles x C] x [C x M], each whole on one thread.
    parallelism.parallel_for_pieces(xis, xis, [&](int64_t begin, int64_t end) {
      for (int64_t xi = begin; xi < end; ++xi) multiply(xi, 0, pass_rows);
    });
    parallelism.parallel_for_pieces(pass_rows, pieces,
                                    [&](int64_t begin, int64_t end) { transform_out(n0, begin, end); });
  }
}

}  // namespace tessera::conv

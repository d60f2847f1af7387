#include "ops/conv/winograd.h"

#include <algorithm>
#include <array>

#include "kernels/f32-winograd/f32-winograd.h"

namespace tessera::conv {

namespace {

constexpr int kTile = 4;    // outputs per tile side
constexpr int kInput = 6;   // input tile side
constexpr int kXi = kInput * kInput;

// G (6x3) of F(4x4, 3x3), points 0, +-1, +-2, infinity (Lavin & Gray).
constexpr float kG[6][3] = {{1.0f / 4, 0, 0},
                            {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                            {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                            {1.0f / 24, 1.0f / 12, 1.0f / 6},
                            {1.0f / 24, -1.0f / 12, 1.0f / 6},
                            {0, 0, 1}};

// One image's planes and tiles for f32-winograd.
WinogradPlanes planes_of(const ConvGeometry& g) {
  WinogradPlanes p;
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
  p.tiles_w = (p.out_w + kTile - 1) / kTile;
  p.tiles = ((p.out_h + kTile - 1) / kTile) * p.tiles_w;
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
  int64_t tiles = 1;
  for (int64_t d : out_dims) tiles *= (d + kTile - 1) / kTile;
  // The share of the register tiles' rows the GEMMs' `tiles` rows fill: at least half.
  const int64_t rows = gemm_f32_tile().rows;
  const int64_t padded = (tiles + rows - 1) / rows * rows;
  return tiles >= kMinTiles && 2 * tiles >= padded;
}

std::shared_ptr<const WinogradWeights> make_winograd_weights(const float* w, int64_t out_channels,
                                                              int64_t in_channels) {
  auto weights = std::make_shared<WinogradWeights>();
  weights->in_channels = in_channels;
  weights->out_channels = out_channels;
  weights->transformed.resize(kXi);
  // One row i of the transform at a time: (G g)[i] per (m, c) in w's own order (a sequential read of the weights),
  // then its six entries U[i][k] = (G g G^T)[i][k] into six [M][C] matrices, packed transposed as B. Reading w once
  // per (i, k) down the output channels (a stride of C * 9 floats) made the transforms a fifth of ResNet-50's
  // session creation; a whole [36][C][M] staging array (4x the weights) cost more in page faults.
  const int64_t count = in_channels * out_channels;
  std::vector<float> u(static_cast<size_t>(kInput * count));
  for (int i = 0; i < kInput; ++i) {
    for (int64_t mc = 0; mc < count; ++mc) {
      const float* g = w + mc * 9;
      float gg[3];
      for (int j = 0; j < 3; ++j) gg[j] = kG[i][0] * g[j] + kG[i][1] * g[3 + j] + kG[i][2] * g[6 + j];  // (G g)[i][j]
      for (int k = 0; k < kInput; ++k) {
        float value = 0.0f;
        for (int j = 0; j < 3; ++j) value += gg[j] * kG[k][j];
        u[static_cast<size_t>(k * count + mc)] = value;
      }
    }
    for (int k = 0; k < kInput; ++k) {
      weights->transformed[static_cast<size_t>(i * kInput + k)] =
          pack_gemm_b_f32(true, in_channels, out_channels, u.data() + k * count, in_channels);
    }
  }
  return weights;
}

namespace {

// Whether each of `threads` threads runs the whole pipeline on its own tiles (their input transform, their rows of
// the 36 GEMMs, their output transform) rather than the three stages each split over the pool. Split by stage,
// each stage reads what the other core wrote in the one before (V, then M); split by tiles, each thread keeps its
// V and M rows in its own caches but reads all the transformed weights. So tiles where V and M outweigh the
// weights, with at least one whole register strip of tiles per thread. Measured (Xeon, two threads, per-node
// minima, old and new alternately, two runs in swapped orders): SqueezeNet's two 32 -> 128 channel layers at 27x27
// 170 + 171 -> 168 + 155 us and 175 + 188 -> 178 + 164 us; ResNet-50's three 64-channel layers at 56x56 701, 635,
// 627 -> 687, 631, 608 us.
bool splits_by_tiles(const WinogradPlanes& l, int threads) {
  if (threads <= 1) return false;
  const int64_t transformed = kXi * l.tiles * (l.in_channels + l.out_channels);
  const int64_t weights = kXi * l.in_channels * l.out_channels;
  return transformed > weights && l.tiles >= int64_t{gemm_f32_tile().rows} * threads;
}

}  // namespace

void winograd_conv_f32(const ConvGeometry& g, const WinogradWeights& weights, const float* x, const float* bias,
                       float output_min, float output_max, float* y, Parallelism& parallelism) {
  const WinogradPlanes l = planes_of(g);
  const int64_t c = g.in_channels, m = g.out_channels;
  thread_local std::vector<float> v_buffer, m_buffer;
  float* v = scratch(v_buffer, kXi * l.tiles * c);
  float* mprod = scratch(m_buffer, kXi * l.tiles * m);
  // Rows [t0, t1) (tiles) of GEMM xi: M[.][xi] = V[.][xi] x U[xi] (A and C rows 36 rows apart), on the calling
  // thread. Tile-major V and M (each tile's rows contiguous) against xi-major: the transforms write and read one run
  // per tile instead of 36 streams (Zen 3, the layer alone, medians of three alternating runs: ResNet-50's
  // 256-channel layer at 14x14 1.93-2.44 -> 1.78-2.18 ms, 512 at 7x7 4.33-5.58 -> 4.01-5.31, 64 at 56x56 1.61-2.20
  // -> 1.60-1.81; SqueezeNet's 32 -> 128 at 27x27 at two threads 0.49-0.52 -> 0.23-0.49).
  auto multiply = [&](int64_t xi, int64_t t0, int64_t t1) {
    const GemmOperandF32 a{nullptr, v + (t0 * kXi + xi) * c, kXi * c, false, nullptr};
    const GemmOperandF32 b{&weights.transformed[static_cast<size_t>(xi)]};
    gemm_f32_packed(t1 - t0, m, c, 1.0f, a, b, 0.0f, mprod + (t0 * kXi + xi) * m, kXi * m, nullptr);
  };
  // Tiles [t0, t1) through all three stages on the calling thread; the GEMMs' rows are those tiles.
  auto run_tiles = [&](const float* xn, float* yn, int64_t t0, int64_t t1) {
    winograd_input_transform_f32(l, xn, t0, t1, v);
    for (int64_t xi = 0; xi < kXi; ++xi) multiply(xi, t0, t1);
    winograd_output_transform_f32(l, mprod, bias, output_min, output_max, t0, t1, yn);
  };
  const int threads = parallelism.thread_count();
  if (splits_by_tiles(l, threads)) {
    // Part boundaries on whole register strips of tiles, so no part adds a partial strip.
    const int64_t mr = gemm_f32_tile().rows;
    const int64_t strips = (l.tiles + mr - 1) / mr;
    for (int64_t n = 0; n < g.batch; ++n) {
      const float* xn = x + n * c * g.in_size;
      float* yn = y + n * m * g.out_size;
      parallelism.parallel_for(threads, [&](int64_t begin, int64_t end) {
        for (int64_t part = begin; part < end; ++part) {
          const int64_t t0 = std::min(l.tiles, strips * part / threads * mr);
          const int64_t t1 = std::min(l.tiles, strips * (part + 1) / threads * mr);
          if (t0 < t1) run_tiles(xn, yn, t0, t1);
        }
      });
    }
    return;
  }
  // Four pieces per thread (tiles for the transforms, whole GEMMs between them), claimed by whichever thread is
  // free, so a thread the OS deschedules holds up a quarter of its share.
  const int64_t pieces = Parallelism::kPiecesPerThread * parallelism.thread_count();
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* xn = x + n * c * g.in_size;
    parallelism.parallel_for_pieces(l.tiles, pieces, [&](int64_t begin, int64_t end) {
      winograd_input_transform_f32(l, xn, begin, end, v);
    });
    // 36 independent GEMMs [tiles x C] x [C x M], each whole on one thread.
    parallelism.parallel_for_pieces(kXi, kXi, [&](int64_t begin, int64_t end) {
      for (int64_t xi = begin; xi < end; ++xi) multiply(xi, 0, l.tiles);
    });
    float* yn = y + n * m * g.out_size;
    parallelism.parallel_for_pieces(l.tiles, pieces, [&](int64_t begin, int64_t end) {
      winograd_output_transform_f32(l, mprod, bias, output_min, output_max, begin, end, yn);
    });
  }
}

}  // namespace tessera::conv

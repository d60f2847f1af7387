#include "ops/conv/conv_kernels.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "base/error.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

namespace tessera::conv {
namespace {

// Per-thread scratch for the im2col / col buffers, grown on demand and kept: the buffers are large (MBs) and
// allocating them per call costs page faults on every run.
float* scratch_f32(int64_t count) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

// Writes bias[m] (or 0) into every element of row m of y [rows, size].
void fill_rows(float* y, int64_t rows, int64_t size, const float* bias) {
  for (int64_t m = 0; m < rows; ++m) std::fill(y + m * size, y + (m + 1) * size, bias ? bias[m] : 0.0f);
}

// The f32-dwconv parameters of a 2-D convolution.
DwConv2dF32Params depthwise_params(const ConvF32Args& args) {
  const ConvGeometry& g = args.geometry;
  DwConv2dF32Params p;
  static_cast<Window2d&>(p) = window2d(g.in_dims, g.out_dims, g.kernel, g.strides, g.dilations, g.pad_begin);
  p.output_min = args.output_min;
  p.output_max = args.output_max;
  return p;
}

// Depthwise 2-D convolution (one input channel per group): kernels/f32-dwconv, the output channels split over the
// pool, each thread's consecutive channels of one image in one dwconv2d_f32_channels call.
void depthwise_2d(const ConvF32Args& args, const DwConv2dF32Params& p, Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  const int64_t taps = p.kernel_h * p.kernel_w;
  const float* (*plane)(const ConvF32Args&, int64_t) = [](const ConvF32Args& a, int64_t index) {
    const int64_t n = index / a.geometry.out_channels, m = index % a.geometry.out_channels;
    return a.x + (n * a.geometry.in_channels + m / a.geometry.out_group_channels()) * a.geometry.in_size;
  };
  // Each piece's planes go in as few calls as possible (one per image): the kernel sets up per call. Four pieces
  // per thread, claimed by whichever thread is free, so a thread the OS deschedules holds up a quarter of its share.
  const int64_t scratch_floats = dwconv2d_f32_channels_scratch_floats(p);
  parallelism.parallel_for_balanced(g.batch * g.out_channels, [&](int64_t begin, int64_t end) {
    float* scratch = scratch_f32(scratch_floats);
    std::vector<const float*> planes;
    for (int64_t index = begin; index < end;) {
      const int64_t m0 = index % g.out_channels, count = std::min(end - index, g.out_channels - m0);
      planes.resize(static_cast<size_t>(count));
      for (int64_t c = 0; c < count; ++c) planes[static_cast<size_t>(c)] = plane(args, index + c);
      dwconv2d_f32_channels(p, count, planes.data(), args.w + m0 * taps, args.bias ? args.bias + m0 : nullptr,
                            args.y + index * g.out_size, scratch);
      index += count;
    }
  });
}

// The im2col matrix of one group of a 2-D convolution, produced panel by panel straight from the input (never
// materialised): row c * kernel_size + kh * k_w + kw, column oh * out_w + ow.
//
// Each matrix row of a panel is first gathered into a contiguous buffer, one output row's segment at a time
// (a memcpy between zero fills), then cut into the strips; output rows and strips do not line up (56 outputs per
// row, 16 per strip), and doing both at once would leave every row-crossing strip on a slow element-by-element
// path. With a column stride s > 1 the input rows are first split into their s phases (columns q, q + s, ...;
// `split_phases`), so a strided segment is a contiguous run of one phase too: the element-by-element strided
// gather took 28-35% of ResNet-50's stride-2 convolutions (7x7 conv1, the 3x3 and 1x1 downsampling ones).
class Im2colPanels final : public GemmPanelSourceF32 {
 public:
  Im2colPanels(const ConvGeometry& g, const float* x)
      : x_(x),
        in_size_(g.in_size),
        kernel_size_(g.kernel_size),
        k_w_(g.kernel[1]),
        in_h_(g.in_dims[0]),
        in_w_(g.in_dims[1]),
        out_w_(g.out_dims[1]),
        s_h_(g.strides[0]),
        s_w_(g.strides[1]),
        d_h_(g.dilations[0]),
        d_w_(g.dilations[1]),
        p_h_(g.pad_begin[0]),
        p_w_(g.pad_begin[1]),
        phase_w_((in_w_ + s_w_ - 1) / s_w_) {}

  // Floats split_phases needs for `channels` channels (0 at unit column stride: the input is read in place).
  int64_t phase_floats(int64_t channels) const { return s_w_ == 1 ? 0 : channels * in_h_ * s_w_ * phase_w_; }

  // Splits the input rows of `channels` channels into their column phases in `buffer` (phase_floats of them),
  // laid out [channel][row][phase][phase_w_]; pack() reads them from then on. Call before the GEMM.
  void split_phases(int64_t channels, float* buffer, Parallelism& parallelism) {
    if (s_w_ == 1) return;
    phases_ = buffer;
    parallelism.parallel_for(channels * in_h_, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const float* __restrict src = x_ + (row / in_h_) * in_size_ + (row % in_h_) * in_w_;
        float* __restrict dst = buffer + row * s_w_ * phase_w_;
        if (s_w_ == 2) {
          for (int64_t j = 0; j < in_w_ / 2; ++j) {
            dst[j] = src[2 * j];
            dst[phase_w_ + j] = src[2 * j + 1];
          }
          if (in_w_ % 2) dst[in_w_ / 2] = src[in_w_ - 1];
          continue;
        }
        for (int64_t q = 0; q < s_w_; ++q) {
          for (int64_t j = 0; q + j * s_w_ < in_w_; ++j) dst[q * phase_w_ + j] = src[q + j * s_w_];
        }
      }
    });
  }

  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t strip, float* dst) const override {
    switch (strip) {
      case 8:
        return pack_strips<8>(k0, kc, n0, nc, dst, strip);
      case 16:
        return pack_strips<16>(k0, kc, n0, nc, dst, strip);
      case 32:
        return pack_strips<32>(k0, kc, n0, nc, dst, strip);
      default:
        return pack_strips<0>(k0, kc, n0, nc, dst, strip);
    }
  }

 private:
  // The part of one output row inside the panel's columns.
  struct Segment {
    int64_t oh, ow, count, column;  // output row, first output column, length, first panel column
  };

  // kStrip > 0 fixes the strip width at compile time, so cutting a row into strips is fixed-size vector moves.
  template <int kStrip>
  void pack_strips(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t strip) const {
    const int64_t strips = (nc + strip - 1) / strip;
    std::vector<Segment> segments;
    for (int64_t j = 0; j < nc;) {
      const int64_t oh = (n0 + j) / out_w_, ow = (n0 + j) % out_w_;
      const int64_t count = std::min(nc - j, out_w_ - ow);
      segments.push_back({oh, ow, count, j});
      j += count;
    }
    std::vector<float> row(static_cast<size_t>(strips * strip), 0.0f);  // columns past nc stay zero
    // A single strip is the row itself: gathered in place, its columns past nc zeroed.
    const bool in_place = strips == 1;
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t r = k0 + p;
      const int64_t channel = r / kernel_size_;
      const int64_t tap = r % kernel_size_;
      const int64_t ih_offset = (tap / k_w_) * d_h_ - p_h_;
      const TapColumns columns = tap_columns((tap % k_w_) * d_w_ - p_w_);
      float* const gathered = in_place ? dst + p * strip : row.data();
      for (const Segment& sg : segments) {
        gather_segment(channel, sg.oh * s_h_ + ih_offset, columns, sg.ow, sg.count, gathered + sg.column);
      }
      if (in_place) {
        std::fill(gathered + nc, gathered + strip, 0.0f);
        continue;
      }
      float* out = dst + p * strip;
      for (int64_t s = 0; s < strips; ++s, out += kc * strip) {
        std::memcpy(out, row.data() + s * strip, sizeof(float) * static_cast<size_t>(kStrip > 0 ? kStrip : strip));
      }
    }
  }

  // Where a kernel column at input offset iw_offset (kw * d_w - p_w) reads: output column ow reads input column
  // ow * s_w + iw_offset, which is column ow + first_offset of the row's phase `phase` (of `width` columns; at unit
  // stride the row itself). The same for every output column, so worked out once per depth step (the divisions per
  // segment were most of the packing's time on ResNet-50's stride-2 layers).
  struct TapColumns {
    int64_t phase, first_offset, width;
  };
  TapColumns tap_columns(int64_t iw_offset) const {
    if (s_w_ == 1) return {0, iw_offset, in_w_};
    const int64_t q = ((iw_offset % s_w_) + s_w_) % s_w_;
    return {q, (iw_offset - q) / s_w_, (in_w_ - q + s_w_ - 1) / s_w_};
  }

  // `count` consecutive outputs of one output row from output column ow: input row `ih` of `channel`, the columns
  // `columns` gives; zero outside. At a column stride > 1 those columns are consecutive in one phase of the row.
  void gather_segment(int64_t channel, int64_t ih, const TapColumns& columns, int64_t ow, int64_t count,
                      float* __restrict out) const {
    if (ih < 0 || ih >= in_h_) {
      std::fill(out, out + count, 0.0f);
      return;
    }
    const float* src = s_w_ > 1 ? phases_ + ((channel * in_h_ + ih) * s_w_ + columns.phase) * phase_w_
                                : x_ + channel * in_size_ + ih * in_w_;
    const int64_t first = ow + columns.first_offset, width = columns.width;
    const int64_t lo = std::clamp<int64_t>(-first, 0, count);
    const int64_t hi = std::clamp<int64_t>(width - first, lo, count);
    std::fill(out, out + lo, 0.0f);
    // An inline loop, not memcpy: the runs are a few dozen floats, and the library call cost more than the copy.
    const float* __restrict from = src + first;
    for (int64_t i = lo; i < hi; ++i) out[i] = from[i];
    std::fill(out + hi, out + count, 0.0f);
  }

  const float* x_;
  int64_t in_size_, kernel_size_, k_w_, in_h_, in_w_, out_w_, s_h_, s_w_, d_h_, d_w_, p_h_, p_w_;
  int64_t phase_w_;
  const float* phases_ = nullptr;  // set by split_phases when s_w_ > 1
};

// A 1-D convolution as a 2-D one of height 1.
ConvGeometry as_2d(const ConvGeometry& g) {
  ConvGeometry g2 = g;
  g2.in_dims.insert(g2.in_dims.begin(), 1);
  g2.out_dims.insert(g2.out_dims.begin(), 1);
  g2.kernel.insert(g2.kernel.begin(), 1);
  g2.strides.insert(g2.strides.begin(), 1);
  g2.dilations.insert(g2.dilations.begin(), 1);
  g2.pad_begin.insert(g2.pad_begin.begin(), 0);
  g2.pad_end.insert(g2.pad_end.begin(), 0);
  return g2;
}

// `args` for the same convolution seen through another geometry `g` over input `x` (a 1-D one as 2-D, a strided
// 1x1 one as pointwise over the positions it reads). No Winograd weights: neither case has them.
ConvF32Args on_geometry(const ConvF32Args& args, const ConvGeometry& g, const float* x) {
  return ConvF32Args{g,
                     x,
                     args.w,
                     args.packed,
                     args.bias,
                     args.y,
                     args.output_min,
                     args.output_max,
                     nullptr,
                     args.sum,
                     args.packed_transposed,
                     args.accumulate};
}

// True for a 2-D 1x1 kernel without padding that skips input positions (a stride above 1): every output reads one
// input position, so the convolution is a pointwise one over the positions it reads (ResNet's downsampling).
bool is_strided_pointwise(const ConvGeometry& g) {
  if (g.spatial_rank() != 2 || g.is_pointwise()) return false;
  for (size_t i = 0; i < 2; ++i) {
    if (g.kernel[i] != 1 || g.pad_begin[i] != 0 || g.pad_end[i] != 0) return false;
  }
  return true;
}

// The pointwise geometry of a strided 1x1 convolution over the positions it reads (is_strided_pointwise).
ConvGeometry sampled_pointwise(const ConvGeometry& g) {
  ConvGeometry p = g;
  p.in_dims = g.out_dims;
  p.in_size = g.out_size;
  p.strides.assign(2, 1);
  p.dilations.assign(2, 1);
  return p;
}

// Advances a row-major odometer over `dims`; returns false after the last index.
bool next_index(std::vector<int64_t>& index, const std::vector<int64_t>& dims) {
  for (size_t d = dims.size(); d-- > 0;) {
    if (++index[d] < dims[d]) return true;
    index[d] = 0;
  }
  return false;
}

// y = clamp(y + sum) over `count` elements (the sum input of the paths that do not run through the GEMM).
void add_sum_and_clamp(float* __restrict y, const float* __restrict sum, int64_t count, float lo, float hi,
                       Parallelism& parallelism) {
  constexpr int64_t kChunk = 16384;
  parallelism.parallel_for((count + kChunk - 1) / kChunk, [&](int64_t begin, int64_t end) {
    const int64_t stop = std::min(count, end * kChunk);
    for (int64_t i = begin * kChunk; i < stop; ++i) {
      float v = y[i] + sum[i];
      v = v < lo ? lo : v;  // NaN passes through
      y[i] = v > hi ? hi : v;
    }
  });
}

// Image n of a convolution run transposed (ConvF32Args::packed_transposed): y^T [positions x M] = A W^T through
// the GEMM, A [positions x depth] given transposed by `a`, with bias, sum and clamp in its epilogue and each tile
// stored transposed straight into y.
void transposed_image(const ConvF32Args& args, int64_t n, const GemmOperandF32& a, int64_t depth,
                      Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  const int64_t positions = g.out_size, channels = g.out_channels, offset = n * channels * positions;
  GemmEpilogueF32 epilogue;
  epilogue.column_bias = args.bias;
  epilogue.min = args.output_min;
  epilogue.max = args.output_max;
  epilogue.sum_ld = positions;
  epilogue.store_transposed = true;
  epilogue.sum = args.sum != nullptr ? args.sum + offset : nullptr;
  const GemmOperandF32 b{args.packed_transposed};
  gemm_f32_packed(positions, channels, depth, 1.0f, a, b, args.accumulate ? 1.0f : 0.0f, args.y + offset, positions,
                  &parallelism, &epilogue);
}

// A pointwise convolution run transposed: A^T is x itself.
void pointwise_transposed(const ConvF32Args& args, Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  for (int64_t n = 0; n < g.batch; ++n) {
    const GemmOperandF32 a{nullptr, args.x + n * g.in_channels * g.in_size, g.in_size, true};
    transposed_image(args, n, a, g.in_channels, parallelism);
  }
}

// A k x k 2-D convolution (group 1) run transposed: per image, A^T is its im2col matrix [C * kernel taps x
// positions] (the channels split over the pool). On small planes the plain orientation leaves register lanes idle
// (ResNet-50's 3x3 stride-2 convolution to 7x7: 49 positions in 64 lanes).
void im2col_transposed(const ConvF32Args& args, Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  const int64_t positions = g.out_size, depth = g.in_channels * g.kernel_size;
  float* col = scratch_f32(depth * positions);
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* xn = args.x + n * g.in_channels * g.in_size;
    parallelism.parallel_for(g.in_channels, [&](int64_t begin, int64_t end) {
      im2col<float>(g, xn + begin * g.in_size, end - begin, 0.0f, col + begin * g.kernel_size * positions);
    });
    transposed_image(args, n, GemmOperandF32{nullptr, col, positions, true}, depth, parallelism);
  }
}

}  // namespace

struct Im2colPanelMaker::Impl {
  Im2colPanels panels;
  int64_t depth;
};

Im2colPanelMaker::Im2colPanelMaker(const ConvGeometry& g, const float* x, Parallelism& parallelism) {
  check_argument(g.spatial_rank() == 2 && g.group == 1, "Im2colPanelMaker: a 2-D convolution of group 1");
  impl_ = std::make_unique<Impl>(Impl{Im2colPanels(g, x), g.in_channels * g.kernel_size});
  impl_->panels.split_phases(g.in_channels, scratch_f32(impl_->panels.phase_floats(g.in_channels)), parallelism);
}

Im2colPanelMaker::~Im2colPanelMaker() = default;

void Im2colPanelMaker::make(int64_t n0, int64_t cols, int64_t panel_columns, float* values) const {
  impl_->panels.pack(0, impl_->depth, n0, cols, panel_columns, values);
}

void gather_strided_positions(const ConvGeometry& g, const float* x, int64_t planes, float* dst,
                              Parallelism& parallelism) {
  const int64_t out_h = g.out_dims[0], out_w = g.out_dims[1], in_w = g.in_dims[1];
  const int64_t s_h = g.strides[0], s_w = g.strides[1];
  parallelism.parallel_for(planes, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const float* plane = x + c * g.in_size;
      float* out = dst + c * g.out_size;
      for (int64_t oh = 0; oh < out_h; ++oh) {
        const float* row = plane + oh * s_h * in_w;
        for (int64_t ow = 0; ow < out_w; ++ow) out[oh * out_w + ow] = row[ow * s_w];
      }
    }
  });
}

bool pointwise_prefers_transposed(int64_t plane_size, int64_t in_channels, int64_t out_channels) {
  if (plane_size <= 0 || in_channels <= 0 || out_channels <= 0) return false;
  // The multiply-adds each orientation issues, its idle lanes included: y = W x has the channels along the tile's
  // rows and the positions along its lanes; y^T = x^T W^T the other way round. Storing a transposed tile costs
  // tile.transposed_store_steps depth steps of the tile more (a pass through a register transpose, once per tile:
  // the GEMM keeps the sums of earlier depth blocks plain), which a shallow convolution's few depth steps do not
  // repay: MobileNetV2's 32 -> 192 channels at 28x28 (4% fewer lanes) measured 12% slower transposed, SqueezeNet's
  // 512 -> 1000 at 13x13 (4% fewer) faster. Only on planes of at most 1024 positions: x^T is read in place (the
  // direct-AT micro-kernels), one cache line or two per depth step, and on larger planes those lines lie too far
  // apart (ResNet-50's 256 -> 64 channels at 56x56 measured up to 27% slower with x^T packed). Measured (Zen 4,
  // AVX-512 14x32, 8 steps, one thread, per-layer minima): ResNet-50's 14x14 layers 8-12% faster transposed, 7x7
  // ones up to 19% (512 -> 2048 with the residual 1.33 -> 1.11 ms), 28x28 512 -> 128 1.02 -> 0.95 ms; MobileNetV2's
  // 28x28 192 -> 32 and 144 -> 32 117 -> 96 us and 81 -> 72 us. On an AMD EPYC Zen 3 (AVX2 6x16: 8-lane transposes
  // and 6-row column stores; conv micro-benchmarks, minima of alternating runs) 64 steps fit every ResNet-50
  // layer: plain faster at 28x28 (512 -> 128 1238 against 1353 us, 256 -> 512 2347 against 2719) and 14x14 (256 ->
  // 1024 1213 against 1333, 1024 -> 512 2536 against 2605; 1024 -> 256 level), transposed at 7x7 (2048 -> 512 1295
  // against 1502, 512 -> 2048 1319 against 1482). Besides, a convolution to at most kTransposedFewChannels output
  // channels runs transposed wherever that leaves no more lanes idle: its transposed weights are a few panels that
  // stay in cache, while the plain GEMM has at most a handful of row strips to share each panel of x it reads in
  // place (SqueezeNet's squeeze layers on Zen 3: 256 -> 32 at 27x27 189 -> 156 us, 512 -> 64 at 13x13 175 -> 139,
  // 384 -> 48 95 -> 79). The column stores became 4- and 2-float stores in place of a masked one later (see
  // Avx2FloatOps::store_n): ResNet-50's 7x7 layers 5% faster; at 28x28 and 14x14 plain still led or tied (512 -> 128
  // 1220 against 1239 us, 256 -> 512 2228 against 2514, 1024 -> 256 1227 against 1220, 1024 -> 512 2334 against 2390).
  constexpr int64_t kLargestTransposedPlane = 1024;
  constexpr int64_t kTransposedFewChannels = 64;
  if (plane_size > kLargestTransposedPlane) return false;
  const GemmTileF32 tile = gemm_f32_tile();
  auto round_up = [](int64_t v, int64_t to) { return (v + to - 1) / to * to; };
  const double depth = static_cast<double>(in_channels);
  const double plain = static_cast<double>(round_up(out_channels, tile.rows)) * round_up(plane_size, tile.columns);
  const double transposed = static_cast<double>(round_up(plane_size, tile.rows)) * round_up(out_channels, tile.columns);
  if (out_channels <= kTransposedFewChannels && transposed <= plain) return true;
  return transposed * (depth + tile.transposed_store_steps) < plain * depth;
}

// Bytes of one band of conv_rows_in_place's padded input rows (all channels and phases): small enough to stay in L2
// while the band's output rows are computed from it.
constexpr int64_t kRowsBandBytes = int64_t{96} << 10;

// A 2-D convolution with packed weights as one GEMM per output row, B's depth rows (channel, kernel tap) read in
// place as shifted views of the input: the input rows are copied into zero-padded rows split by column phase
// (row[c][r][q][j] = x[c][r - pad_top][j * stride_w + q - pad_left]), so the row for tap (kh, kw) and output row
// oh is row[c][oh * stride_h + kh * dilation_h][(kw * dilation_w) % stride_w] + (kw * dilation_w) / stride_w.
// Replaces the panel packing, which cost a third of MobileNetV2's and ResNet-50's stems. Each thread copies, band
// by band, only the rows its own output rows read into its own buffer of at most kRowsBandBytes (rows two bands
// share are copied twice), so the copy and the GEMMs reading it share one parallel region and the rows stay in L2
// between them. The whole padded input copied first (610 KB for SqueezeNet's and MobileNetV2's stems) left L2
// before the GEMMs read it back. Measured (Zen 3, in the models, old and new alternately, three rounds each, the
// stem's share of the run's median): SqueezeNet's stem 11.7-13.5% -> 10.6-11.4% of the run at one thread and
// 10.0-12.0% -> 9.0-10.8% at two, MobileNetV2's 6.1-6.4% -> 5.6-6.2% at one, level at two. Same arithmetic per
// output element as before.
void conv_rows_in_place(const ConvF32Args& args, Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  const int64_t cg = g.in_group_channels(), mg = g.out_group_channels();
  const int64_t depth = cg * g.kernel_size;
  const int64_t k_h = g.kernel[0], k_w = g.kernel[1];
  const int64_t s_h = g.strides[0], s_w = g.strides[1], d_h = g.dilations[0], d_w = g.dilations[1];
  const int64_t in_h = g.in_dims[0], in_w = g.in_dims[1], out_h = g.out_dims[0], out_w = g.out_dims[1];
  const int64_t pad_top = g.pad_begin[0], pad_left = g.pad_begin[1];
  const int64_t nr = gemm_f32_tile().columns;
  const int64_t span = (k_h - 1) * d_h + 1;                  // padded input rows one output row reads
  const int64_t shift = ((k_w - 1) * d_w) / s_w;             // the widest tap's offset in its phase row
  const int64_t width = (out_w + nr - 1) / nr * nr + shift;  // every tile's whole register rows in bounds
  const int64_t row_floats = s_w * width;                    // one padded input row, every phase
  // Output rows per band: as many as keep the band's input rows within kRowsBandBytes (at least one).
  const int64_t budget_rows = kRowsBandBytes / static_cast<int64_t>(sizeof(float) * cg * row_floats);
  const int64_t band_rows = std::max<int64_t>(1, (budget_rows - span) / s_h + 1);
  // Copies padded input row r (input row r - pad_top; zeros outside the input) of the plane src_plane, split by
  // column phase, into dst_row[q * width ..] for each phase q.
  const auto copy_row = [&](const float* src_plane, int64_t r, float* dst_row) {
    const int64_t ih = r - pad_top;
    if (s_w == 2 && ih >= 0 && ih < in_h) {
      // Both phases in one pass over the row (input column iw = 2 j + q - pad_left).
      const float* __restrict src = src_plane + ih * in_w;
      float* __restrict even = dst_row;
      float* __restrict odd = even + width;
      const Range e = valid_range(width, 2, -pad_left, in_w), o = valid_range(width, 2, 1 - pad_left, in_w);
      std::fill(even, even + e.lo, 0.0f);
      std::fill(odd, odd + o.lo, 0.0f);
      const int64_t both_lo = std::max(e.lo, o.lo), both_hi = std::min(e.hi, o.hi);
      for (int64_t j = e.lo; j < std::min(both_lo, e.hi); ++j) even[j] = src[2 * j - pad_left];
      for (int64_t j = o.lo; j < std::min(both_lo, o.hi); ++j) odd[j] = src[2 * j + 1 - pad_left];
      const float* __restrict pair = src + 2 * both_lo - pad_left;
      for (int64_t j = 0; j < both_hi - both_lo; ++j) {
        even[both_lo + j] = pair[2 * j];
        odd[both_lo + j] = pair[2 * j + 1];
      }
      for (int64_t j = std::max(both_hi, e.lo); j < e.hi; ++j) even[j] = src[2 * j - pad_left];
      for (int64_t j = std::max(both_hi, o.lo); j < o.hi; ++j) odd[j] = src[2 * j + 1 - pad_left];
      std::fill(even + e.hi, even + width, 0.0f);
      std::fill(odd + o.hi, odd + width, 0.0f);
      return;
    }
    for (int64_t q = 0; q < s_w; ++q) {
      float* dst = dst_row + q * width;
      if (ih < 0 || ih >= in_h) {
        std::fill(dst, dst + width, 0.0f);
        continue;
      }
      const float* src = src_plane + ih * in_w;
      // Columns j with 0 <= j * s_w + q - pad_left < in_w.
      const Range valid = valid_range(width, s_w, q - pad_left, in_w);
      std::fill(dst, dst + valid.lo, 0.0f);
      const float* v = src + valid.lo * s_w + q - pad_left;
      if (s_w == 1) {
        std::memcpy(dst + valid.lo, v, sizeof(float) * static_cast<size_t>(valid.hi - valid.lo));
      } else {
        for (int64_t j = valid.lo; j < valid.hi; ++j) dst[j] = v[(j - valid.lo) * s_w];
      }
      std::fill(dst + valid.hi, dst + width, 0.0f);
    }
  };
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* xg = args.x + (n * g.in_channels + grp * cg) * g.in_size;
      float* yg = args.y + (n * g.out_channels + grp * mg) * g.out_size;
      GemmEpilogueF32 epilogue;
      epilogue.row_bias = args.bias != nullptr ? args.bias + grp * mg : nullptr;
      epilogue.min = args.output_min;
      epilogue.max = args.output_max;
      epilogue.sum_ld = g.out_size;
      const PackedGemmF32& weights = (*args.packed)[static_cast<size_t>(grp)];
      parallelism.parallel_for_balanced(out_h, [&](int64_t begin, int64_t end) {
        thread_local std::vector<const float*> b_rows;
        thread_local std::vector<float> band;
        b_rows.resize(static_cast<size_t>(depth));
        const int64_t most_rows = (std::min(band_rows, end - begin) - 1) * s_h + span;
        if (static_cast<int64_t>(band.size()) < cg * most_rows * row_floats) {
          band.resize(static_cast<size_t>(cg * most_rows * row_floats));
        }
        GemmEpilogueF32 row_epilogue = epilogue;
        for (int64_t o0 = begin; o0 < end; o0 += band_rows) {
          const int64_t o1 = std::min(end, o0 + band_rows);
          const int64_t first = o0 * s_h, rows = (o1 - 1 - o0) * s_h + span;  // padded rows [first, first + rows)
          for (int64_t c = 0; c < cg; ++c) {
            for (int64_t r = 0; r < rows; ++r) {
              copy_row(xg + c * g.in_size, first + r, band.data() + (c * rows + r) * row_floats);
            }
          }
          for (int64_t oh = o0; oh < o1; ++oh) {
            for (int64_t c = 0; c < cg; ++c) {
              for (int64_t kh = 0; kh < k_h; ++kh) {
                const float* row = band.data() + (c * rows + (oh - o0) * s_h + kh * d_h) * row_floats;
                for (int64_t kw = 0; kw < k_w; ++kw) {
                  b_rows[static_cast<size_t>((c * k_h + kh) * k_w + kw)] =
                      row + ((kw * d_w) % s_w) * width + (kw * d_w) / s_w;
                }
              }
            }
            row_epilogue.sum = args.sum != nullptr ? args.sum + (yg - args.y) + oh * out_w : nullptr;
            gemm_f32_rows_b(mg, out_w, depth, weights, b_rows.data(), yg + oh * out_w, g.out_size, &row_epilogue);
          }
        }
      });
    }
  }
}

void conv_f32(const ConvF32Args& args, Parallelism& parallelism, bool implicit_im2col) {
  check_argument(!args.accumulate || conv_f32_accumulates(args.geometry),
                 "conv_f32: this convolution cannot accumulate into its output");
  const int threads = parallelism.thread_count();
  const int64_t batch = args.geometry.batch;
  // Winograd on images of few tiles stacks them as its GEMMs' rows instead, the GEMMs split over the threads.
  const bool stacked = args.winograd != nullptr && winograd_stacks_images(args.geometry, *args.winograd);
  if (threads > 1 && batch > 1 && (batch % threads == 0 || batch >= 4 * threads) && !stacked) {
    // Whole images per thread, each run serially: one parallel region per convolution instead of one or more per
    // image (on small planes their synchronisation cost more than the work), and each thread's image stays in its
    // own core's caches. Batch 8 on two threads (Xeon, sums of per-node minima, two rounds): ResNet-50 244-261 ->
    // 203-224 ms, SqueezeNet 23.0-23.9 -> 20.1-20.6, MobileNetV2 24.9-28.7 -> 23.2-25.8. The same arithmetic per
    // element.
    const ConvGeometry& g = args.geometry;
    ConvGeometry one = g;
    one.batch = 1;
    parallelism.parallel_for_pieces(batch, batch, [&](int64_t begin, int64_t end) {
      SerialParallelism serial;
      for (int64_t n = begin; n < end; ++n) {
        ConvF32Args image = on_geometry(args, one, args.x + n * g.in_channels * g.in_size);
        image.y = args.y + n * g.out_channels * g.out_size;
        image.winograd = args.winograd;
        if (args.sum != nullptr) image.sum = args.sum + n * g.out_channels * g.out_size;
        conv_f32(image, serial, implicit_im2col);
      }
    });
    return;
  }
  if (args.geometry.spatial_rank() == 1) {
    const ConvGeometry g2 = as_2d(args.geometry);
    conv_f32(on_geometry(args, g2, args.x), parallelism, implicit_im2col);
    return;
  }
  const ConvGeometry& g = args.geometry;
  if (g.group == 1 && g.in_channels > 1 && is_strided_pointwise(g)) {
    // The positions read are gathered first (a quarter of x at stride 2), then it runs as a pointwise convolution
    // (transposed too, where that suits the output plane): the GEMM packs plain rows instead of gathering strided
    // panels. ResNet-50's downsampling layers (Zen 4, one thread, per-layer minima): 512 -> 1024 channels to
    // 14x14 2.35 -> 2.02 ms, 1024 -> 2048 to 7x7 2.75 -> 2.08 ms, 256 -> 512 to 28x28 2.29 -> 2.03 ms.
    const ConvGeometry sampled = sampled_pointwise(g);
    float* xs = scratch_f32(g.batch * g.in_channels * g.out_size);
    gather_strided_positions(g, args.x, g.batch * g.in_channels, xs, parallelism);
    conv_f32(on_geometry(args, sampled, xs), parallelism, implicit_im2col);
    return;
  }
  if (args.packed_transposed != nullptr && g.group == 1) {
    if (g.is_pointwise())
      pointwise_transposed(args, parallelism);
    else
      im2col_transposed(args, parallelism);
    return;
  }
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  const bool direct = args.winograd != nullptr || (cg == 1 && g.spatial_rank() == 2 && args.w != nullptr &&
                                                   dwconv2d_f32_supports(depthwise_params(args)));
  if (args.sum != nullptr && direct) {
    // Winograd and depthwise have no accumulate-into-output form: convolve unclamped, then add and clamp.
    ConvF32Args plain = args;
    plain.sum = nullptr;
    plain.output_min = -std::numeric_limits<float>::infinity();
    plain.output_max = std::numeric_limits<float>::infinity();
    conv_f32(plain, parallelism, implicit_im2col);
    add_sum_and_clamp(args.y, args.sum, g.batch * g.out_channels * g.out_size, args.output_min, args.output_max,
                      parallelism);
    return;
  }
  if (args.winograd != nullptr) {
    winograd_conv_f32(g, *args.winograd, args.x, args.bias, args.output_min, args.output_max, args.y, parallelism);
    return;
  }
  if (cg == 1 && g.spatial_rank() == 2 && args.w != nullptr) {
    const DwConv2dF32Params p = depthwise_params(args);
    if (dwconv2d_f32_supports(p)) {
      depthwise_2d(args, p, parallelism);
      return;
    }
  }
  const int64_t depth = cg * g.kernel_size;
  const bool pointwise = g.is_pointwise();
  if (!pointwise && implicit_im2col && g.spatial_rank() == 2 && args.packed != nullptr &&
      depth <= kRowsInPlaceMaxDepth) {
    conv_rows_in_place(args, parallelism);
    return;
  }
  const bool implicit = !pointwise && implicit_im2col && g.spatial_rank() == 2;
  float* col = pointwise || implicit ? nullptr : scratch_f32(depth * g.out_size);
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* xg = args.x + (n * g.in_channels + grp * cg) * g.in_size;
      float* yg = args.y + (n * g.out_channels + grp * mg) * g.out_size;
      Im2colPanels panels(g, xg);
      if (implicit) panels.split_phases(cg, scratch_f32(panels.phase_floats(cg)), parallelism);
      if (col != nullptr) {
        parallelism.parallel_for(cg, [&](int64_t begin, int64_t end) {
          im2col<float>(g, xg + begin * g.in_size, end - begin, 0.0f, col + begin * g.kernel_size * g.out_size);
        });
      }
      // Bias and the fused clamp are applied by the GEMM's epilogue while each tile is in registers.
      GemmEpilogueF32 epilogue;
      epilogue.row_bias = args.bias != nullptr ? args.bias + grp * mg : nullptr;
      epilogue.min = args.output_min;
      epilogue.max = args.output_max;
      const GemmOperandF32 a = args.packed ? GemmOperandF32{&(*args.packed)[static_cast<size_t>(grp)]}
                                           : GemmOperandF32{nullptr, args.w + grp * mg * depth, depth, false};
      const GemmOperandF32 b{nullptr, pointwise ? xg : col, g.out_size, false, implicit ? &panels : nullptr};
      // A sum input is added by the epilogue, with the bias, before the clamp.
      if (args.sum != nullptr) {
        epilogue.sum = args.sum + (yg - args.y);
        epilogue.sum_ld = g.out_size;
      }
      gemm_f32_packed(mg, g.out_size, depth, 1.0f, a, b, args.accumulate ? 1.0f : 0.0f, yg, g.out_size, &parallelism,
                      &epilogue);
    }
  }
}

bool conv_f32_accumulates(const ConvGeometry& g) {
  // conv_f32's plain GEMM loop or pointwise_transposed, never Winograd, depthwise or a gathering path.
  return g.group == 1 && g.in_channels > 1 && g.is_pointwise();
}

void conv_transpose_f32(const ConvF32Args& args, Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  const int64_t rows = mg * g.kernel_size;
  float* col = scratch_f32(rows * g.in_size);
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* xg = args.x + (n * g.in_channels + grp * cg) * g.in_size;
      float* yg = args.y + (n * g.out_channels + grp * mg) * g.out_size;
      // col [mg * kernel, in_size] = W_g^T [mg * kernel, cg] x X_g [cg, in_size]; W_g is stored [cg, mg * kernel].
      const GemmOperandF32 a = args.packed ? GemmOperandF32{&(*args.packed)[static_cast<size_t>(grp)]}
                                           : GemmOperandF32{nullptr, args.w + grp * cg * rows, rows, true};
      const GemmOperandF32 b{nullptr, xg, g.in_size, false};
      gemm_f32_packed(rows, g.in_size, cg, 1.0f, a, b, 0.0f, col, g.in_size, &parallelism);
      fill_rows(yg, mg, g.out_size, args.bias ? args.bias + grp * mg : nullptr);
      parallelism.parallel_for(mg, [&](int64_t begin, int64_t end) {
        col2im_add<float>(g, col + begin * g.kernel_size * g.in_size, end - begin, yg + begin * g.out_size);
      });
    }
  }
}

void conv_reference_f32(const ConvF32Args& args) {
  const ConvGeometry& g = args.geometry;
  const size_t rank = g.spatial_rank();
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  std::vector<int64_t> out_index(rank, 0), kernel_index(rank, 0);
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t m = 0; m < g.out_channels; ++m) {
      const int64_t grp = m / mg;
      int64_t o = 0;
      std::fill(out_index.begin(), out_index.end(), 0);
      do {
        double sum = args.bias ? args.bias[m] : 0.0;
        for (int64_t c = 0; c < cg; ++c) {
          std::fill(kernel_index.begin(), kernel_index.end(), 0);
          int64_t k = 0;
          do {
            int64_t offset = 0;
            bool inside = true;
            for (size_t d = 0; d < rank; ++d) {
              const int64_t i = out_index[d] * g.strides[d] + kernel_index[d] * g.dilations[d] - g.pad_begin[d];
              inside = inside && i >= 0 && i < g.in_dims[d];
              offset = offset * g.in_dims[d] + i;
            }
            if (inside) {
              sum += static_cast<double>(args.x[(n * g.in_channels + grp * cg + c) * g.in_size + offset]) *
                     args.w[(m * cg + c) * g.kernel_size + k];
            }
            ++k;
          } while (next_index(kernel_index, g.kernel));
        }
        args.y[(n * g.out_channels + m) * g.out_size + o] = static_cast<float>(sum);
        ++o;
      } while (next_index(out_index, g.out_dims));
    }
  }
}

}  // namespace tessera::conv

// Group-1 convolutions on the bf16 GEMM (see bf16_conv.h).
#include "ops/conv/bf16_conv.h"

#include <algorithm>
#include <cstdint>

#include "base/error.h"
#include "ops/conv/conv_kernels.h"

namespace tessera::conv {
namespace {

// Per-thread scratch of at least `bytes`, 64-byte aligned, grown on demand and kept: an image's im2col matrix and
// packed B are MBs, and allocating them per call costs page faults on every run.
char* scratch_bytes(int64_t bytes) {
  thread_local std::vector<char> buffer;
  if (static_cast<int64_t>(buffer.size()) < bytes + 64) buffer.resize(static_cast<size_t>(bytes + 64));
  const uintptr_t address = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - address % 64) % 64);
}

}  // namespace

std::shared_ptr<const Bf16ConvWeights> make_bf16_conv_weights(const Tensor& w) {
  check_argument(w.rank() >= 3 && (w.dtype() == DType::kFloat || w.dtype() == DType::kBFloat16),
                 "bf16 Conv weights must be float32 or bfloat16 of rank 3 or more, got ", w.description());
  const int64_t out_channels = w.dim(0);
  const int64_t depth = out_channels > 0 ? w.element_count() / out_channels : 0;
  auto weights = std::make_shared<Bf16ConvWeights>();
  weights->shape = w.shape();
  weights->packed = pack_bf16_gemm_a_any(w.dtype() == DType::kFloat, out_channels, depth, w.raw_data(), depth);
  return weights;
}

void conv_bf16(const ConvGeometry& g, const Bf16ConvWeights& w, const float* x, const float* bias, const float* sum,
               float lo, float hi, float* y, Parallelism& parallelism) {
  const int64_t depth = g.in_channels * g.kernel_size;
  const int64_t positions = g.out_size, channels = g.out_channels;
  check_argument(g.group == 1 && w.packed.depth() == depth && w.packed.rows() == channels, "conv_bf16: weights packed ",
                 w.packed.rows(), " x ", w.packed.depth(), " for a convolution of ", g.in_channels, " x ",
                 g.kernel_size, " depth to ", channels, " channels (group ", g.group, ")");
  if (positions == 0 || channels == 0) return;
  const bool pointwise = g.is_pointwise();
  // 2-D im2col matrices are packed panel by panel as they are made, in cache; other ranks are made whole first.
  const bool panels = !pointwise && g.spatial_rank() == 2;
  const int64_t b_bytes = (bf16_gemm_packed_b_elements(depth, positions) * 2 + 63) / 64 * 64;
  char* const base = scratch_bytes(b_bytes + (pointwise || panels ? 0 : depth * positions * 4));
  uint16_t* const b_strips = reinterpret_cast<uint16_t*>(base);
  float* const col = reinterpret_cast<float*>(base + b_bytes);
  Bf16GemmEpilogue epilogue;
  epilogue.row_bias = bias;
  epilogue.sum_ld = positions;
  epilogue.min = lo;
  epilogue.max = hi;
  Bf16GemmA a;
  a.packed = &w.packed;
  const int64_t strip = bf16_gemm_b_strip_columns();
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* xn = x + n * g.in_channels * g.in_size;
    PackedBf16GemmB b;
    if (panels) {
      // Panels of a few strips: one im2col call per panel, each strip packed from it while it is in L1 / L2.
      constexpr int64_t kStripsPerPanel = 4;
      ConvGeometry image = g;
      image.batch = 1;
      for_each_im2col_panel(image, xn, kStripsPerPanel * strip, parallelism,
                            [&](int64_t n0, int64_t cols, const float* values) {
                              for (int64_t j = 0; j < cols; j += strip) {
                                pack_bf16_gemm_b_f32_strip(depth, positions, n0 + j, std::min(strip, cols - j),
                                                           values + j, kStripsPerPanel * strip, b_strips);
                              }
                            });
      b = bf16_gemm_b_view(depth, positions, b_strips);
    } else {
      if (!pointwise) {
        parallelism.parallel_for(g.in_channels, [&](int64_t begin, int64_t end) {
          im2col<float>(g, xn + begin * g.in_size, end - begin, 0.0f, col + begin * g.kernel_size * positions);
        });
      }
      b = pack_bf16_gemm_b_f32_into(depth, positions, pointwise ? xn : col, positions, b_strips, &parallelism);
    }
    const int64_t offset = n * channels * positions;
    epilogue.sum = sum != nullptr ? sum + offset : nullptr;
    bf16_gemm(channels, positions, depth, a, b, y + offset, positions, epilogue, &parallelism);
  }
}

}  // namespace tessera::conv

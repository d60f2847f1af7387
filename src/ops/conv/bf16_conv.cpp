// Group-1 convolutions on the bf16 GEMM (see bf16_conv.h).
#include "ops/conv/bf16_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "base/error.h"
#include "base/lazy_text.h"
#include "ops/conv/conv_kernels.h"

namespace tessera::conv {
namespace {

// Per-thread scratch of at least `bytes`, 64-byte aligned, grown on demand and kept: a whole im2col matrix is MBs,
// and allocating it per call costs page faults on every run.
char* scratch_bytes(int64_t bytes) {
  thread_local std::vector<char> buffer;
  if (static_cast<int64_t>(buffer.size()) < bytes + 64) buffer.resize(static_cast<size_t>(bytes + 64));
  const uintptr_t address = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - address % 64) % 64);
}

// The Bf16Im2colImage geometry of one image of the 2-D convolution `g` (its data not set): the padded plane is as
// large as the outputs read, each padded row split into its stride_w column phases.
Bf16Im2colImage im2col_image_geometry(const ConvGeometry& g) {
  Bf16Im2colImage image;
  image.channels = g.in_channels;
  image.kernel_h = g.kernel[0];
  image.kernel_w = g.kernel[1];
  image.stride_h = g.strides[0];
  image.stride_w = g.strides[1];
  image.dilation_h = g.dilations[0];
  image.dilation_w = g.dilations[1];
  image.out_w = g.out_dims[1];
  const int64_t rows = (g.out_dims[0] - 1) * g.strides[0] + (g.kernel[0] - 1) * g.dilations[0] + 1;
  const int64_t columns = (g.out_dims[1] - 1) * g.strides[1] + (g.kernel[1] - 1) * g.dilations[1] + 1;
  image.phase_width = (columns + image.stride_w - 1) / image.stride_w;
  image.row_pitch = image.stride_w * image.phase_width;
  image.plane_pitch = rows * image.row_pitch;
  return image;
}

// Writes image n of x into `out` as `image` lays it out (im2col_image_geometry(g)): each input row rounded to
// bfloat16 and placed at its padded columns (zeros in the padding and past the input), split over the pool by
// channels.
void make_im2col_image(const ConvGeometry& g, const float* x, const Bf16Im2colImage& image, uint16_t* out,
                       Parallelism& parallelism) {
  const int64_t in_h = g.in_dims[0], in_w = g.in_dims[1], pad_top = g.pad_begin[0], pad_left = g.pad_begin[1];
  const int64_t rows = image.plane_pitch / image.row_pitch, stride = image.stride_w, width = image.phase_width;
  const int64_t columns = std::min(image.row_pitch, in_w + pad_left);  // padded columns holding input values
  parallelism.parallel_for(image.channels, [&](int64_t begin, int64_t end) {
    // The channel's plane rounded in one call (row by row, 14- or 7-wide rows left the vector loop idle).
    thread_local std::vector<uint16_t> plane;
    plane.resize(static_cast<size_t>(in_h * in_w));
    for (int64_t c = begin; c < end; ++c) {
      bf16_round_f32(x + c * in_h * in_w, in_h * in_w, plane.data());
      for (int64_t r = 0; r < rows; ++r) {
        uint16_t* const row = out + c * image.plane_pitch + r * image.row_pitch;
        const int64_t ih = r - pad_top;
        std::fill(row, row + image.row_pitch, uint16_t{0});
        if (ih < 0 || ih >= in_h) continue;
        const uint16_t* const rounded = plane.data() + ih * in_w;
        if (stride == 1) {
          if (columns > pad_left) std::copy(rounded, rounded + (columns - pad_left), row + pad_left);
          continue;
        }
        if (stride == 2 && columns == pad_left + in_w) {
          // Pairs of input columns as 32-bit words: the earlier one to the phase of pad_left, the later one to the
          // other (a loop GCC vectorises; element by element this was a fifth of an INT8 3x3 stride-2 stem's time).
          const int64_t pairs = in_w / 2;
          uint16_t* const first = row + (pad_left % 2) * width + pad_left / 2;
          uint16_t* const second = row + ((pad_left + 1) % 2) * width + (pad_left + 1) / 2;
          for (int64_t j = 0; j < pairs; ++j) {
            uint32_t pair;
            std::memcpy(&pair, rounded + 2 * j, sizeof pair);
            first[j] = static_cast<uint16_t>(pair);
            second[j] = static_cast<uint16_t>(pair >> 16);
          }
          if (in_w % 2 != 0) first[pairs] = rounded[in_w - 1];
          continue;
        }
        // Phase by phase: padded columns q, q + stride, ... from the first one at or past pad_left.
        for (int64_t q = 0; q < stride; ++q) {
          const int64_t first = q >= pad_left ? 0 : (pad_left - q + stride - 1) / stride;
          uint16_t* const phase = row + q * width;
          for (int64_t j = first, column = q + first * stride; column < columns; ++j, column += stride)
            phase[j] = rounded[column - pad_left];
        }
      }
    }
  });
}

}  // namespace

std::shared_ptr<const Bf16ConvWeights> make_bf16_conv_weights(const Tensor& w) {
  check_argument(w.rank() >= 3 && (w.dtype() == DType::kFloat || w.dtype() == DType::kBFloat16),
                 "bf16 Conv weights must be float32 or bfloat16 of rank 3 or more, got ", tensor_text(w));
  const int64_t out_channels = w.dim(0);
  const int64_t depth = out_channels > 0 ? w.element_count() / out_channels : 0;
  auto weights = std::make_shared<Bf16ConvWeights>();
  weights->packed = pack_bf16_gemm_a_any(w.dtype() == DType::kFloat, out_channels, depth, w.raw_data(), depth);
  return weights;
}

void conv_bf16(const ConvGeometry& g, const Bf16ConvWeights& w, const float* x, const float* bias, const float* sum,
               float lo, float hi, float* y, Parallelism& parallelism, bool x_channels_last) {
  const int64_t depth = g.in_channels * g.kernel_size;
  const int64_t positions = g.out_size, channels = g.out_channels;
  check_argument(g.group == 1 && w.packed.depth() == depth && w.packed.rows() == channels, "conv_bf16: weights packed ",
                 w.packed.rows(), " x ", w.packed.depth(), " for a convolution of ", g.in_channels, " x ",
                 g.kernel_size, " depth to ", channels, " channels (group ", g.group, ")");
  if (positions == 0 || channels == 0) return;
  const bool pointwise = g.is_pointwise();
  check_argument(!x_channels_last || pointwise, "conv_bf16: a channels-last x needs a pointwise convolution");
  // 1-D and 3-D im2col matrices are made whole first; 2-D ones panel by panel: packed straight from a bfloat16
  // copy of the padded image where the GEMM variant can (bf16_gemm_packs_im2col), else through float32 rows.
  const bool whole_im2col = !pointwise && g.spatial_rank() != 2;
  const bool straight = !pointwise && g.spatial_rank() == 2 && bf16_gemm_packs_im2col();
  Bf16Im2colImage image;
  if (straight) image = im2col_image_geometry(g);
  // Fewer positions than output channels (small planes): more weights than activations, so B is packed whole
  // first and bf16_gemm runs its blocks of A rows, reading the weights once per block rather than once per panel.
  const bool whole_b = positions < channels;
  const int64_t col_bytes = whole_im2col ? (depth * positions * 4 + 63) / 64 * 64 : 0;
  const int64_t image_bytes = straight ? (image.channels * image.plane_pitch * 2 + 63) / 64 * 64 : 0;
  char* const base =
      scratch_bytes(col_bytes + image_bytes + (whole_b ? bf16_gemm_packed_b_elements(depth, positions) * 2 : 0));
  float* const col = whole_im2col ? reinterpret_cast<float*>(base) : nullptr;
  uint16_t* const image_data = straight ? reinterpret_cast<uint16_t*>(base + col_bytes) : nullptr;
  uint16_t* const whole_strips = whole_b ? reinterpret_cast<uint16_t*>(base + col_bytes + image_bytes) : nullptr;
  image.data = image_data;
  const int64_t strip_elements = bf16_gemm_packed_b_elements(depth, 1);
  Bf16GemmEpilogue epilogue;
  epilogue.row_bias = bias;
  epilogue.sum_ld = positions;
  epilogue.min = lo;
  epilogue.max = hi;
  // Panels of four strips: packed and multiplied by every row of W while they are in the packing thread's cache.
  // (Narrower panels where a plane has fewer than eight per thread, for evener shares, measured slower: ResNet-50's
  // 28x28 layers on two threads, e.g. 425 -> 520 us.)
  const int64_t strip = bf16_gemm_b_strip_columns();
  const int64_t panel_columns = 4 * strip;
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* xn = x + n * g.in_channels * g.in_size;
    std::unique_ptr<Im2colPanelMaker> maker;
    if (whole_im2col) {
      parallelism.parallel_for(g.in_channels, [&](int64_t begin, int64_t end) {
        im2col<float>(g, xn + begin * g.in_size, end - begin, 0.0f, col + begin * g.kernel_size * positions);
      });
    } else if (straight) {
      make_im2col_image(g, xn, image, image_data, parallelism);
    } else if (!pointwise) {
      ConvGeometry one = g;
      one.batch = 1;
      maker = std::make_unique<Im2colPanelMaker>(one, xn, parallelism);
    }
    // The rows of B: x itself, the whole im2col matrix, or one made panel in `values`.
    const float* rows = pointwise ? xn : col;
    const auto pack_panel = [&](int64_t j0, int64_t cols, uint16_t* strips) {
      if (x_channels_last) {
        for (int64_t j = 0; j < cols; j += strip) {
          pack_bf16_gemm_b_f32_transposed_strip(depth, j0 + j, std::min(strip, cols - j), xn, g.in_channels,
                                                strips + j / strip * strip_elements);
        }
        return;
      }
      if (straight) {
        for (int64_t j = 0; j < cols; j += strip)
          pack_bf16_gemm_b_im2col_strip(image, j0 + j, std::min(strip, cols - j), strips + j / strip * strip_elements);
        return;
      }
      thread_local std::vector<float> values;
      const float* b = nullptr;
      int64_t ld = positions;
      if (maker != nullptr) {
        values.resize(static_cast<size_t>(depth * panel_columns));
        maker->make(j0, cols, panel_columns, values.data());
        b = values.data();
        ld = panel_columns;
      } else {
        b = rows + j0;
      }
      for (int64_t j = 0; j < cols; j += strip) {
        pack_bf16_gemm_b_f32_strip(depth, cols, j, std::min(strip, cols - j), b + j, ld, strips);
      }
    };
    const int64_t offset = n * channels * positions;
    epilogue.sum = sum != nullptr ? sum + offset : nullptr;
    if (!whole_b) {
      bf16_gemm_b_panels(channels, positions, depth, w.packed, panel_columns, pack_panel, y + offset, positions,
                         epilogue, &parallelism);
      continue;
    }
    const int64_t panels = (positions + panel_columns - 1) / panel_columns;
    parallelism.parallel_for(panels, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t j0 = p * panel_columns;
        pack_panel(j0, std::min(panel_columns, positions - j0), whole_strips + j0 / strip * strip_elements);
      }
    });
    Bf16GemmA a;
    a.packed = &w.packed;
    bf16_gemm(channels, positions, depth, a, bf16_gemm_b_view(depth, positions, whole_strips), y + offset, positions,
              epilogue, &parallelism);
  }
}

}  // namespace tessera::conv

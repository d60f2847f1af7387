#include "ops/conv/conv_kernels.h"

#include <algorithm>

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

// Depthwise 2-D convolution (one input channel per group): a direct loop per output channel, vectorised
// along output columns.
void depthwise_2d(const ConvF32Args& args, Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  const int64_t in_h = g.in_dims[0], in_w = g.in_dims[1];
  const int64_t out_h = g.out_dims[0], out_w = g.out_dims[1];
  const int64_t k_h = g.kernel[0], k_w = g.kernel[1];
  const int64_t s_h = g.strides[0], s_w = g.strides[1];
  const int64_t mg = g.out_group_channels();
  parallelism.parallel_for(g.batch * g.out_channels, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      const int64_t n = index / g.out_channels;
      const int64_t m = index % g.out_channels;
      const float* xc = args.x + (n * g.in_channels + m / mg) * g.in_size;
      const float* wc = args.w + m * k_h * k_w;
      float* yc = args.y + index * g.out_size;
      std::fill(yc, yc + g.out_size, args.bias ? args.bias[m] : 0.0f);
      for (int64_t oh = 0; oh < out_h; ++oh) {
        float* y_row = yc + oh * out_w;
        for (int64_t kh = 0; kh < k_h; ++kh) {
          const int64_t ih = oh * s_h + kh * g.dilations[0] - g.pad_begin[0];
          if (ih < 0 || ih >= in_h) continue;
          const float* x_row = xc + ih * in_w;
          for (int64_t kw = 0; kw < k_w; ++kw) {
            const float weight = wc[kh * k_w + kw];
            const int64_t offset = kw * g.dilations[1] - g.pad_begin[1];
            const Range r = valid_range(out_w, s_w, offset, in_w);
            if (s_w == 1) {
              for (int64_t ow = r.lo; ow < r.hi; ++ow) y_row[ow] += weight * x_row[ow + offset];
            } else {
              for (int64_t ow = r.lo; ow < r.hi; ++ow) y_row[ow] += weight * x_row[ow * s_w + offset];
            }
          }
        }
      }
    }
  });
}

// Advances a row-major odometer over `dims`; returns false after the last index.
bool next_index(std::vector<int64_t>& index, const std::vector<int64_t>& dims) {
  for (size_t d = dims.size(); d-- > 0;) {
    if (++index[d] < dims[d]) return true;
    index[d] = 0;
  }
  return false;
}

}  // namespace

void conv_f32(const ConvF32Args& args, Parallelism& parallelism) {
  const ConvGeometry& g = args.geometry;
  const int64_t cg = g.in_group_channels();
  const int64_t mg = g.out_group_channels();
  if (cg == 1 && g.spatial_rank() == 2 && args.w != nullptr) {
    depthwise_2d(args, parallelism);
    return;
  }
  const int64_t depth = cg * g.kernel_size;
  const bool pointwise = g.is_pointwise();
  float* col = pointwise ? nullptr : scratch_f32(depth * g.out_size);
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const float* xg = args.x + (n * g.in_channels + grp * cg) * g.in_size;
      float* yg = args.y + (n * g.out_channels + grp * mg) * g.out_size;
      if (!pointwise) {
        parallelism.parallel_for(cg, [&](int64_t begin, int64_t end) {
          im2col<float>(g, xg + begin * g.in_size, end - begin, 0.0f, col + begin * g.kernel_size * g.out_size);
        });
      }
      float beta = 0.0f;
      if (args.bias != nullptr) {
        fill_rows(yg, mg, g.out_size, args.bias + grp * mg);
        beta = 1.0f;
      }
      const GemmOperandF32 a = args.packed ? GemmOperandF32{&(*args.packed)[static_cast<size_t>(grp)]}
                                           : GemmOperandF32{nullptr, args.w + grp * mg * depth, depth, false};
      const GemmOperandF32 b{nullptr, pointwise ? xg : col, g.out_size, false};
      gemm_f32_packed(mg, g.out_size, depth, 1.0f, a, b, beta, yg, g.out_size, &parallelism);
    }
  }
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

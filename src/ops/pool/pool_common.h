// Shared machinery of the pooling operators (MaxPool, AveragePool, LpPool and their Global forms):
// attribute parsing, output geometry (explicit pads, auto_pad, ceil_mode), shape inference, and the window walk
// over one (n, c) plane that the kernels plug a reducer into.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"

namespace tessera {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The window attributes of a pooling node, validated. Vectors have one entry per spatial axis
// (pads: the begin values, then the end values).
struct PoolAttributes {
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;

  size_t spatial_rank() const { return kernel.size(); }
};

// Parses kernel_shape (required), strides, dilations, pads, auto_pad and ceil_mode of `node`. Throws
// kInvalidModel for a missing kernel, lengths that disagree, non-positive kernel/stride/dilation values,
// negative pads or an unknown auto_pad.
PoolAttributes parse_pool_attributes(const Node& node);

// Where the windows of one spatial axis lie: the output length and the effective pads.
struct AxisGeometry {
  int64_t output = 0;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
};

// Resolves axis `axis` for an input of length `input`: explicit pads (with ceil_mode, a last window that
// would start in the end padding is dropped) or auto_pad. Throws kInvalidArgument when no window fits.
AxisGeometry resolve_pool_axis(const PoolAttributes& attrs, size_t axis, int64_t input);

// The resolved geometry of every spatial axis for a concrete input.
struct PoolGeometry {
  std::vector<int64_t> input;   // spatial input dims
  std::vector<int64_t> output;  // spatial output dims
  std::vector<int64_t> kernel, strides, dilations, pads_begin;
  int64_t input_size = 1;   // elements of one input plane
  int64_t output_size = 1;  // elements of one output plane
  int64_t kernel_size = 1;  // kernel positions per window
};

// Validates that `x` is [N, C, spatial...] with the attributes' spatial rank and resolves every axis.
PoolGeometry resolve_pool_geometry(const PoolAttributes& attrs, const Tensor& x, const std::string& op_name);

// Output shape [N, C, output...] of a pool over `x`.
std::vector<int64_t> pool_output_shape(const Tensor& x, const PoolGeometry& geometry);

// Shape inference for windowed pools: output 0 (and an Indices output 1, int64) get [N, C, out...], with the
// spatial dims computed where the input's are known.
void infer_pool(InferenceContext& context);
// Shape inference for Global*Pool: [N, C, 1, ...].
void infer_global_pool(InferenceContext& context);

// One window's valid kernel positions along an axis: [lo, hi) of the kernel index k, whose input position is
// start + k * dilation.
struct AxisWindows {
  std::vector<int64_t> start, lo, hi;
};

// The windows of every spatial axis, precomputed once per call.
std::vector<AxisWindows> make_axis_windows(const PoolGeometry& geometry);

// Walks every output position of one plane in row-major order. For each, calls reducer.begin(), then
// reducer.add(offset) for every kernel position inside the input (offset: row-major within the input plane),
// then reducer.finish(output_offset, valid_count). Spatial rank 1 to 3 takes a flattened fast loop; higher
// ranks an odometer.
template <typename Reducer>
void pool_plane(const PoolGeometry& g, const std::vector<AxisWindows>& w, Reducer& reducer);

// The odometer walk of pool_plane for any spatial rank (also the reference the fast loop is tested against).
template <typename Reducer>
void pool_plane_generic(const PoolGeometry& g, const std::vector<AxisWindows>& w, Reducer& reducer);

// Converts a row-major offset within a plane to the column-major offset (MaxPool storage_order = 1).
int64_t column_major_offset(int64_t row_major, const std::vector<int64_t>& dims);

// ---- implementation of the templates ----

template <typename Reducer>
[[gnu::noinline]] void pool_plane_generic(const PoolGeometry& g, const std::vector<AxisWindows>& w,
                                          Reducer& reducer) {
  const size_t rank = g.input.size();
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t a = rank; a-- > 1;) in_strides[a - 1] = in_strides[a] * g.input[a];
  std::vector<int64_t> out_pos(rank, 0), k(rank, 0);
  for (int64_t o = 0; o < g.output_size; ++o) {
    reducer.begin();
    int64_t count = 1;
    bool empty = false;
    for (size_t a = 0; a < rank; ++a) {
      k[a] = w[a].lo[out_pos[a]];
      const int64_t n = w[a].hi[out_pos[a]] - k[a];
      if (n <= 0) empty = true;
      count *= n;
    }
    if (empty) count = 0;
    while (!empty) {
      int64_t offset = 0;
      for (size_t a = 0; a < rank; ++a) offset += (w[a].start[out_pos[a]] + k[a] * g.dilations[a]) * in_strides[a];
      reducer.add(offset);
      size_t a = rank;
      while (a-- > 0) {
        if (++k[a] < w[a].hi[out_pos[a]]) break;
        k[a] = w[a].lo[out_pos[a]];
      }
      if (a == static_cast<size_t>(-1)) break;
    }
    reducer.finish(o, count);
    for (size_t a = rank; a-- > 0;) {
      if (++out_pos[a] < g.output[a]) break;
      out_pos[a] = 0;
    }
  }
}

template <typename Reducer>
void pool_plane(const PoolGeometry& g, const std::vector<AxisWindows>& w, Reducer& reducer) {
  const size_t rank = g.input.size();
  if (rank > 3 || rank == 0) {
    pool_plane_generic(g, w, reducer);
    return;
  }
  // Flatten to (D, H, W), padding leading axes with a single full window of length one.
  static const AxisWindows kUnit{{0}, {0}, {1}};
  const size_t lead = 3 - rank;
  const AxisWindows& wd = lead >= 1 ? kUnit : w[0];
  const AxisWindows& wh = lead >= 2 ? kUnit : w[1 - lead];
  const AxisWindows& ww = w[2 - lead];
  const int64_t out_d = lead >= 1 ? 1 : g.output[0], out_h = lead >= 2 ? 1 : g.output[1 - lead];
  const int64_t out_w = g.output[2 - lead];
  const int64_t in_h = lead >= 2 ? 1 : g.input[1 - lead], in_w = g.input[2 - lead];
  const int64_t dil_d = lead >= 1 ? 1 : g.dilations[0], dil_h = lead >= 2 ? 1 : g.dilations[1 - lead];
  const int64_t dil_w = g.dilations[2 - lead];
  int64_t o = 0;
  for (int64_t od = 0; od < out_d; ++od) {
    const int64_t d0 = wd.start[od], d_lo = wd.lo[od], d_hi = wd.hi[od];
    for (int64_t oh = 0; oh < out_h; ++oh) {
      const int64_t h0 = wh.start[oh], h_lo = wh.lo[oh], h_hi = wh.hi[oh];
      for (int64_t ow = 0; ow < out_w; ++ow, ++o) {
        const int64_t w0 = ww.start[ow], w_lo = ww.lo[ow], w_hi = ww.hi[ow];
        reducer.begin();
        for (int64_t kd = d_lo; kd < d_hi; ++kd) {
          const int64_t plane_d = (d0 + kd * dil_d) * in_h;
          for (int64_t kh = h_lo; kh < h_hi; ++kh) {
            const int64_t row = (plane_d + h0 + kh * dil_h) * in_w + w0;
            for (int64_t kw = w_lo; kw < w_hi; ++kw) reducer.add(row + kw * dil_w);
          }
        }
        const int64_t count = std::max<int64_t>(d_hi - d_lo, 0) * std::max<int64_t>(h_hi - h_lo, 0) *
                              std::max<int64_t>(w_hi - w_lo, 0);
        reducer.finish(o, count);
      }
    }
  }
}

}  // namespace tessera

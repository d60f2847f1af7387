// Shared machinery of the pooling operators (MaxPool, AveragePool, LpPool and their Global forms):
// attribute parsing, output geometry (explicit pads, auto_pad, ceil_mode), shape inference, and the window walk
// over one (n, c) plane that the kernels plug a reducer into.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error.h"
#include "base/parallel.h"
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
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end;
  int64_t input_size = 1;   // elements of one input plane
  int64_t output_size = 1;  // elements of one output plane
  int64_t kernel_size = 1;  // kernel positions per window
};

// Validates that `x` is [N, C, spatial...] with the attributes' spatial rank and resolves every axis.
PoolGeometry resolve_pool_geometry(const PoolAttributes& attrs, const Tensor& x, const std::string& op_name);

// Output shape [N, C, output...] of a pool over `x`.
std::vector<int64_t> pool_output_shape(const Tensor& x, const PoolGeometry& geometry);

// Shape inference for windowed pools: output 0 (and an Indices output 1, int64) get [N, C, out...], with the

// X [N, spatial..., C] (channels last, rank >= 3) copied to [N, C, spatial...], and back: the com.microsoft pools
// with channels_last run the NCHW pool between the two.
Tensor channels_last_to_first(const Tensor& x, Parallelism& parallelism);
Tensor channels_first_to_last(const Tensor& y, Parallelism& parallelism);
// spatial dims computed where the input's are known.
void infer_pool(InferenceContext& context);
// Shape inference for Global*Pool: [N, C, 1, ...].
void infer_global_pool(InferenceContext& context);
// Output 0: input 0's element type only (the com.microsoft pools, whose layout varies; shape left to run time).
void infer_pool_element_type(InferenceContext& context);

// One window's kernel positions along an axis: [lo, hi) of the kernel index k whose input position
// start + k * dilation lies inside the input, and [0, padded_hi) of those inside the padded input (a ceil_mode
// window may hang past the end padding; AveragePool's count_include_pad counts only the padded extent).
struct AxisWindows {
  std::vector<int64_t> start, lo, hi, padded_hi;
  std::vector<double> inv_count, inv_padded;  // 1 / (hi - lo) and 1 / padded_hi (NaN for an empty window)
  // Per kernel index k: the outputs whose window holds k inside the input form the run [k_begin[k], k_end[k])
  // (start grows with the output index, so lo and hi never increase).
  std::vector<int64_t> k_begin, k_end;
  int64_t stride = 1, pad_begin = 0;
};

// The windows of every spatial axis, precomputed once per call.
std::vector<AxisWindows> make_axis_windows(const PoolGeometry& geometry);

// Walks every output position of one plane in row-major order. For each, calls reducer.begin(), then
// reducer.add(offset) for every kernel position inside the input (offset: row-major within the input plane),
// then reducer.finish(output_offset, valid_count, padded_count). Spatial rank 1 to 3 takes a flattened fast loop;
// higher ranks an odometer.
template <typename Reducer>
void pool_plane(const PoolGeometry& g, const std::vector<AxisWindows>& w, Reducer& reducer);

// The odometer walk of pool_plane for any spatial rank (also the reference the fast loop is tested against).
template <typename Reducer>
void pool_plane_generic(const PoolGeometry& g, const std::vector<AxisWindows>& w, Reducer& reducer);

// Converts a row-major offset within a plane to the column-major offset (MaxPool storage_order = 1).
int64_t column_major_offset(int64_t row_major, const std::vector<int64_t>& dims);

// How the separable pool combines a window: max (NaN propagates) or sum (with `kAverage`, each axis divides by
// its window count, so the product of the per-axis divisions is the window's element count).
enum class PoolCombine { kMax, kSum, kAverage };

// Pools one plane axis by axis: each pass reduces one spatial axis over its windows, contiguous runs of the
// later axes vectorizing; max and sum are separable, so this equals the direct window walk. `src` is the
// plane (g.input), `dst` receives g.output; `scratch` is reused between calls. Windows with no element give
// -inf (max) or NaN (average).
template <typename T, PoolCombine kCombine>
void pool_plane_separable(const PoolGeometry& g, const std::vector<AxisWindows>& w, bool count_include_pad,
                          const T* src, T* dst, std::vector<T>& scratch);

// Runs a shape-inference body and prefixes an Error it throws with the node's label (the inference driver passes
// errors on unchanged, and messages from shared helpers do not know the node).
template <typename Body>
void with_node_label(const Node& node, Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    const std::string label = node.label();
    const std::string message = e.what();
    if (message.rfind(label, 0) == 0) throw;
    throw Error(e.code(), label + ": " + message);
  }
}

// ---- implementation of the templates ----

template <typename T, PoolCombine kCombine>
inline T pool_combine(T acc, T v) {
  if constexpr (kCombine == PoolCombine::kMax) {
    if constexpr (std::is_floating_point_v<T>)
      return (v > acc || v != v) ? v : acc;
    else
      return v > acc ? v : acc;
  } else {
    return acc + v;
  }
}

template <typename T, PoolCombine kCombine>
constexpr T pool_identity() {
  if constexpr (kCombine != PoolCombine::kMax)
    return T(0);
  else if constexpr (std::is_floating_point_v<T>)
    return -std::numeric_limits<T>::infinity();
  else
    return std::numeric_limits<T>::lowest();
}

// One pass of pool_plane_separable: [outer, in, inner] -> [outer, out, inner] along one axis.
template <typename T, PoolCombine kCombine>
void pool_axis_pass(const AxisWindows& w, int64_t dilation, bool count_include_pad, int64_t outer, int64_t in,
                    int64_t out, int64_t inner, const T* src, T* dst) {
  constexpr T kInit = pool_identity<T, kCombine>();
  if (inner == 1) {
    // The last axis: kernel tap by kernel tap over the run of outputs that see it, so the loop over outputs is
    // branch-free (and contiguous at stride 1, where it vectorizes).
    const int64_t kernel = static_cast<int64_t>(w.k_begin.size());
    for (int64_t n = 0; n < outer; ++n) {
      const T* s = src + n * in;
      T* d = dst + n * out;
      std::fill_n(d, out, kInit);
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t offset = k * dilation - w.pad_begin;
        for (int64_t o = w.k_begin[k]; o < w.k_end[k]; ++o) {
          d[o] = pool_combine<T, kCombine>(d[o], s[o * w.stride + offset]);
        }
      }
      if constexpr (kCombine == PoolCombine::kAverage) {
        const std::vector<double>& inv = count_include_pad ? w.inv_padded : w.inv_count;
        for (int64_t o = 0; o < out; ++o) d[o] *= static_cast<T>(inv[o]);
      }
    }
    return;
  }
  for (int64_t n = 0; n < outer; ++n) {
    const T* s = src + n * in * inner;
    for (int64_t o = 0; o < out; ++o) {
      const int64_t lo = w.lo[o], hi = w.hi[o], start = w.start[o];
      T* d = dst + (n * out + o) * inner;
      std::fill_n(d, inner, kInit);
      for (int64_t k = lo; k < hi; ++k) {
        const T* row = s + (start + k * dilation) * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] = pool_combine<T, kCombine>(d[i], row[i]);
      }
      if constexpr (kCombine == PoolCombine::kAverage) {
        const T scale = static_cast<T>(count_include_pad ? w.inv_padded[o] : w.inv_count[o]);
        for (int64_t i = 0; i < inner; ++i) d[i] *= scale;
      }
    }
  }
}

template <typename T, PoolCombine kCombine>
void pool_plane_separable(const PoolGeometry& g, const std::vector<AxisWindows>& w, bool count_include_pad,
                          const T* src, T* dst, std::vector<T>& scratch) {
  const size_t rank = g.input.size();
  std::vector<int64_t> shape = g.input;
  // Intermediates ping-pong between the two halves of `scratch`; the last pass writes dst.
  int64_t largest = 0;
  for (size_t a = 0; a + 1 < rank; ++a) {
    shape[a] = g.output[a];
    int64_t size = 1;
    for (int64_t d : shape) size *= d;
    largest = std::max(largest, size);
  }
  if (static_cast<int64_t>(scratch.size()) < 2 * largest) scratch.resize(static_cast<size_t>(2 * largest));
  shape = g.input;
  const T* current = src;
  for (size_t a = 0; a < rank; ++a) {
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < a; ++i) outer *= shape[i];
    for (size_t i = a + 1; i < rank; ++i) inner *= shape[i];
    T* next = a + 1 == rank ? dst : scratch.data() + (a % 2) * largest;
    pool_axis_pass<T, kCombine>(w[a], g.dilations[a], count_include_pad, outer, shape[a], g.output[a], inner, current,
                                next);
    shape[a] = g.output[a];
    current = next;
  }
}

template <typename Reducer>
[[gnu::noinline]] void pool_plane_generic(const PoolGeometry& g, const std::vector<AxisWindows>& w, Reducer& reducer) {
  const size_t rank = g.input.size();
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t a = rank; a-- > 1;) in_strides[a - 1] = in_strides[a] * g.input[a];
  std::vector<int64_t> out_pos(rank, 0), k(rank, 0);
  for (int64_t o = 0; o < g.output_size; ++o) {
    reducer.begin();
    int64_t count = 1, padded_count = 1;
    bool empty = false;
    for (size_t a = 0; a < rank; ++a) {
      k[a] = w[a].lo[out_pos[a]];
      const int64_t n = w[a].hi[out_pos[a]] - k[a];
      if (n <= 0) empty = true;
      count *= n;
      padded_count *= w[a].padded_hi[out_pos[a]];
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
    reducer.finish(o, count, padded_count);
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
  static const AxisWindows kUnit{{0}, {0}, {1}, {1}, {1.0}, {1.0}, {0}, {1}, 1, 0};
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
    const int64_t d0 = wd.start[od], d_lo = wd.lo[od], d_hi = wd.hi[od], d_pad = wd.padded_hi[od];
    for (int64_t oh = 0; oh < out_h; ++oh) {
      const int64_t h0 = wh.start[oh], h_lo = wh.lo[oh], h_hi = wh.hi[oh], dh_pad = d_pad * wh.padded_hi[oh];
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
        const int64_t count =
            std::max<int64_t>(d_hi - d_lo, 0) * std::max<int64_t>(h_hi - h_lo, 0) * std::max<int64_t>(w_hi - w_lo, 0);
        reducer.finish(o, count, dh_pad * ww.padded_hi[ow]);
      }
    }
  }
}

}  // namespace tessera

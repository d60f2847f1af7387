// Random 2-D window geometries for the kernel-family tests (f32-dwconv, f32-maxpool).
#pragma once

#include <cstdint>
#include <random>

#include "kernels/window2d.h"

namespace tessera {

// Fills `p` with a random geometry: input up to max_h x max_w, kernel sides up to max_kernel (exactly
// fixed_kernel x fixed_kernel when that is > 0), strides up to max_stride (rows up to 3), dilations up to 2,
// pads up to 2 on every side; output dims rounded down, or up with `ceil_mode` (a window may then hang past the
// padding). False when the kernel does not fit the padded input (no geometry).
inline bool random_window(std::mt19937& rng, Window2d& p, int64_t max_h, int64_t max_w, int64_t max_kernel,
                          int64_t fixed_kernel = 0, int64_t max_stride = 3, bool ceil_mode = false) {
  p.in_h = 1 + static_cast<int64_t>(rng() % max_h);
  p.in_w = 1 + static_cast<int64_t>(rng() % max_w);
  p.kernel_h = fixed_kernel > 0 ? fixed_kernel : 1 + static_cast<int64_t>(rng() % max_kernel);
  p.kernel_w = fixed_kernel > 0 ? fixed_kernel : 1 + static_cast<int64_t>(rng() % max_kernel);
  p.stride_h = 1 + static_cast<int64_t>(rng() % 3);
  p.stride_w = 1 + static_cast<int64_t>(rng() % max_stride);
  p.dilation_h = 1 + static_cast<int64_t>(rng() % 2);
  p.dilation_w = 1 + static_cast<int64_t>(rng() % 2);
  p.pad_top = static_cast<int64_t>(rng() % 3);
  p.pad_left = static_cast<int64_t>(rng() % 3);
  const int64_t pad_bottom = static_cast<int64_t>(rng() % 3), pad_right = static_cast<int64_t>(rng() % 3);
  const int64_t span_h = p.in_h + p.pad_top + pad_bottom - (p.kernel_h - 1) * p.dilation_h;
  const int64_t span_w = p.in_w + p.pad_left + pad_right - (p.kernel_w - 1) * p.dilation_w;
  if (span_h <= 0 || span_w <= 0) return false;
  p.out_h = (span_h - 1 + (ceil_mode ? p.stride_h - 1 : 0)) / p.stride_h + 1;
  p.out_w = (span_w - 1 + (ceil_mode ? p.stride_w - 1 : 0)) / p.stride_w + 1;
  return true;
}

}  // namespace tessera

// Window2d: the geometry of a 2-D sliding-window kernel over one plane (depthwise convolution, pooling), shared by
// the kernel families that take one.
#pragma once

#include <cstdint>

namespace tessera {

struct Window2d {
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;
};

}  // namespace tessera

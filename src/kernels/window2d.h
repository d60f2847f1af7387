// Window2d: the geometry of a 2-D sliding-window kernel over one plane (depthwise convolution, pooling), shared by
// the kernel families that take one.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera {

struct Window2d {
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;
};

// A Window2d from per-axis geometry (height first, at least two axes), as the operators' geometry structs hold it.
inline Window2d window2d(const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                         const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                         const std::vector<int64_t>& dilations, const std::vector<int64_t>& pads_begin) {
  return Window2d{in[0],      in[1],      out[0],       out[1],       kernel[0],     kernel[1],
                  strides[0], strides[1], dilations[0], dilations[1], pads_begin[0], pads_begin[1]};
}

}  // namespace tessera

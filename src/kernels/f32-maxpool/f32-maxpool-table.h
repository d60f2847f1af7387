// The per-ISA table of f32-maxpool (plain data; see the note at the top of f32-gemm-ukernel.h).
#pragma once

#include <algorithm>

#include "kernels/f32-maxpool/f32-maxpool.h"

namespace tessera::f32_maxpool {

using MaxPoolFn = void (*)(const MaxPool2dF32Params& p, const float* x, float* y, float* scratch);
// Window maxima of channel-interleaved planes: in is in_h x in_w positions of kMaxPoolChannelBlock floats, out
// out_h x out_w positions of as many.
using MaxPoolInterleavedFn = void (*)(const MaxPool2dF32Params& p, const float* in, float* out);

struct MaxPoolSet {
  const char* name;
  MaxPoolFn run;
  MaxPoolInterleavedFn run_interleaved;
};

extern const MaxPoolSet kPortableSet;
#if defined(__x86_64__)
extern const MaxPoolSet kAvx2Set;
extern const MaxPoolSet kAvx512Set;
#endif

// Widest register (floats) of any variant: the row buffer's slack past the last window, so every variant may read
// whole registers there.
inline constexpr int64_t kMaxLanes = 16;

// Most input rows one window combines (kernel_h); maxpool2d_f32_supports requires it.
inline constexpr int64_t kMaxWindowRows = 64;

// Floats of the -inf-padded row buffer: the window columns of every output rounded up to whole registers (twice
// as many columns at stride 2, whose registers hold two columns per output), plus one register of slack.
inline int64_t row_buffer_floats(const MaxPool2dF32Params& p) {
  const int64_t outputs = (p.out_w + kMaxLanes - 1) / kMaxLanes * kMaxLanes;
  const int64_t span = std::max<int64_t>(outputs * p.stride_w + (p.kernel_w - 1) * p.dilation_w, p.pad_left + p.in_w);
  return span + 2 * kMaxLanes;
}

}  // namespace tessera::f32_maxpool

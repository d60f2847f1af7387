// The per-ISA table of f32-dwconv-nhwc (plain data; see the note at the top of f32-gemm-ukernel.h).
#pragma once

#include <cstdint>

#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc.h"

namespace tessera::f32_dwconv_nhwc {

// dwconv_nhwc_f32 (see f32-dwconv-nhwc.h for the contract).
using DwConvNhwcFn = void (*)(const DwConvNhwcF32Params& p, const float* x, const float* w, const float* bias,
                              const float* sum, float* y, int64_t row_begin, int64_t row_end, int64_t channel_begin,
                              int64_t channel_end);

struct DwConvNhwcSet {
  const char* name;
  DwConvNhwcFn run;
};

extern const DwConvNhwcSet kPortableSet;
#if defined(__x86_64__)
extern const DwConvNhwcSet kAvx2Set;
extern const DwConvNhwcSet kAvx512Set;
#endif

}  // namespace tessera::f32_dwconv_nhwc

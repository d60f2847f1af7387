// The per-ISA table of f32-dwconv (plain data; see the note at the top of f32-gemm-ukernel.h).
#pragma once

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace tessera::f32_dwconv {

using DwConvFn = void (*)(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y,
                          float* scratch);

using DwConvChannelsFn = void (*)(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w,
                                  const float* bias, float* y, float* scratch);

struct DwConvSet {
  const char* name;
  DwConvFn run;
  DwConvChannelsFn run_channels;
};

extern const DwConvSet kPortableSet;
#if defined(__x86_64__)
extern const DwConvSet kAvx2Set;
extern const DwConvSet kAvx512Set;
#endif

// Outputs computed together (one AVX-512 register; two AVX2 registers).
inline constexpr int kBlock = 16;

// Geometry of the phase-split padded plane, shared by the driver (scratch size) and the ISA files.
struct PhaseLayout {
  int64_t rows;         // padded input rows: (out_h - 1) * stride_h + (kernel_h - 1) * dilation_h + 1
  int64_t phase_width;  // columns per phase row: out_w rounded up to kBlock, plus the largest tap shift
  int64_t phases;       // stride_w
};

inline PhaseLayout phase_layout(const DwConv2dF32Params& p) {
  PhaseLayout layout;
  layout.rows = (p.out_h - 1) * p.stride_h + (p.kernel_h - 1) * p.dilation_h + 1;
  layout.phases = p.stride_w;
  layout.phase_width = (p.out_w + kBlock - 1) / kBlock * kBlock + ((p.kernel_w - 1) * p.dilation_w) / p.stride_w + 1;
  return layout;
}

// Geometry of the channel-interleaved padded buffer of dwconv2d_f32_channels: rows x cols positions of kBlock
// floats (one per channel lane; kBlock bounds every variant's lanes), then the outputs, out_h x out_w x kBlock.
struct ChannelLayout {
  int64_t rows, cols;     // padded input rows and columns the outputs read
  int64_t buffer_floats;  // rows * cols * kBlock
};

inline ChannelLayout channel_layout(const DwConv2dF32Params& p) {
  ChannelLayout layout;
  layout.rows = (p.out_h - 1) * p.stride_h + (p.kernel_h - 1) * p.dilation_h + 1;
  layout.cols = (p.out_w - 1) * p.stride_w + (p.kernel_w - 1) * p.dilation_w + 1;
  layout.buffer_floats = layout.rows * layout.cols * kBlock;
  return layout;
}

}  // namespace tessera::f32_dwconv

// The per-ISA table of f32-winograd (plain data; see the note at the top of f32-gemm-ukernel.h).
#pragma once

#include "kernels/f32-winograd/f32-winograd.h"

namespace tessera::f32_winograd {

struct WinogradSet {
  const char* name;
  void (*input)(const WinogradPlanes& g, const float* x, int64_t t0, int64_t t1, float* v);
  void (*output)(const WinogradPlanes& g, const float* m, const float* bias, float lo, float hi, int64_t t0,
                 int64_t t1, float* y);
};

extern const WinogradSet kPortableSet;
#if defined(__x86_64__)
extern const WinogradSet kAvx2Set;
extern const WinogradSet kAvx512Set;
#endif

}  // namespace tessera::f32_winograd

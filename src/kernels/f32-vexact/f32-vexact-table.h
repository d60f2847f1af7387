// The per-ISA table of f32-vexact (plain data shared by the driver and the ISA files; see the note at the top of
// f32-gemm-ukernel.h on why nothing inline is shared).
#pragma once

#include <cstdint>

namespace tessera::f32_vexact {

using VBinaryFn = void (*)(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* y, int64_t n);
using VUnaryFn = void (*)(float alpha, const float* x, float* y, int64_t n);

// One ISA's loops, indexed by VBinaryOpF32 and VExactUnaryOpF32.
struct VExactSet {
  const char* name;
  VBinaryFn binary[4];
  VUnaryFn unary[5];
};

extern const VExactSet kPortableSet;
#if defined(__x86_64__)
extern const VExactSet kAvx2Set;
extern const VExactSet kAvx512Set;
#endif

}  // namespace tessera::f32_vexact

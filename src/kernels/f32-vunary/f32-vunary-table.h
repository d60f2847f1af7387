// The per-ISA table of f32-vunary (plain data shared by the driver and the ISA files; see the note at the top of
// f32-gemm-ukernel.h on why nothing inline is shared).
#pragma once

#include <cstdint>

namespace tessera::f32_vunary {

using VUnaryFn = void (*)(const float* x, float* y, int64_t n);

// One ISA's loops, indexed by VUnaryOpF32.
struct VUnarySet {
  const char* name;
  VUnaryFn ops[6];
};

extern const VUnarySet kPortableSet;
#if defined(__x86_64__)
extern const VUnarySet kAvx2Set;
extern const VUnarySet kAvx512Set;
#endif

}  // namespace tessera::f32_vunary

// f32-vunary loops for AVX2+FMA (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/f32-vunary/f32-vunary-loops.h"

namespace tessera::f32_vunary {
#if defined(__x86_64__)
const VUnarySet kAvx2Set = make_set("f32_vunary__avx2");
#endif
}  // namespace tessera::f32_vunary

// f32-vunary loops for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports them).
#include "kernels/f32-vunary/f32-vunary-loops.h"

namespace tessera::f32_vunary {
#if defined(__x86_64__)
const VUnarySet kAvx512Set = make_set("f32_vunary__avx512");
#endif
}  // namespace tessera::f32_vunary

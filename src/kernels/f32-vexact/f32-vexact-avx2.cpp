// f32-vexact loops for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/f32-vexact/f32-vexact-loops.h"

namespace tessera::f32_vexact {
#if defined(__x86_64__)
const VExactSet kAvx2Set = make_set("f32_vexact__avx2");
#endif
}  // namespace tessera::f32_vexact

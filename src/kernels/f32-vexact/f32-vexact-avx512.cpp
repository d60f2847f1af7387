// f32-vexact loops for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports them).
#include "kernels/f32-vexact/f32-vexact-loops.h"

namespace tessera::f32_vexact {
#if defined(__x86_64__)
const VExactSet kAvx512Set = make_set("f32_vexact__avx512");
#endif
}  // namespace tessera::f32_vexact

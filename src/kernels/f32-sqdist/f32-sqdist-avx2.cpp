// f32-sqdist for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/f32-sqdist/f32-sqdist-impl.h"

namespace tessera::f32_sqdist {
#if defined(__x86_64__)
const SqdistSet kAvx2Set = {"f32_sqdist__avx2", sqdist};
#endif
}  // namespace tessera::f32_sqdist

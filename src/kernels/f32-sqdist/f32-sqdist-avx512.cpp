// f32-sqdist for AVX-512 (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports them).
#include "kernels/f32-sqdist/f32-sqdist-impl.h"

namespace tessera::f32_sqdist {
#if defined(__x86_64__)
const SqdistSet kAvx512Set = {"f32_sqdist__avx512", sqdist};
#endif
}  // namespace tessera::f32_sqdist

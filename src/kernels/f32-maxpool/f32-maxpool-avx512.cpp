// f32-maxpool for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports them).
#include "kernels/f32-maxpool/f32-maxpool-impl.h"

namespace tessera::f32_maxpool {
#if defined(__x86_64__)
const MaxPoolSet kAvx512Set = {"f32_maxpool__avx512", maxpool, maxpool_interleaved};
#endif
}  // namespace tessera::f32_maxpool

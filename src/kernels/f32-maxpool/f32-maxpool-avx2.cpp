// f32-maxpool for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/f32-maxpool/f32-maxpool-impl.h"

namespace tessera::f32_maxpool {
#if defined(__x86_64__)
const MaxPoolSet kAvx2Set = {"f32_maxpool__avx2", maxpool, maxpool_interleaved};
#endif
}  // namespace tessera::f32_maxpool

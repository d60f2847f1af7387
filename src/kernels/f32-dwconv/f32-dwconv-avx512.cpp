// f32-dwconv for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports them).
#include "kernels/f32-dwconv/f32-dwconv-impl.h"

namespace tessera::f32_dwconv {
#if defined(__x86_64__)
const DwConvSet kAvx512Set = {"f32_dwconv__avx512", dwconv, dwconv_channels};
#endif
}  // namespace tessera::f32_dwconv

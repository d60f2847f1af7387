// f32-dwconv for AVX2+FMA (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/f32-dwconv/f32-dwconv-impl.h"

namespace tessera::f32_dwconv {
#if defined(__x86_64__)
const DwConvSet kAvx2Set = {"f32_dwconv__avx2", dwconv, dwconv_channels};
#endif
}  // namespace tessera::f32_dwconv

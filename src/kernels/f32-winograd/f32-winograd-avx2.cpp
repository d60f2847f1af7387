// f32-winograd transforms for AVX2+FMA (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/f32-winograd/f32-winograd-impl.h"

namespace tessera::f32_winograd {
#if defined(__x86_64__)
const WinogradSet kAvx2Set = {"f32_winograd__avx2", transform_input, transform_output};
#endif
}  // namespace tessera::f32_winograd

// f32-winograd transforms for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports them).
#include "kernels/f32-winograd/f32-winograd-impl.h"

namespace tessera::f32_winograd {
#if defined(__x86_64__)
const WinogradSet kAvx512Set = {"f32_winograd__avx512", transform_input, transform_output};
#endif
}  // namespace tessera::f32_winograd

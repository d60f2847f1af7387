// qu8-quantize for AVX2 + FMA (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/qu8-quantize/qu8-quantize-impl.h"

namespace tessera::qu8_quantize {
#if defined(__x86_64__)
const QuantizeSet kAvx2Set = {"qu8_quantize__avx2", min_max, quantize};
#endif
}  // namespace tessera::qu8_quantize

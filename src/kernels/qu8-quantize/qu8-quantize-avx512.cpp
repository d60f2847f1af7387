// qu8-quantize for AVX-512F/BW/VL (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports
// them).
#include "kernels/qu8-quantize/qu8-quantize-impl.h"

namespace tessera::qu8_quantize {
#if defined(__x86_64__)
const QuantizeSet kAvx512Set = {"qu8_quantize__avx512", min_max, quantize};
#endif
}  // namespace tessera::qu8_quantize

// q8-binary for AVX-512F/BW/VL (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports
// them).
#include "kernels/q8-binary/q8-binary-impl.h"

namespace tessera::q8_binary {
#if defined(__x86_64__)
const BinarySet kAvx512Set = {"q8_binary__avx512", binary<int8_t, false>, binary<uint8_t, false>, binary<int8_t, true>,
                              binary<uint8_t, true>};
#endif
}  // namespace tessera::q8_binary

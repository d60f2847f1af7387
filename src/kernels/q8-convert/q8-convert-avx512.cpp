// q8-convert for AVX-512F/BW/VL (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports
// them).
#include "kernels/q8-convert/q8-convert-impl.h"

namespace tessera::q8_convert {
#if defined(__x86_64__)
const ConvertSet kAvx512Set = {"q8_convert__avx512", quantize_s8,       quantize_u8,
                               dequantize_s8,        dequantize_u8,     quantize_s8_row,
                               quantize_u8_row,      dequantize_s8_row, dequantize_u8_row};
#endif
}  // namespace tessera::q8_convert

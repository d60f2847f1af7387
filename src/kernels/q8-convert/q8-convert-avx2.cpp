// q8-convert for AVX2 + FMA (compiled with -mavx2 -mfma; used only when CPUID reports them).
#include "kernels/q8-convert/q8-convert-impl.h"

namespace tessera::q8_convert {
#if defined(__x86_64__)
const ConvertSet kAvx2Set = {"q8_convert__avx2", quantize_s8,     quantize_u8,       dequantize_s8,    dequantize_u8,
                             quantize_s8_row,    quantize_u8_row, dequantize_s8_row, dequantize_u8_row};
#endif
}  // namespace tessera::q8_convert

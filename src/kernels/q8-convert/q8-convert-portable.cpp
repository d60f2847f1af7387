// q8-convert for the baseline ISA (SSE2 on x86-64).
#include "kernels/q8-convert/q8-convert-impl.h"

namespace tessera::q8_convert {

const ConvertSet kPortableSet = {"q8_convert__portable", quantize_s8,       quantize_u8,
                                 dequantize_s8,          dequantize_u8,     quantize_s8_row,
                                 quantize_u8_row,        dequantize_s8_row, dequantize_u8_row};

}  // namespace tessera::q8_convert

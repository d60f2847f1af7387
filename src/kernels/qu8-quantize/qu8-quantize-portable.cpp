// qu8-quantize for the baseline ISA (SSE2 on x86-64).
#include "kernels/qu8-quantize/qu8-quantize-impl.h"

namespace tessera::qu8_quantize {

const QuantizeSet kPortableSet = {"qu8_quantize__portable", min_max, quantize};

}  // namespace tessera::qu8_quantize

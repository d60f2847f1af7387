// q8-binary for the baseline ISA (SSE2 on x86-64).
#include "kernels/q8-binary/q8-binary-impl.h"

namespace tessera::q8_binary {
const BinarySet kPortableSet = {"q8_binary__portable", binary<int8_t, false>, binary<uint8_t, false>,
                                binary<int8_t, true>, binary<uint8_t, true>};
}  // namespace tessera::q8_binary

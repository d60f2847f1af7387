// The per-ISA table of q8-binary (plain data).
#pragma once

#include "kernels/q8-binary/q8-binary.h"

namespace tessera::q8_binary {

using BinaryFn = void (*)(const void* a, const void* b, int64_t n, const Q8BinaryParams& p, void* c);

struct BinarySet {
  const char* name;
  BinaryFn add_s8, add_u8, mul_s8, mul_u8;
};

extern const BinarySet kPortableSet;
#if defined(__x86_64__)
extern const BinarySet kAvx2Set;
extern const BinarySet kAvx512Set;
#endif

}  // namespace tessera::q8_binary

// The per-ISA table of qu8-quantize (plain data).
#pragma once

#include "kernels/qu8-quantize/qu8-quantize.h"

namespace tessera::qu8_quantize {

struct QuantizeSet {
  const char* name;
  void (*min_max)(const float* x, int64_t n, float* lo, float* hi);  // lo/hi start at 0 (the range holds 0)
  void (*quantize)(const float* x, int64_t n, float scale, float zero_point, uint8_t* y);
};

extern const QuantizeSet kPortableSet;
#if defined(__x86_64__)
extern const QuantizeSet kAvx2Set;
extern const QuantizeSet kAvx512Set;
#endif

}  // namespace tessera::qu8_quantize

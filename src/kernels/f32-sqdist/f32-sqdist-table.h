// The per-ISA table of f32-sqdist (plain data; see the note at the top of f32-gemm-ukernel.h).
#pragma once

#include "kernels/f32-sqdist/f32-sqdist.h"

namespace tessera::f32_sqdist {

// sqdist_f32 over whole panels [panel_begin, panel_end) of b (the driver checks the arguments).
using SqdistFn = void (*)(int64_t m, const float* a, int64_t lda, const PackedSqdistB& b, int64_t panel_begin,
                          int64_t panel_end, float* d, int64_t d_row, int64_t d_col, bool root);

struct SqdistSet {
  const char* name;
  SqdistFn run;
};

extern const SqdistSet kPortableSet;
#if defined(__x86_64__)
extern const SqdistSet kAvx2Set;
extern const SqdistSet kAvx512Set;
#endif

}  // namespace tessera::f32_sqdist

// The per-ISA table of x32-transpose (plain data shared by the driver and the ISA files; see the note at the top of
// f32-gemm-ukernel.h on why nothing inline is shared).
#pragma once

#include <cstdint>

namespace tessera::x32_transpose {

using TransposeFn = void (*)(const uint32_t* src, int64_t src_ld, uint32_t* dst, int64_t dst_ld, int64_t rows,
                             int64_t cols);

// One ISA's transpose_x32.
struct TransposeSet {
  const char* name;
  TransposeFn transpose;
};

extern const TransposeSet kPortableSet;
#if defined(__x86_64__)
extern const TransposeSet kAvx2Set;
extern const TransposeSet kAvx512Set;
#endif

}  // namespace tessera::x32_transpose

// Transposes of 4-byte elements (float, int32, uint32: the bits are moved, never interpreted, so NaN payloads,
// signed zeros and denormals pass unchanged), one implementation per ISA chosen once from CPUID: AVX-512 16x16
// and AVX2 8x8 register transposes with masked loads and stores on the block's edges
// (x32-transpose-impl.h), and a cache-blocked scalar loop (portable). Every variant writes the same bits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// dst[j * dst_ld + i] = src[i * src_ld + j] for i < rows, j < cols: the rows x cols block of src (rows src_ld
// elements apart) written transposed, as a cols x rows block of dst (rows dst_ld elements apart). Any sizes
// (nothing for rows or cols <= 0) and any leading dims, negative or 0 for src included (src rows may overlap),
// as long as the dst elements written are distinct and dst does not overlap src. Reads and writes only the
// block's elements.
void transpose_x32(const uint32_t* src, int64_t src_ld, uint32_t* dst, int64_t dst_ld, int64_t rows, int64_t cols);

// The selected variant, e.g. "x32_transpose__avx512"; every variant this CPU runs (CPUID choice first); and a test
// hook selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not thread-safe).
const char* x32_transpose_kernel_name();
std::vector<std::string> x32_transpose_kernel_names();
bool x32_transpose_select_kernel(const std::string& name);

}  // namespace tessera

// Squared Euclidean distances between the rows of two float32 matrices (com.microsoft CDist, and the pairwise
// distance Scans scikit-learn exports), one implementation per ISA (AVX-512, AVX2+FMA, portable) chosen once from
// CPUID. B is packed once into panels of kSqdistPanel rows laid side by side (a constant B, the training rows of a
// k-nearest-neighbours model, is packed at session creation); each variant then runs register tiles of up to four
// rows of A against one panel, every lane its own pair, so no sum is split across lanes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// Rows of B per packed panel (one AVX-512 register, two AVX2, four portable).
inline constexpr int64_t kSqdistPanel = 16;

// B (n rows of k floats) packed for sqdist_f32: panel q holds rows [q * kSqdistPanel, (q + 1) * kSqdistPanel) as
// k steps of kSqdistPanel floats (element p of row j at panels[q * k * kSqdistPanel + p * kSqdistPanel + j %
// kSqdistPanel]), rows past n zero. Immutable once built; the same packing serves every variant.
struct PackedSqdistB {
  int64_t rows = 0;
  int64_t depth = 0;
  std::vector<float> panels;
};

// Packs b (n x k, row i at b + i * ldb, ldb >= k).
PackedSqdistB pack_sqdist_b_f32(int64_t n, int64_t k, const float* b, int64_t ldb);

// d[i * d_row + j * d_col] = sum over p < k, in order of p, of (a[i * lda + p] - B[j][p])^2, for i < m and j in
// [j_begin, j_end) (a range of B's rows, so threads can take panels: j_begin a multiple of kSqdistPanel). Each
// difference is one subtraction, each square and sum one fused multiply-add where the ISA has one (AVX2+FMA,
// AVX-512) and a multiply and an add otherwise; NaN and infinity propagate as in that scalar formula. k == 0 gives
// zeros. With `root`, the square root of each sum (the Euclidean distance) is stored instead.
void sqdist_f32(int64_t m, const float* a, int64_t lda, const PackedSqdistB& b, int64_t j_begin, int64_t j_end,
                float* d, int64_t d_row, int64_t d_col, bool root = false);

// The selected variant, e.g. "f32_sqdist__avx2"; every variant this CPU runs (CPUID choice first); and a test hook
// selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not thread-safe).
const char* sqdist_f32_kernel_name();
std::vector<std::string> sqdist_f32_kernel_names();
bool sqdist_f32_select_kernel(const std::string& name);

}  // namespace tessera

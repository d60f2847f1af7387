// Float32 GEMM: C = alpha * op(A) * op(B) + beta * C over row-major matrices with leading dimensions,
// blocked for the caches, with packed panels and a register-blocked micro-kernel chosen once from CPUID
// (AVX-512 14x32, AVX2+FMA 6x16, or a portable 6x8 fallback).
//
// Operands that stay the same across calls (constant weights) can be packed once with pack_gemm_a_f32 /
// pack_gemm_b_f32 and passed to gemm_f32_packed, which then skips packing that side on every call.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/parallel.h"

namespace tessera {

// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C. op(X) is X or its transpose: with trans_a, A is
// stored k x m (lda >= m), else m x k (lda >= k); likewise B. When beta == 0, C is written without being read
// (NaN in C does not propagate). Work is split over `parallelism` (nullptr = the calling thread only).
void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, Parallelism* parallelism);

// One GEMM operand packed into the micro-kernel's panel layout: the depth is cut into the GEMM's depth blocks,
// and each block holds strips of `strip` rows of op(A) (or columns of op(B)) one after another, each strip
// holding the block's k steps contiguously, zero-padded to a whole strip (so the panels one block multiplies are
// one sequential stream). Immutable once built; safe to share between threads. Valid only for the micro-kernel
// selected when it was packed.
class PackedGemmF32 {
 public:
  PackedGemmF32() = default;
  int64_t rows() const { return rows_; }         // m for an A operand, n for a B operand
  int64_t depth() const { return depth_; }       // k
  int64_t depth_block() const { return block_; } // k steps per depth block (the last may be shorter)
  bool empty() const { return data_ == nullptr; }
  int64_t strip() const { return strip_; }
  const float* data() const { return data_.get(); }

 private:
  friend PackedGemmF32 pack_gemm_a_f32(bool, int64_t, int64_t, const float*, int64_t);
  friend PackedGemmF32 pack_gemm_b_f32(bool, int64_t, int64_t, const float*, int64_t);
  struct FreeDeleter {
    void operator()(float* p) const;
  };
  int64_t rows_ = 0;
  int64_t depth_ = 0;
  int64_t block_ = 0;
  int64_t strip_ = 0;
  std::shared_ptr<float> data_;
};

// Packs op(A) (m x k; A stored k x m when trans_a) as the left operand.
PackedGemmF32 pack_gemm_a_f32(bool trans_a, int64_t m, int64_t k, const float* a, int64_t lda);
// Packs op(B) (k x n; B stored n x k when trans_b) as the right operand.
PackedGemmF32 pack_gemm_b_f32(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb);

// Supplies panels of op(B) on demand instead of a stored matrix (an implicit im2col matrix, say), so the
// matrix is never materialised.
class GemmPanelSourceF32 {
 public:
  virtual ~GemmPanelSourceF32() = default;
  // Writes depth [k0, k0 + kc) x columns [n0, n0 + nc) of op(B) as strips of `strip` columns:
  // dst[(j / strip) * kc * strip + p * strip + j % strip] = B(k0 + p, n0 + j), and zero for the columns
  // j >= nc up to the end of the last strip. Called concurrently from several threads (with disjoint dst).
  virtual void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t strip, float* dst) const = 0;
};

// One side of gemm_f32_packed: a packed operand, a plain matrix (data, ld, trans), or (B only) a panel source.
struct GemmOperandF32 {
  const PackedGemmF32* packed = nullptr;
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
  const GemmPanelSourceF32* source = nullptr;
};

// An activation applied in place to a finished block of C: `rows` rows of `cols` contiguous values, row i at
// c + i * ldc. It must act on each element alone (the block boundaries depend on the kernel and the thread count).
using GemmRowsActivationF32 = void (*)(float* c, int64_t rows, int64_t cols, int64_t ldc);

// What gemm_f32_packed applies to each element after C = alpha * op(A) op(B) + beta * C, while the tile is in
// registers: C[i][j] += row_bias[i] + column_bias[j] (each nullptr for none), then += sum[i][j] (a residual
// input, nullptr for none), then clamped to [min, max] (a fused Relu or Clip). NaN passes through the clamp.
// Then, when set, `rows_activation` runs on each finished block of C (at most one L2 row block by one column
// block) while it is still in cache: an activation the micro-kernels do not compute themselves (GELU).
//
// With `store_transposed`, C is stored transposed: element (i, j) at c[j * ldc + i] (ldc >= m), and so is the
// sum (sum[j * sum_ld + i]); each register tile is transposed on its way out, so a product whose natural output
// layout is the transpose of the GEMM's (a pointwise convolution run as x^T W^T into NCHW) needs no extra pass.
struct GemmEpilogueF32 {
  const float* row_bias = nullptr;     // m values
  const float* column_bias = nullptr;  // n values
  const float* sum = nullptr;          // m x n values, row i at sum + i * sum_ld (transposed: see above)
  int64_t sum_ld = 0;
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  GemmRowsActivationF32 rows_activation = nullptr;
  bool store_transposed = false;
};

// The register tile of the selected micro-kernel: `rows` of C (of A) by `columns` (of B) per micro-kernel call.
// Work is done in whole tiles, so a dimension that is not a multiple leaves part of its last tile idle.
// `transposed_store_steps`: what storing one tile transposed (GemmEpilogueF32::store_transposed) costs beyond a
// plain store, in the tile's depth steps (measured per ISA; see UkernelSet).
struct GemmTileF32 {
  int rows;
  int columns;
  int transposed_store_steps;
};
GemmTileF32 gemm_f32_tile();

// As gemm_f32, with either side (or both) given pre-packed, or B given by a panel source. A packed A must have
// rows() == m and depth() == k, a packed B rows() == n and depth() == k, both packed for the kernel selected now;
// throws Error(kInvalidArgument) otherwise.
void gemm_f32_packed(int64_t m, int64_t n, int64_t k, float alpha, const GemmOperandF32& a, const GemmOperandF32& b,
                     float beta, float* c, int64_t ldc, Parallelism* parallelism,
                     const GemmEpilogueF32* epilogue = nullptr);

// C [m x n] = A [m x k] x B [k x n] + epilogue (not store_transposed, no rows_activation), on the calling thread,
// with A packed by pack_gemm_a_f32 for the selected kernel and B given row by row: depth row p of B is
// b_rows[p][0, n). Every row must be readable up to n rounded up to gemm_f32_tile().columns (the tiles read whole
// register rows and drop the columns past n). An implicit im2col matrix whose rows are shifted views of a padded
// input (a convolution over few input channels) is read in place this way, with no packing pass. Throws
// Error(kInvalidArgument) when A does not fit.
void gemm_f32_rows_b(int64_t m, int64_t n, int64_t k, const PackedGemmF32& a, const float* const* b_rows, float* c,
                     int64_t ldc, const GemmEpilogueF32* epilogue = nullptr);

// The selected micro-kernel, e.g. "f32_gemm_ukernel_6x16__avx2" (for logs and benchmarks).
const char* gemm_f32_kernel_name();

// Every micro-kernel this CPU can run (the CPUID choice first), for tests and benchmarks.
std::vector<std::string> gemm_f32_kernel_names();

// Test hook: selects the micro-kernel named (one of gemm_f32_kernel_names()), or the CPUID choice for "".
// Returns false, changing nothing, for an unknown or unrunnable name. Packed operands made under one selection
// must not be used under another. Not thread-safe; for tests and benchmarks only.
bool gemm_f32_select_kernel(const std::string& name);

}  // namespace tessera

// The f32 GEMM micro-kernel interface shared by the driver (f32-gemm.cpp) and the per-ISA kernel files.
//
// Only plain data lives here: the ISA files are compiled with their own -m flags, and any inline function they
// shared with the rest of the program could be emitted with those instructions and picked by the linker for
// callers on CPUs without them.
#pragma once

#include <cstdint>

namespace tessera::f32_gemm {

// What a tile adds after C = alpha * acc + beta * C, on the last depth block only: a bias per row (pointing at
// the tile's first row) and per column (at its first column), each nullptr for none, then a sum (residual) tile
// (nullptr for none; element (i, j) at sum[i * sum_ld + j], or at sum[j * sum_ld + i] for a transposed store),
// then the clamp [min, max].
struct TileEpilogue {
  const float* row_bias;
  const float* column_bias;
  float min;
  float max;
  const float* sum = nullptr;
  int64_t sum_ld = 0;
};

// Computes a tile of `rows` x nr (rows fixed by the function, nr by its set) from packed panels:
//   a: kc steps of `mr` floats (one per row of the strip; rows past `rows` are ignored),
//   b: kc steps of `nr` floats,
// then C[i][j] = alpha * acc[i][j] + beta * C[i][j] for j < nc (nc <= nr); beta == 0 writes without reading C;
// then the epilogue when `epilogue` is not nullptr.
using UkernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t nc,
                           float alpha, float beta, const TileEpilogue* epilogue);

// As UkernelFn with A read in place: row i of the tile is a + i * lda, its kc steps contiguous.
using DirectAUkernelFn = void (*)(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                                  int64_t nc, float alpha, float beta, const TileEpilogue* epilogue);

// As UkernelFn with a transposed A read in place: depth step p of the tile's rows is a + p * lda, the rows
// contiguous (A is the transpose of a row-major matrix with leading dimension lda).
using DirectATransUkernelFn = void (*)(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                                       int64_t nc, float alpha, float beta, const TileEpilogue* epilogue);

// As UkernelFn with B read in place: depth step p of the tile's nr columns is b + p * ldb (nr contiguous floats,
// all of them readable: whole tiles only).
using DirectBUkernelFn = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                  int64_t nc, float alpha, float beta, const TileEpilogue* epilogue);

// As UkernelFn with B's depth rows given by pointer: depth step p of the tile's nr columns is b_rows[p] + b_offset
// (nr contiguous floats, all of them readable; columns past nc are computed and dropped). An implicit im2col
// matrix whose rows are shifted views of a padded input (gemm_f32_rows_b) needs no packing.
using RowsBUkernelFn = void (*)(int64_t kc, const float* a, const float* const* b_rows, int64_t b_offset, float* c,
                                int64_t ldc, int64_t nc, float alpha, float beta, const TileEpilogue* epilogue);

// One row of C over `panels` consecutive packed B panels (panel s at b + s * b_stride, kc steps of nr floats): the
// row's nc <= panels * nr columns, as by_rows[0] would compute them panel by panel (the same products, summed in
// the same order, the same epilogue with its column bias and sum offset per panel: the same bits). A's kc values at
// a[p * a_step]. Several panels run side by side so their accumulators hide the multiply-add latency that bounds
// a one-row tile (Zen 3, AVX2: 25% of peak on one panel).
using RowPanelsFn = void (*)(int64_t kc, const float* a, int64_t a_step, const float* b, int64_t b_stride,
                             int64_t panels, float* c, int64_t nc, float alpha, float beta,
                             const TileEpilogue* epilogue);

// y[j] = alpha * sum_p x[p] * b[p * ldb + j] + beta * y[j] for j < n (one row times a row-major matrix).
using GemvFn = void (*)(int64_t n, int64_t k, float alpha, const float* x, const float* b, int64_t ldb, float beta,
                        float* y);
// y[j] = alpha * sum_p x[p] * b[j * ldb + p] + beta * y[j] for j < n (one row times a transposed matrix).
using GemvTransFn = void (*)(int64_t n, int64_t k, float alpha, const float* x, const float* b, int64_t ldb,
                             float beta, float* y);

// Stores a finished tile transposed: tile [rows x cols] (row-major, kMaxNr floats apart, rows <= mr, cols <= nr)
// goes to dst as dst[j * ldd + i] = clamp(tile[i][j] + beta * dst[j * ldd + i] + epilogue) (dst not read when
// beta == 0; the epilogue, when not nullptr, as TileEpilogue with its sum read transposed). The same arithmetic,
// in the same order, as the micro-kernels' own store, so a transposed C is bitwise the transpose of a plain one.
using TransposedStoreFn = void (*)(const float* tile, int64_t rows, int64_t cols, float* dst, int64_t ldd,
                                   float beta, const TileEpilogue* epilogue);

inline constexpr int kMaxMr = 16;
inline constexpr int kMaxNr = 32;

// One ISA's kernels: by_rows[r - 1] computes r rows, for r in 1..mr.
struct UkernelSet {
  const char* name;
  int mr;
  int nr;
  int kc;  // depth block (floats of k per packed panel block)
  int mc;  // rows of A per L2 block (a multiple of mr)
  int nc;  // columns of B per L3 block (a multiple of nr)
  // What store_transposed costs per tile beyond a plain store, in depth steps of the tile: the price the pointwise
  // convolutions' choice of orientation (pointwise_prefers_transposed) charges a transposed GEMM.
  int transposed_store_steps;
  // The largest plain B read in place (the direct-B kernels) that more than one block of mc rows of A re-reads:
  // larger ones are packed, so the re-reads come from a contiguous block (see reads_b_in_place).
  int64_t direct_b_max_reread_bytes;
  // The most bytes of A (rows x one depth block) per row block when A is read in place (the direct-A kernels); 0:
  // no bound beyond mc (see direct_a_block_rows).
  int64_t direct_a_block_bytes;
  UkernelFn by_rows[kMaxMr];
  DirectAUkernelFn direct_a_by_rows[kMaxMr];        // the same tiles reading a plain row-major A in place
  DirectBUkernelFn direct_b_by_rows[kMaxMr];        // the same tiles reading whole panels of a plain B in place
  DirectATransUkernelFn direct_at_by_rows[kMaxMr];  // the same tiles reading a transposed A in place
  RowsBUkernelFn rows_b_by_rows[kMaxMr];            // the same tiles reading B's depth rows by pointer
  RowsBUkernelFn rows_b_half_by_rows[kMaxMr];       // those tiles nr / 2 columns wide, for a narrow last strip
  RowPanelsFn row_panels;                           // one row of C over several packed panels
  GemvFn gemv;
  GemvTransFn gemv_trans;
  TransposedStoreFn store_transposed;
};

// Defined in the ISA files; the avx2/avx512 ones must only be used where the CPU supports them.
extern const UkernelSet kPortableSet;
#if defined(__x86_64__)
extern const UkernelSet kAvx2Set;
extern const UkernelSet kAvx2Shape14x32Set;  // tests only: the AVX-512 tile shape on AVX2
extern const UkernelSet kAvx512Set;
#endif

}  // namespace tessera::f32_gemm

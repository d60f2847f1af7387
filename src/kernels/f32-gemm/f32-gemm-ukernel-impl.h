// The f32 GEMM micro-kernel and GEMV loops, written once over an ISA traits type and instantiated by each
// per-ISA file (f32-gemm-6x16-avx2.cpp, ...). Include only from those files, and instantiate only with traits
// types declared in an anonymous namespace there, so every instantiation has internal linkage and no code
// compiled with one file's -m flags can be shared with another file.
//
// An Isa traits type provides: Vec, kLanes, zero(), set1(float), load(const float*), store(float*, Vec),
// mul(Vec, Vec), add(Vec, Vec), min(Vec, Vec), max(Vec, Vec), fma(a, b, c) = a * b + c, and reduce_add(Vec)
// (sum of the lanes); kPrefetchPackedBIntoL2 (see prefetch_packed_b_row); and kTransposes: when true, also
// transpose(Vec (&)[kLanes]) (a kLanes x kLanes block in registers), load_n(const float*, int n) (the first n
// lanes, the rest zero) and store_n(float*, Vec, int n).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/f32-gemm/f32-gemm-ukernel.h"

namespace tessera::f32_gemm {
// Internal linkage for everything here, so each ISA file keeps its own copy (see the top of the file).
namespace {

// Writes a finished tile: C[i][j] = alpha * acc[i][j] + beta * C[i][j] for i < kRows, j < nc (see UkernelFn).
// Always inlined: called out of line (GCC's choice for the larger kernels), every accumulator went through the
// stack after the depth loop, 5% of MobileNetV2's time in store_tile (AMD EPYC Zen 3, one thread, perf profile).
template <typename Isa, int kNv, int kRows>
__attribute__((always_inline)) inline void store_tile(const typename Isa::Vec (&acc)[kRows][kNv], float* c, int64_t ldc,
                                                      int64_t nc, float alpha, float beta,
                                                      const TileEpilogue* epilogue) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  constexpr int kNr = kNv * kLanes;
  const Vec valpha = Isa::set1(alpha);
  const Vec vbeta = Isa::set1(beta);
  if (nc == kNr) {
    if (epilogue == nullptr) {
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) {
        float* row = c + i * ldc;
#pragma GCC unroll 4
        for (int j = 0; j < kNv; ++j) {
          Vec r = Isa::mul(acc[i][j], valpha);
          if (beta != 0.0f) r = Isa::fma(vbeta, Isa::load(row + j * kLanes), r);
          Isa::store(row + j * kLanes, r);
        }
      }
      return;
    }
    const Vec lo = Isa::set1(epilogue->min), hi = Isa::set1(epilogue->max);
    Vec column_bias[kNv];
#pragma GCC unroll 4
    for (int j = 0; j < kNv; ++j) {
      column_bias[j] = epilogue->column_bias ? Isa::load(epilogue->column_bias + j * kLanes) : Isa::zero();
    }
    // Unrolled like the loops above: a loop over the rows indexes acc at run time, which put every accumulator
    // on the stack after the depth loop.
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      float* row = c + i * ldc;
      const Vec row_bias = Isa::set1(epilogue->row_bias ? epilogue->row_bias[i] : 0.0f);
      const float* sum_row = epilogue->sum ? epilogue->sum + i * epilogue->sum_ld : nullptr;
#pragma GCC unroll 4
      for (int j = 0; j < kNv; ++j) {
        Vec r = Isa::mul(acc[i][j], valpha);
        if (beta != 0.0f) r = Isa::fma(vbeta, Isa::load(row + j * kLanes), r);
        r = Isa::add(Isa::add(r, row_bias), column_bias[j]);
        if (sum_row != nullptr) r = Isa::add(r, Isa::load(sum_row + j * kLanes));
        // r second: minps / maxps return their second operand when either is NaN, so NaN passes through.
        Isa::store(row + j * kLanes, Isa::min(hi, Isa::max(lo, r)));
      }
    }
    return;
  }
  if constexpr (Isa::kTransposes) {
    // A partial tile at the right edge with masked loads and stores (no column past nc is touched): the full
    // tile's arithmetic, lane for lane.
    const bool with_epilogue = epilogue != nullptr;
    const Vec lo = Isa::set1(with_epilogue ? epilogue->min : 0.0f),
              hi = Isa::set1(with_epilogue ? epilogue->max : 0.0f);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      float* row = c + i * ldc;
      const Vec row_bias = Isa::set1(with_epilogue && epilogue->row_bias ? epilogue->row_bias[i] : 0.0f);
      const float* sum_row = with_epilogue && epilogue->sum ? epilogue->sum + i * epilogue->sum_ld : nullptr;
#pragma GCC unroll 4
      for (int j = 0; j < kNv; ++j) {
        const int64_t left = nc - j * kLanes;
        if (left <= 0) break;
        const int n = static_cast<int>(std::min<int64_t>(left, kLanes));
        Vec r = Isa::mul(acc[i][j], valpha);
        if (beta != 0.0f) r = Isa::fma(vbeta, Isa::load_n(row + j * kLanes, n), r);
        if (with_epilogue) {
          const Vec column_bias =
              epilogue->column_bias ? Isa::load_n(epilogue->column_bias + j * kLanes, n) : Isa::zero();
          r = Isa::add(Isa::add(r, row_bias), column_bias);
          if (sum_row != nullptr) r = Isa::add(r, Isa::load_n(sum_row + j * kLanes, n));
          r = Isa::min(hi, Isa::max(lo, r));
        }
        Isa::store_n(row + j * kLanes, r, n);
      }
    }
    return;
  }
  // A partial tile at the right edge: go through a buffer so no column past nc is touched.
  float tile[kNr];
  for (int i = 0; i < kRows; ++i) {
    float* row = c + i * ldc;
#pragma GCC unroll 4
    for (int j = 0; j < kNv; ++j) Isa::store(tile + j * kLanes, Isa::mul(acc[i][j], valpha));
    for (int64_t t = 0; t < nc; ++t) {
      float r = beta == 0.0f ? tile[t] : tile[t] + beta * row[t];
      if (epilogue != nullptr) {
        if (epilogue->row_bias) r += epilogue->row_bias[i];
        if (epilogue->column_bias) r += epilogue->column_bias[t];
        if (epilogue->sum) r += epilogue->sum[i * epilogue->sum_ld + t];
        r = r < epilogue->min ? epilogue->min : (r > epilogue->max ? epilogue->max : r);
      }
      row[t] = r;
    }
  }
}

// C rows are far apart (ldc), so the hardware prefetchers miss them: fetch the tile while the k loop runs.
template <int kRows, int kNr>
inline void prefetch_c_tile(float* c, int64_t ldc) {
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + kNr - 1, 1);
  }
}

// A packed B panel is read depth row after depth row (kNr floats each), once per strip of A. The first strip to
// reach a panel streams it from memory (a large model's weights are not in any cache), and the hardware prefetchers
// start over at each 4 KiB page, so the kernels fetch every line of the row this many depth rows ahead (at the end
// of a panel: the start of the next one, which the driver runs next). Measured on BERT-base (Xeon, one thread,
// per-node minima): its MatMuls 6-9% faster at 32 rows ahead, the same at 64, less at 8.
// An L1 prefetch waits in one of a handful of fill buffers for as long as the line takes to come, which caps
// what it streams; so each row is also fetched into L2 (prefetcht1) kPackedBL2PrefetchRows rows ahead. Measured
// on ResNet-50 (Xeon, one thread, per-node minima, six rounds): the Winograd layers at 14x14, whose 16 tiles use
// each transformed weight 16 times, and the pointwise ones on 256 channels there 10.3-10.5 -> 9.6-9.8 ms, the
// whole model 56.7-57.6 -> 56.0-56.5 ms; BERT-base level. 128 or 96 rows ahead gained less, L2 alone at 64 nothing.
// The L2 fetch is the Isa's choice (kPrefetchPackedBIntoL2): on an AMD EPYC Zen 3 (the AVX2 kernels; 512 KiB L2,
// one thread, per-node minima, alternating runs in both orders) the L1 fetch alone ran BERT-base 265.3 -> 263.1
// ms without either, 2% faster than both (its FFN GEMMs 7300 / 7062 -> 7147 / 6919 us; 135.2 -> 132.3 at two
// threads), ResNet-50 88.2-88.4 -> 86.8-87.0 ms (its Winograd layers at 14x14 ~100 us slower, the others faster).
constexpr int kPackedBPrefetchRows = 32;
constexpr int kPackedBL2PrefetchRows = 256;
template <int kNr, bool kIntoL2>
inline void prefetch_packed_b_row(const float* b) {
  constexpr int kLineFloats = 16;
#pragma GCC unroll 4
  for (int offset = 0; offset < kNr; offset += kLineFloats) {
    __builtin_prefetch(b + kPackedBPrefetchRows * kNr + offset);
    if constexpr (kIntoL2) __builtin_prefetch(b + kPackedBL2PrefetchRows * kNr + offset, 0, 2);
  }
}

// A plain B read in place (the direct-B kernels) is walked panel by panel, left to right, every strip of A running
// over a panel before the next: one stream per depth row, more than the hardware prefetchers track. So each depth
// row of the panel after next is fetched into L2 (prefetcht1: the current panel keeps L1) while the first strip
// runs; the later strips find it there. Measured (Xeon, one thread): ResNet-50's 256 -> 64 pointwise convolution at
// 56x56 alone (minimum of six runs of 100) 781 -> 654 us one panel ahead, against 677-690 us for L1 prefetches one,
// two or four panels ahead and 781 us for the first line only, four panels ahead (what this replaced); two panels
// ahead then halved SqueezeNet's squeeze layers at batch 8, whose inputs come from L3 under few rows of A (64 -> 16
// at 55x55: 1139 -> 528 us; four ahead no better), ResNet-50 level.
constexpr int kPlainBPrefetchPanels = 2;
template <int kNr>
inline void prefetch_plain_b_row(const float* b) {
  constexpr int kLineFloats = 16;
#pragma GCC unroll 4
  for (int offset = 0; offset < kNr; offset += kLineFloats)
    __builtin_prefetch(b + kPlainBPrefetchPanels * kNr + offset, 0, 2);
}

// A transposed A read in place (the direct-AT kernels: a pointwise convolution's input x^T, each depth step a
// channel's plane, ld floats after the last) puts every depth step's few values on new cache lines, a stride too
// long for the hardware's stride prefetcher; with kPrefetchA, tile_loop fetches them this many steps ahead.
// Measured on ResNet-50 (Xeon, per-node minima, three rounds): its 512 -> 128 convolutions at 28x28 (lda 784)
// 5.73-5.77 -> 4.95-5.13 ms at one thread, 3.17-3.26 -> 2.62-2.77 at two, where the 1024 -> 256 ones at 14x14
// also went 4.16-4.24 -> 3.47-3.73; 40 such 28x28 convolutions in one model 830-860 -> 689-692 us each (8 steps
// ahead: unsteady; 32: 685-992). MobileNetV2 and SqueezeNet level.
constexpr int kTransposedAPrefetchSteps = 16;

// The tile loop of gemm_ukernel, gemm_ukernel_direct_b and gemm_ukernel_direct_at: depth step p of B at b + p * ldb
// (kNr floats; ldb is kNr for a packed panel), of A's kRows rows at a + p * a_step (contiguous; a_step is kMr for a
// packed strip, the leading dimension for a transposed A read in place). With kPrefetchB (a plain B in place), each
// depth row of the panel after next is prefetched (prefetch_plain_b_row); with kPrefetchA (a transposed A in place),
// A's depth steps kTransposedAPrefetchSteps ahead. B's depth rows one after another, ldb floats apart (a packed
// panel, or a plain B in place).
struct StridedRows {
  const float* b;
  int64_t ldb;
  const float* row(int64_t p) const { return b + p * ldb; }
};
// B's depth rows by pointer (see RowsBUkernelFn).
struct IndirectRows {
  const float* const* rows;
  int64_t offset;
  const float* row(int64_t p) const { return rows[p] + offset; }
};

template <typename Isa, int kMr, int kNv, int kRows, bool kPrefetchB, typename BRows = StridedRows,
          bool kPrefetchA = false>
inline void tile_loop(int64_t kc, const float* a, int64_t a_step, BRows b_rows, float* c, int64_t ldc, int64_t nc,
                      float alpha, float beta, const TileEpilogue* epilogue) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  constexpr int kNr = kNv * kLanes;
  prefetch_c_tile<kRows, kNr>(c, ldc);
  Vec acc[kRows][kNv];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < kNv; ++j) acc[i][j] = Isa::zero();
  }
  // Four depth steps per loop iteration: the same FMA order, a quarter of the loop's counter, pointer and branch
  // instructions (26 instructions per step for the 6x16 AVX2 tile before). AMD EPYC Zen 3, one thread, minima of
  // three alternating runs (`Gemm/*/packed_b`): BERT's QKV 1687 -> 1639 us, FFN-up 6988 -> 6683, FFN-down 6876 ->
  // 6644, ResNet-50's conv3 3x3 2589 -> 2506; BERT-base's per-node sum 260.5 -> 255.7 ms. Not measured on AVX-512.
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const float* b = b_rows.row(p);
    if constexpr (kPrefetchB) {
      prefetch_plain_b_row<kNr>(b);  // a plain B read in place
    } else if constexpr (std::is_same_v<BRows, StridedRows>) {
      prefetch_packed_b_row<kNr, Isa::kPrefetchPackedBIntoL2>(b);  // a packed panel (ldb == kNr)
    }
    if constexpr (kPrefetchA) {
      __builtin_prefetch(a + kTransposedAPrefetchSteps * a_step);
      __builtin_prefetch(a + kTransposedAPrefetchSteps * a_step + kRows - 1);
    }
    Vec bv[kNv];
#pragma GCC unroll 4
    for (int j = 0; j < kNv; ++j) bv[j] = Isa::load(b + j * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const Vec av = Isa::set1(a[i]);
#pragma GCC unroll 4
      for (int j = 0; j < kNv; ++j) acc[i][j] = Isa::fma(av, bv[j], acc[i][j]);
    }
    a += a_step;
  }
  store_tile<Isa, kNv, kRows>(acc, c, ldc, nc, alpha, beta, epilogue);
}

// See UkernelFn. kMr is the packed A strip width, kNv the vectors per row (nr = kNv * kLanes), kRows the rows
// this instantiation computes (1..kMr).
template <typename Isa, int kMr, int kNv, int kRows>
void gemm_ukernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t nc, float alpha,
                  float beta, const TileEpilogue* epilogue) {
  tile_loop<Isa, kMr, kNv, kRows, false>(kc, a, kMr, StridedRows{b, kNv * Isa::kLanes}, c, ldc, nc, alpha, beta,
                                         epilogue);
}

// See DirectBUkernelFn: as gemm_ukernel, reading B straight from row-major memory, so a plain B of few depth steps
// needs no packing. The same k order and FMA sequence, so results are bitwise equal.
template <typename Isa, int kMr, int kNv, int kRows>
void gemm_ukernel_direct_b(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                           int64_t nc, float alpha, float beta, const TileEpilogue* epilogue) {
  tile_loop<Isa, kMr, kNv, kRows, true>(kc, a, kMr, StridedRows{b, ldb}, c, ldc, nc, alpha, beta, epilogue);
}

// See DirectATransUkernelFn: as gemm_ukernel, reading a transposed A straight from memory (depth step p of the
// tile's rows at a + p * lda, the rows contiguous), so the transpose of a plain matrix needs no packing. The same
// k order and FMA sequence as gemm_ukernel, so results are bitwise equal.
template <typename Isa, int kMr, int kNv, int kRows>
void gemm_ukernel_direct_at(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                            int64_t nc, float alpha, float beta, const TileEpilogue* epilogue) {
  tile_loop<Isa, kMr, kNv, kRows, false, StridedRows, true>(kc, a, lda, StridedRows{b, kNv * Isa::kLanes}, c, ldc, nc,
                                                            alpha, beta, epilogue);
}

// See RowsBUkernelFn: as gemm_ukernel, reading B's depth rows by pointer. The same k order and FMA sequence, so
// results are bitwise equal to a packed B of the same values.
template <typename Isa, int kMr, int kNv, int kRows>
void gemm_ukernel_rows_b(int64_t kc, const float* a, const float* const* b_rows, int64_t b_offset, float* c,
                         int64_t ldc, int64_t nc, float alpha, float beta, const TileEpilogue* epilogue) {
  tile_loop<Isa, kMr, kNv, kRows, false, IndirectRows>(kc, a, kMr, IndirectRows{b_rows, b_offset}, c, ldc, nc, alpha,
                                                       beta, epilogue);
}

// See DirectAUkernelFn: as gemm_ukernel, reading A straight from row-major memory (row i at a + i * lda), so a
// plain A needs no packing. The same k order and FMA sequence as gemm_ukernel, so results are bitwise equal.
template <typename Isa, int kNv, int kRows>
void gemm_ukernel_direct_a(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                           int64_t nc, float alpha, float beta, const TileEpilogue* epilogue) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  constexpr int kNr = kNv * kLanes;
  prefetch_c_tile<kRows, kNr>(c, ldc);
  const float* rows[kRows];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) rows[i] = a + i * lda;
  Vec acc[kRows][kNv];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < kNv; ++j) acc[i][j] = Isa::zero();
  }
#pragma GCC unroll 4  // see tile_loop
  for (int64_t p = 0; p < kc; ++p) {
    prefetch_packed_b_row<kNr, Isa::kPrefetchPackedBIntoL2>(b);
    Vec bv[kNv];
#pragma GCC unroll 4
    for (int j = 0; j < kNv; ++j) bv[j] = Isa::load(b + j * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const Vec av = Isa::set1(rows[i][p]);
#pragma GCC unroll 4
      for (int j = 0; j < kNv; ++j) acc[i][j] = Isa::fma(av, bv[j], acc[i][j]);
    }
    b += kNr;
  }
  store_tile<Isa, kNv, kRows>(acc, c, ldc, nc, alpha, beta, epilogue);
}

// `epilogue` (not nullptr) for the tile `columns` columns to the right: its column bias and sum moved along.
inline TileEpilogue epilogue_from_column(const TileEpilogue& epilogue, int64_t columns) {
  TileEpilogue at = epilogue;
  if (at.column_bias != nullptr) at.column_bias += columns;
  if (at.sum != nullptr) at.sum += columns;
  return at;
}

// kPanels panels of one row of C side by side (see RowPanelsFn).
template <typename Isa, int kNv, int kPanels>
inline void row_panel_group(int64_t kc, const float* a, int64_t a_step, const float* b, int64_t b_stride, float* c,
                            int64_t nc, float alpha, float beta, const TileEpilogue* epilogue) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  constexpr int kNr = kNv * kLanes;
  Vec acc[kPanels][1][kNv];  // a one-row tile per panel, as store_tile takes it
#pragma GCC unroll 8
  for (int s = 0; s < kPanels; ++s) {
#pragma GCC unroll 4
    for (int j = 0; j < kNv; ++j) acc[s][0][j] = Isa::zero();
  }
  for (int64_t p = 0; p < kc; ++p) {
    const Vec av = Isa::set1(a[p * a_step]);
#pragma GCC unroll 8
    for (int s = 0; s < kPanels; ++s) {
      const float* row = b + s * b_stride + p * kNr;
      prefetch_packed_b_row<kNr, Isa::kPrefetchPackedBIntoL2>(row);
#pragma GCC unroll 4
      for (int j = 0; j < kNv; ++j) acc[s][0][j] = Isa::fma(av, Isa::load(row + j * kLanes), acc[s][0][j]);
    }
  }
#pragma GCC unroll 8
  for (int s = 0; s < kPanels; ++s) {
    const int64_t cols = std::min<int64_t>(kNr, nc - s * kNr);
    if (cols <= 0) break;
    if (epilogue == nullptr) {
      store_tile<Isa, kNv, 1>(acc[s], c + s * kNr, 0, cols, alpha, beta, nullptr);
    } else {
      const TileEpilogue at = epilogue_from_column(*epilogue, s * kNr);
      store_tile<Isa, kNv, 1>(acc[s], c + s * kNr, 0, cols, alpha, beta, &at);
    }
  }
}

// See RowPanelsFn. Panels side by side in groups of kGroup: enough independent accumulators (kGroup * kNv) to cover
// the multiply-add latency on two FMA ports; the last panels in a half group, then one by one.
template <typename Isa, int kNv>
void row_panels(int64_t kc, const float* a, int64_t a_step, const float* b, int64_t b_stride, int64_t panels, float* c,
                int64_t nc, float alpha, float beta, const TileEpilogue* epilogue) {
  constexpr int kNr = kNv * Isa::kLanes;
  constexpr int kGroup = kNv >= 4 ? 2 : 8 / kNv;
  TileEpilogue at{};
  auto shifted = [&](int64_t first) -> const TileEpilogue* {  // the epilogue from panel `first` on
    if (epilogue == nullptr) return nullptr;
    at = epilogue_from_column(*epilogue, first * kNr);
    return &at;
  };
  int64_t s = 0;
  for (; s + kGroup <= panels; s += kGroup) {
    row_panel_group<Isa, kNv, kGroup>(kc, a, a_step, b + s * b_stride, b_stride, c + s * kNr, nc - s * kNr, alpha, beta,
                                      shifted(s));
  }
  if constexpr (kGroup >= 4) {
    if (s + kGroup / 2 <= panels) {
      row_panel_group<Isa, kNv, kGroup / 2>(kc, a, a_step, b + s * b_stride, b_stride, c + s * kNr, nc - s * kNr, alpha,
                                            beta, shifted(s));
      s += kGroup / 2;
    }
  }
  for (; s < panels; ++s) {
    row_panel_group<Isa, kNv, 1>(kc, a, a_step, b + s * b_stride, b_stride, c + s * kNr, nc - s * kNr, alpha, beta,
                                 shifted(s));
  }
}

// See TransposedStoreFn. With vector transposes: blocks of kLanes tile rows x kLanes columns are transposed in
// registers, and each column leaves as one vector of (up to kLanes) rows; the arithmetic is store_tile's (beta by
// FMA, then row bias, column bias, sum, clamp), element for element.
template <typename Isa>
void store_transposed(const float* tile, int64_t rows, int64_t cols, float* dst, int64_t ldd, float beta,
                      const TileEpilogue* epilogue) {
  if constexpr (Isa::kTransposes) {
    using Vec = typename Isa::Vec;
    constexpr int kLanes = Isa::kLanes;
    const Vec vbeta = Isa::set1(beta);
    const Vec lo = Isa::set1(epilogue ? epilogue->min : 0.0f), hi = Isa::set1(epilogue ? epilogue->max : 0.0f);
    for (int64_t i0 = 0; i0 < rows; i0 += kLanes) {
      const int n = static_cast<int>(std::min<int64_t>(kLanes, rows - i0));
      const Vec row_bias =
          epilogue && epilogue->row_bias ? Isa::load_n(epilogue->row_bias + i0, n) : Isa::zero();
      for (int64_t j0 = 0; j0 < cols; j0 += kLanes) {
        Vec v[kLanes];
#pragma GCC unroll 16
        for (int r = 0; r < kLanes; ++r) v[r] = r < n ? Isa::load(tile + (i0 + r) * kMaxNr + j0) : Isa::zero();
        Isa::transpose(v);
        const int64_t width = std::min<int64_t>(kLanes, cols - j0);
        for (int64_t t = 0; t < width; ++t) {
          float* out = dst + (j0 + t) * ldd + i0;
          Vec r = v[t];
          if (beta != 0.0f) r = Isa::fma(vbeta, Isa::load_n(out, n), r);
          if (epilogue != nullptr) {
            const float column_bias = epilogue->column_bias ? epilogue->column_bias[j0 + t] : 0.0f;
            r = Isa::add(Isa::add(r, row_bias), Isa::set1(column_bias));
            if (epilogue->sum) r = Isa::add(r, Isa::load_n(epilogue->sum + (j0 + t) * epilogue->sum_ld + i0, n));
            r = Isa::min(hi, Isa::max(lo, r));
          }
          Isa::store_n(out, r, n);
        }
      }
    }
  } else {
    for (int64_t j = 0; j < cols; ++j) {
      float* out = dst + j * ldd;
      for (int64_t i = 0; i < rows; ++i) {
        float r = tile[i * kMaxNr + j];
        if (beta != 0.0f) r = beta * out[i] + r;  // as Portable::fma
        if (epilogue != nullptr) {
          r = (r + (epilogue->row_bias ? epilogue->row_bias[i] : 0.0f)) +
              (epilogue->column_bias ? epilogue->column_bias[j] : 0.0f);
          if (epilogue->sum) r += epilogue->sum[j * epilogue->sum_ld + i];
          r = epilogue->min > r ? epilogue->min : r;  // NaN passes through, as minps / maxps
          r = epilogue->max < r ? epilogue->max : r;
        }
        out[i] = r;
      }
    }
  }
}

// Writes alpha * value + beta * y[j] (y not read when beta == 0).
inline float gemv_finish(float value, float alpha, float beta, const float* y) {
  return beta == 0.0f ? alpha * value : alpha * value + beta * *y;
}

// See GemvFn. Four vectors of columns at a time keep four independent FMA chains per k step.
template <typename Isa>
void gemv(int64_t n, int64_t k, float alpha, const float* x, const float* b, int64_t ldb, float beta, float* y) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  constexpr int kBlock = 4 * kLanes;
  int64_t j = 0;
  for (; j + kBlock <= n; j += kBlock) {
    Vec acc[4] = {Isa::zero(), Isa::zero(), Isa::zero(), Isa::zero()};
    for (int64_t p = 0; p < k; ++p) {
      const Vec xv = Isa::set1(x[p]);
      const float* row = b + p * ldb + j;
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[v] = Isa::fma(xv, Isa::load(row + v * kLanes), acc[v]);
    }
    float tile[kBlock];
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) Isa::store(tile + v * kLanes, acc[v]);
    for (int t = 0; t < kBlock; ++t) y[j + t] = gemv_finish(tile[t], alpha, beta, y + j + t);
  }
  for (; j + kLanes <= n; j += kLanes) {
    Vec acc = Isa::zero();
    for (int64_t p = 0; p < k; ++p) acc = Isa::fma(Isa::set1(x[p]), Isa::load(b + p * ldb + j), acc);
    float tile[kLanes];
    Isa::store(tile, acc);
    for (int t = 0; t < kLanes; ++t) y[j + t] = gemv_finish(tile[t], alpha, beta, y + j + t);
  }
  for (; j < n; ++j) {
    float sum = 0.0f;
    for (int64_t p = 0; p < k; ++p) sum += x[p] * b[p * ldb + j];
    y[j] = gemv_finish(sum, alpha, beta, y + j);
  }
}

// Dot product of two length-k rows with two vector accumulators.
template <typename Isa>
float dot(int64_t k, const float* x, const float* row) {
  using Vec = typename Isa::Vec;
  constexpr int kLanes = Isa::kLanes;
  Vec acc0 = Isa::zero();
  Vec acc1 = Isa::zero();
  int64_t p = 0;
  for (; p + 2 * kLanes <= k; p += 2 * kLanes) {
    acc0 = Isa::fma(Isa::load(x + p), Isa::load(row + p), acc0);
    acc1 = Isa::fma(Isa::load(x + p + kLanes), Isa::load(row + p + kLanes), acc1);
  }
  for (; p + kLanes <= k; p += kLanes) acc0 = Isa::fma(Isa::load(x + p), Isa::load(row + p), acc0);
  float sum = Isa::reduce_add(Isa::add(acc0, acc1));
  for (; p < k; ++p) sum += x[p] * row[p];
  return sum;
}

// See GemvTransFn.
template <typename Isa>
void gemv_trans(int64_t n, int64_t k, float alpha, const float* x, const float* b, int64_t ldb, float beta,
                float* y) {
  for (int64_t j = 0; j < n; ++j) y[j] = gemv_finish(dot<Isa>(k, x, b + j * ldb), alpha, beta, y + j);
}

}  // namespace
}  // namespace tessera::f32_gemm

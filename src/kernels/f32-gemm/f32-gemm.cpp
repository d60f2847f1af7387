// The f32 GEMM driver: micro-kernel selection from CPUID, panel packing, cache blocking (Goto/BLIS loop order:
// NC columns of B -> KC depth -> MC rows of A -> NR x MR register tiles) and the split over threads.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/error.h"
#include "kernels/cpu_features.h"
#include "kernels/f32-gemm/f32-gemm-ukernel.h"
#include "kernels/f32-gemm/gemm.h"

namespace tessera {
namespace {

using f32_gemm::UkernelSet;

const UkernelSet& cpuid_set() {
#if defined(__x86_64__)
  switch (cpu_kernel_isa()) {
    case KernelIsa::kAvx512: return f32_gemm::kAvx512Set;
    case KernelIsa::kAvx2: return f32_gemm::kAvx2Set;
    case KernelIsa::kPortable: break;
  }
#endif
  return f32_gemm::kPortableSet;
}

// The kernels this CPU runs, the CPUID choice first.
std::vector<const UkernelSet*> runnable_sets() {
  std::vector<const UkernelSet*> sets{&cpuid_set()};
  auto add = [&](const UkernelSet& set) {
    if (&set != sets[0]) sets.push_back(&set);
  };
#if defined(__x86_64__)
  if (&cpuid_set() == &f32_gemm::kAvx512Set) add(f32_gemm::kAvx2Set);
  if (&cpuid_set() != &f32_gemm::kPortableSet) add(f32_gemm::kAvx2Shape14x32Set);
#endif
  add(f32_gemm::kPortableSet);
  return sets;
}

const UkernelSet* g_selected = nullptr;  // test override; nullptr = the CPUID choice

const UkernelSet& active_set() { return g_selected != nullptr ? *g_selected : cpuid_set(); }

float* allocate_floats(int64_t count) {
  const size_t bytes = (static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) fail(ErrorCode::kOutOfMemory, "GEMM packing buffer of ", bytes, " bytes");
  return static_cast<float*>(p);
}

// Per-thread packing buffers, grown on demand and kept for the next call.
class Workspace {
 public:
  ~Workspace() {
    std::free(a_);
    std::free(b_);
    std::free(shared_a_);
    std::free(sums_);
  }
  float* a(int64_t count) { return ensure(a_, a_size_, count); }
  float* b(int64_t count) { return ensure(b_, b_size_, count); }
  // A packed once by this thread for every thread of a split GEMM (see run_gemm).
  float* shared_a(int64_t count) { return ensure(shared_a_, shared_a_size_, count); }
  // A transposed C's partial sums, kept plain between depth blocks (see compute_block).
  float* sums(int64_t count) { return ensure(sums_, sums_size_, count); }

 private:
  static float* ensure(float*& buffer, int64_t& size, int64_t count) {
    if (count > size) {
      std::free(buffer);
      buffer = nullptr;
      size = 0;
      buffer = allocate_floats(count);
      size = count;
    }
    return buffer;
  }
  float* a_ = nullptr;
  float* b_ = nullptr;
  float* shared_a_ = nullptr;
  float* sums_ = nullptr;
  int64_t a_size_ = 0;
  int64_t b_size_ = 0;
  int64_t shared_a_size_ = 0;
  int64_t sums_size_ = 0;
};

Workspace& thread_workspace() {
  thread_local Workspace workspace;
  return workspace;
}

// How the rows of a block are cut into register strips: `strips` strips of at most mr rows. A read in place is
// spread evenly (BERT's 128 rows: 8 x 13 + 2 x 12, not 9 x 14 + a 2-row strip that runs at a fraction of the FMA
// rate: QKV 98 -> 106 GFLOP/s); so is an A packed per call as one row block (packed_a_balanced): ResNet-50's
// pointwise layers at 7x7 run transposed with A = x^T of 49 rows, 8 x 6 + a one-row strip whose two accumulators
// wait on the FMA latency (6% of the layer's time), balanced 4 x 6 + 5 x 5 (AMD EPYC Zen 3, AVX2, one thread:
// `Gemm/r50_conv5_1x1/*/packed_b` 1194 -> 1096 us, BERT's FFN-down 6634 -> 6565; the 512 -> 2048 layer alone 1226
// -> 1178 us; an earlier measurement, before the tiles' depth loops were unrolled, had it 10-20% slower). Weights
// packed once at creation keep strips of exactly mr.
struct StripPlan {
  int64_t rows;  // rows of the block
  int64_t strips;
  int mr;
  bool balanced;
  int64_t start(int64_t s) const { return balanced ? s * (rows / strips) + std::min(s, rows % strips) : s * mr; }
  int64_t height(int64_t s) const {
    return balanced ? rows / strips + (s < rows % strips ? 1 : 0) : std::min<int64_t>(mr, rows - s * mr);
  }
};

StripPlan strip_plan(int64_t rows, int mr, bool balanced) {
  return StripPlan{rows, (rows + mr - 1) / mr, mr, balanced};
}

#if defined(__SSE2__)
// One whole strip of six rows of a plain A (rows[i][p] for p < kc) into strip[p * 6 + i], four depth steps at a
// time through a register transpose (SSE2, every x86-64 CPU): six loads and ten shuffles for 24 floats where the
// scalar loop made 24 loads and 24 stores. BERT-base's FFN-down (Zen 3, one thread, perf profile of
// `Gemm/bert_ffn_down/*/packed_b`): packing its page-aliased A 4.2% -> 1.7% of the time.
void pack_a_strip_of_six(const float* const (&rows)[6], int64_t kc, float* strip) {
  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    __m128 r0 = _mm_loadu_ps(rows[0] + p), r1 = _mm_loadu_ps(rows[1] + p), r2 = _mm_loadu_ps(rows[2] + p),
           r3 = _mm_loadu_ps(rows[3] + p);
    const __m128 r4 = _mm_loadu_ps(rows[4] + p), r5 = _mm_loadu_ps(rows[5] + p);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);            // r<q> = rows 0-3 at step p + q
    const __m128 lo45 = _mm_unpacklo_ps(r4, r5);  // rows 4, 5 at steps p, p + 1
    const __m128 hi45 = _mm_unpackhi_ps(r4, r5);  // at p + 2, p + 3
    float* out = strip + p * 6;
    _mm_storeu_ps(out, r0);
    _mm_storel_pi(reinterpret_cast<__m64*>(out + 4), lo45);
    _mm_storeu_ps(out + 6, r1);
    _mm_storeh_pi(reinterpret_cast<__m64*>(out + 10), lo45);
    _mm_storeu_ps(out + 12, r2);
    _mm_storel_pi(reinterpret_cast<__m64*>(out + 16), hi45);
    _mm_storeu_ps(out + 18, r3);
    _mm_storeh_pi(reinterpret_cast<__m64*>(out + 22), hi45);
  }
  for (; p < kc; ++p) {
    for (int i = 0; i < 6; ++i) strip[p * 6 + i] = rows[i][p];
  }
}
#endif

// Packs rows [m0, m0 + rows) x depth [k0, k0 + kc) of op(A) into the strips of `plan` (each in a slot of mr rows,
// zero-padded): dst[s][p][i].
void pack_a_block(bool trans_a, const float* a, int64_t lda, int64_t m0, const StripPlan& plan, int64_t k0,
                  int64_t kc, int mr, int64_t strip_stride, float* dst) {
  for (int64_t s = 0; s < plan.strips; ++s) {
    float* strip = dst + s * strip_stride;
    const int64_t valid = plan.height(s);
    const int64_t row0 = m0 + plan.start(s);
    if (trans_a) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = a + (k0 + p) * lda + row0;
        float* out = strip + p * mr;
        for (int64_t i = 0; i < valid; ++i) out[i] = src[i];
        for (int64_t i = valid; i < mr; ++i) out[i] = 0.0f;
      }
    } else {
#if defined(__SSE2__)
      if (mr == 6 && valid == 6) {
        const float* const rows[6] = {a + row0 * lda + k0,       a + (row0 + 1) * lda + k0, a + (row0 + 2) * lda + k0,
                                      a + (row0 + 3) * lda + k0, a + (row0 + 4) * lda + k0, a + (row0 + 5) * lda + k0};
        pack_a_strip_of_six(rows, kc, strip);
        continue;
      }
#endif
      for (int64_t i = 0; i < valid; ++i) {
        const float* src = a + (row0 + i) * lda + k0;
        for (int64_t p = 0; p < kc; ++p) strip[p * mr + i] = src[p];
      }
      for (int64_t i = valid; i < mr; ++i) {
        for (int64_t p = 0; p < kc; ++p) strip[p * mr + i] = 0.0f;
      }
    }
  }
}

// pack_b_block's plain B: depth rows k0 .. k0 + kc - 1 of `strips` column strips of kNr floats (kNr = 0: nr at
// run time), the last strip `tail` columns wide and zero-padded. Row by row, so the source is read sequentially
// (strided walks down columns defeat the prefetchers: every row is a new page). A whole strip's row is a copy of a
// size known at compile time, which GCC inlines as a few vector moves: a memcpy of a run-time size was a libc call
// per 64 bytes, 8% of ResNet-50's 256 -> 128 pointwise convolution at 56x56 in __memmove_avx_unaligned_erms (AMD
// EPYC Zen 3, one thread, perf profile; the layer's minimum 2334-2357 -> 2306-2325 us over three alternating runs).
template <int kNr>
void pack_b_rows(const float* b, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t strips, int64_t tail,
                 int64_t strip_stride, float* dst, int64_t run_time_nr = kNr) {
  const int64_t nr = kNr > 0 ? kNr : run_time_nr;
  const int64_t whole = tail == nr ? strips : strips - 1;
  for (int64_t p = 0; p < kc; ++p) {
    const float* src = b + (k0 + p) * ldb + n0;
    float* out = dst + p * nr;
    for (int64_t s = 0; s < whole; ++s, out += strip_stride) {
      if constexpr (kNr > 0)
        std::memcpy(out, src + s * kNr, kNr * sizeof(float));
      else
        std::memcpy(out, src + s * nr, static_cast<size_t>(nr) * sizeof(float));
    }
    if (whole == strips) continue;
    std::memcpy(out, src + whole * nr, static_cast<size_t>(tail) * sizeof(float));
    for (int64_t j = tail; j < nr; ++j) out[j] = 0.0f;
  }
}

// Packs depth [k0, k0 + kc) x columns [n0, n0 + cols) of op(B) into strips of nr: dst[s][p][j], zero-padded.
void pack_b_block(bool trans_b, const float* b, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t cols,
                  int nr, int64_t strip_stride, float* dst) {
  const int64_t strips = (cols + nr - 1) / nr;
  const int64_t tail = cols - (strips - 1) * nr;  // valid columns of the last strip
  if (!trans_b) {
    switch (nr) {
      case 8:
        return pack_b_rows<8>(b, ldb, k0, kc, n0, strips, tail, strip_stride, dst);
      case 16:
        return pack_b_rows<16>(b, ldb, k0, kc, n0, strips, tail, strip_stride, dst);
      case 32:
        return pack_b_rows<32>(b, ldb, k0, kc, n0, strips, tail, strip_stride, dst);
      default:
        return pack_b_rows<0>(b, ldb, k0, kc, n0, strips, tail, strip_stride, dst, nr);
    }
  }
  for (int64_t s = 0; s < strips; ++s) {
    float* strip = dst + s * strip_stride;
    const int64_t valid = s + 1 < strips ? nr : tail;
    for (int64_t j = 0; j < valid; ++j) {
      const float* src = b + (n0 + s * nr + j) * ldb + k0;
      for (int64_t p = 0; p < kc; ++p) strip[p * nr + j] = src[p];
    }
    for (int64_t j = valid; j < nr; ++j) {
      for (int64_t p = 0; p < kc; ++p) strip[p * nr + j] = 0.0f;
    }
  }
}

// Largest depth slice (one thread's rows of A, padded, x one depth block) of a plain A packed whole before the
// loops and run as one row block; about a quarter of a 1 MiB L2, leaving room for the B panels. Measured with depth
// blocks of at most kWholeAPackSliceDepth, and counted at that depth for the AVX-512 kernel's deeper blocks, so
// BERT's 128 rows stay one row block.
constexpr int64_t kWholeAPackSliceBytes = int64_t{256} << 10;
constexpr int64_t kWholeAPackSliceDepth = 384;

// Whether `rows_padded` rows of A at depth block kc_max fit kWholeAPackSliceBytes.
bool fits_whole_a_slice(int64_t rows_padded, int64_t kc_max) {
  return rows_padded * std::min(kc_max, kWholeAPackSliceDepth) * static_cast<int64_t>(sizeof(float)) <=
         kWholeAPackSliceBytes;
}

// Largest plain A (padded rows x the whole depth) packed whole before the loops when its depth slices exceed
// kWholeAPackSliceBytes but C has more than one column block: packed per row block instead, A would be packed
// again for every column block (GPT-2's LM head at batch 8, 1024 x 768 x 50257: A packed 99 times). Packed whole,
// each row block's slice is read back sequentially (from L3) once per column block and stays in L2 across the
// block's column panels.
constexpr int64_t kWholeAPackMaxBytes = int64_t{16} << 20;

// Whether a plain A of `rows` x `depth` that is packed (not read in place) is packed whole before the loops over
// `columns` columns of C, rather than row block by row block inside them.
bool packs_whole_a(const UkernelSet& set, int64_t rows, int64_t depth, int64_t columns, int64_t kc_max) {
  const int64_t rows_padded = (rows + set.mr - 1) / set.mr * set.mr;
  const int64_t bytes = static_cast<int64_t>(sizeof(float));
  if (fits_whole_a_slice(rows_padded, kc_max)) return true;
  return columns > set.nc && rows_padded * depth * bytes <= kWholeAPackMaxBytes;
}

// Whether the rows of a row-major A with leading dimension `ld` spread over the L1 sets well enough to be read in
// place: rows one 4 KiB page apart (ld * 4 a multiple of 4096, e.g. K = 3072) all land in the same sets and
// evict each other (measured: BERT's FFN-down GEMM at 55% of peak in place, 80% packed). Requires at least four
// distinct page offsets among consecutive rows.
bool rows_spread_over_l1_sets(int64_t ld) {
  constexpr int64_t kPageBytes = 4096;
  const int64_t offset = (ld * static_cast<int64_t>(sizeof(float))) % kPageBytes;
  if (offset == 0) return false;
  const int64_t distinct_offsets = kPageBytes / std::gcd(offset, kPageBytes);
  return distinct_offsets >= 4;
}

// Up to this many rows of a plain A are read in place even when their stride aliases in L1 (see compute_block).
constexpr int64_t kDirectFewRows = 4;

// The depth block for depth k: equal blocks of at most set.kc (576 = 3 x 192, not 256 + 256 + 64: a short last
// block costs a C update for little work). Packed operands use the same blocks.
int64_t depth_block(const UkernelSet& set, int64_t k) {
  if (k <= 0) return 1;
  const int64_t blocks = (k + set.kc - 1) / set.kc;
  return (k + blocks - 1) / blocks;
}

struct Problem {
  int64_t m, n, k;
  float alpha, beta;
  GemmOperandF32 a, b;
  float* c;
  int64_t ldc;
  const UkernelSet* set;
  const GemmEpilogueF32* epilogue = nullptr;
  // A plain A packed whole beforehand, laid out as a PackedGemmF32 of all m rows (nullptr: none), its strips cut by
  // strip_plan(m, mr, true) (each strip in its slot of mr rows).
  const float* a_panels = nullptr;
};

// From this many columns of C on, a plain A of more than kDirectFewRows rows is packed even where its rows could
// be read in place: packing it costs one pass over A, shared by every column block, and the packed-A tiles
// broadcast their rows from one strip (the direct-A ones keep a row pointer per row, two of them spilled at 13
// rows). GPT-2's LM head (128 x 768 x 50257, in the model, Xeon, one thread, six alternating rounds of per-node
// minima): 70.2-83.6 ms in place (median of the rounds 75.3), 69.2-75.2 packed (70.4); BERT's 3072-column FFN
// measured level either way, so narrower products keep reading A in place.
constexpr int64_t kPackAMinColumns = 8192;

// Whether compute_block reads rows [m0, m1) of a plain A in place (the direct-A micro-kernels) rather than packing.
bool reads_a_in_place(const Problem& pr, int64_t m0, int64_t m1) {
  // A few rows cannot evict each other from the L1 sets whatever their stride, and packing them would write a
  // whole zero-padded strip per depth step (batch-1 MLP layers, K = 512: ~25% of the run in pack_a_block).
  if (pr.a.packed || pr.a_panels != nullptr || pr.a.trans) return false;
  if (m1 - m0 <= kDirectFewRows) return true;
  return pr.n < kPackAMinColumns && rows_spread_over_l1_sets(pr.a.ld);
}

// The rows of A per row block when compute_block reads A in place: as many whole strips as keep one depth block of
// them within set.direct_a_block_bytes (at least one strip), so the block's rows stay in L1 while every panel of B
// passes under them. Each tile then streams its packed B panel from L2 (contiguous and prefetched) rather than its
// six rows of A (six strided streams). AMD EPYC Zen 3 (32 KiB L1), one thread, minima of three alternating runs
// (`Gemm/*/packed_b`), all rows as one block (up to 72 rows of 256 steps) against blocks within 16 KiB: BERT's QKV
// 1639 -> 1581 us, FFN-up 6718 -> 6495, ResNet-50's 3x3 at 28x28 2467 -> 2445, MobileNetV2's channels-last layers
// level (12 KiB the same, 20 KiB level with none); in the models (per-node minima, alternating): BERT-base 255.4 ->
// 253.1 ms (FFN-up with its GELU 7.2 -> 7.05 ms per layer), MobileNetV2 8.17 -> 8.08, ResNet-50 level.
int64_t direct_a_block_rows(const UkernelSet& set, int64_t kc_max) {
  const int64_t rows = set.direct_a_block_bytes / (kc_max * static_cast<int64_t>(sizeof(float)));
  return std::max<int64_t>(set.mr, rows / set.mr * set.mr);
}

// Whether compute_block reads a transposed plain A in place (the direct-AT micro-kernels: each depth step's rows
// are contiguous, so a tile's broadcasts read one or two cache lines per step, like a packed strip's) rather than
// packing it. Pointwise convolutions on small planes run transposed (x^T W^T: A = x^T, lda the plane size), and
// packing x^T cost 3% of MobileNetV2. Measured there (Zen 4, one thread, per-layer minima): the 14x14 layers
// 10-16% faster in place (384 -> 64 channels 107 -> 90 us), the 7x7 ones (lda 49) 5% slower, so depth steps
// closer than kDirectATransMinLd floats are still packed.
constexpr int64_t kDirectATransMinLd = 64;
bool reads_a_trans_in_place(const Problem& pr) {
  return !pr.a.packed && pr.a_panels == nullptr && pr.a.trans && pr.a.ld >= kDirectATransMinLd;
}

// A plain B of at most kDirectBMaxDepth depth steps times at most kDirectBMaxRows rows of A is read in place (the
// direct-B micro-kernels) rather than packed: with so few rows the packing pass costs about as much as the
// multiply-adds it feeds (pointwise convolutions to few channels over large planes: MobileNetV2's 32 -> 16
// channels at 112x112 205 -> 167 us, SqueezeNet's squeeze layers 92 -> 68 us; Zen 4, one thread). With more rows
// packing pays for itself, and reading B's rows in place from L3 (an input computed several layers before) was
// measured 17-20% slower (ResNet-50's first downsampling conv, 256 rows). The depth bound was 64 steps (the rows
// spanning more pages than the TLB holds was the worry); up to 512, measured in the models (per-layer minima):
// ResNet-50's 256 -> 64 at 56x56 1114 -> 961 us, MobileNetV2's 96 -> 24 and 144 -> 24 at 56x56 189 -> 138 and
// 258 -> 207 us, SqueezeNet's 128 -> 16 at 55x55 189 -> 141 us, its 384 -> 48 at 13x13 75 -> 68 us. The row bound
// was 64; at 128, ResNet-50's 256 -> 128 at 56x56 2027 -> 1861 us, its 512 -> 128 at 28x28 level. At 1024, once
// the kernels prefetched B's later panels (prefetch_plain_b_row; Xeon, one thread): its 64 -> 256 at 56x56 714 ->
// 670 us (standalone minima), 128 -> 512 at 28x28 655-690 -> 634-650, the model's per-node sum 1% lower; MobileNetV2
// and SqueezeNet level. Deeper B (1024 -> 256 at 14x14) was slower in place. Back to 512 rows on an AMD EPYC
// Zen 3 (512 KiB L2; AVX2, one thread, per-node minima of three alternating runs): SqueezeNet's 512 -> 1000
// classifier at 13x13 (ldb 169: every depth row of a panel straddles two lines) 2632 -> 1993 us in place ->
// packed (ONNX Runtime 1807), 1472 -> 1205 at two threads, the whole model 8.55 -> 7.91 ms; ResNet-50 level
// (88.5 -> 87.7 ms: its 256 -> 1024 layers at 14x14 the same). The layers whose gains set the bound at 1024 have
// at most 512 rows.
constexpr int64_t kDirectBMaxDepth = 512;
constexpr int64_t kDirectBMaxRows = 512;

// A B read in place by more than one block of mc rows of A is re-read from wherever the first block left it. On
// an AMD EPYC Zen 3 (512 KiB L2; AVX2, one thread, per-node minima of alternating runs) a B larger than the L2 ran
// faster packed (set.direct_b_max_reread_bytes): ResNet-50's strided 256 -> 512 downsampling at 28x28 (B 784 KiB,
// 512 rows) 3.01 -> 2.34 ms, the 64 -> 256 micro-benchmark at 56x56 1533 -> 1359 us; its 128 -> 512 at 28x28 (392
// KiB) the same either way. A B of at most kShallowDirectBDepth depth steps stays in place at any size: packing it
// costs as much as its few multiply-adds (MobileNetV2's 16 -> 96 at 112x112, 96 rows: 719 -> 754 us packed).
constexpr int64_t kShallowDirectBDepth = 64;

// Whether compute_block reads a plain B in place (the direct-B micro-kernels, whole panels; a partial last panel
// is packed) rather than packing it; the A side is then packed.
bool reads_b_in_place(const Problem& pr, bool direct_a) {
  if (direct_a || pr.b.packed || pr.b.source != nullptr || pr.b.trans) return false;
  if (pr.k > kDirectBMaxDepth || pr.m > kDirectBMaxRows) return false;
  const int64_t b_bytes = pr.k * pr.n * static_cast<int64_t>(sizeof(float));
  return pr.m <= pr.set->mc || pr.k <= kShallowDirectBDepth || b_bytes <= pr.set->direct_b_max_reread_bytes;
}

// Whether computing C packs the plain A operand (neither pre-packed nor read in place, plain or transposed).
bool packs_a_operand(const Problem& pr) {
  return !pr.a.packed && !reads_a_in_place(pr, 0, pr.m) && !reads_a_trans_in_place(pr);
}

// The epilogue of the tile whose first element is C's (row, column): the biases and the sum tile from there (the
// sum read transposed when C is stored transposed).
f32_gemm::TileEpilogue tile_epilogue_at(const GemmEpilogueF32& e, int64_t row, int64_t column, bool transposed) {
  const float* sum = e.sum == nullptr ? nullptr
                     : transposed     ? e.sum + column * e.sum_ld + row
                                      : e.sum + row * e.sum_ld + column;
  return {e.row_bias ? e.row_bias + row : nullptr,
          e.column_bias ? e.column_bias + column : nullptr,
          e.min,
          e.max,
          sum,
          e.sum_ld};
}

// Applies the epilogue to C [m x n] in a separate pass (for the paths that do not run the micro-kernels).
void apply_epilogue(const Problem& pr) {
  const GemmEpilogueF32* ep = pr.epilogue;
  if (ep == nullptr) return;
  const bool transposed = ep->store_transposed;
  for (int64_t i = 0; i < pr.m; ++i) {
    for (int64_t j = 0; j < pr.n; ++j) {
      float& out = transposed ? pr.c[j * pr.ldc + i] : pr.c[i * pr.ldc + j];
      float r = out;
      if (ep->row_bias) r += ep->row_bias[i];
      if (ep->column_bias) r += ep->column_bias[j];
      if (ep->sum) r += transposed ? ep->sum[j * ep->sum_ld + i] : ep->sum[i * ep->sum_ld + j];
      out = r < ep->min ? ep->min : (r > ep->max ? ep->max : r);
    }
  }
  if (ep->rows_activation != nullptr) {
    if (transposed) ep->rows_activation(pr.c, pr.n, pr.m, pr.ldc);
    else ep->rows_activation(pr.c, pr.m, pr.n, pr.ldc);
  }
}

// Prefetches `lines` runs of `width` floats, run r at p + r * ld (the first and last cache line of each).
inline void prefetch_columns(const float* p, int64_t ld, int64_t lines, int64_t width) {
  for (int64_t r = 0; r < lines; ++r) {
    __builtin_prefetch(p + r * ld);
    __builtin_prefetch(p + r * ld + width - 1);
  }
}

// Whether compute_block walks a block's tiles row strip by row strip (each strip's C rows written left to right:
// a few sequential streams) rather than column panel by column panel (every row of the block advanced one panel
// at a time: as many streams as rows). With a short depth the operands of a tile are a few KiB either way, and
// storing C dominates: a pointwise convolution to many channels over a large plane (MobileNetV2's 16 -> 96 at
// 112x112, 4.8 MB of output) writes dozens of rows at once, more streams than the prefetchers follow.
bool rows_first(const Problem& pr, int64_t kc, bool transposed) {
  return !transposed && kc == pr.k && pr.k <= 64 && pr.m > pr.set->mr * 2;
}

// Largest block of B (depth block x column block) packed per call, as the AVX-512 kernel's 384-step depth blocks
// had it with 512 columns: deeper blocks take fewer columns, so the block stays within a 1 MiB L2 (Zen 4's, where
// the 768-step blocks were not measured). On the Xeon (2 MiB L2) level: ResNet-50's implicit-im2col layers, one
// thread, per-node minima over five alternating rounds: the whole model 52.4 ms before, 52.8 after (noise level).
constexpr int64_t kPackedBBlockBytes = int64_t{384} * 512 * static_cast<int64_t>(sizeof(float));

// The columns of B per block: set.nc, or fewer for a B packed per call whose depth block would make the block
// exceed kPackedBBlockBytes (a pre-packed B is read in place, one panel at a time).
int64_t column_block(const UkernelSet& set, const Problem& pr, int64_t kc_max) {
  if (pr.b.packed != nullptr) return set.nc;
  const int64_t fitting = kPackedBBlockBytes / (kc_max * static_cast<int64_t>(sizeof(float))) / set.nr * set.nr;
  return std::max<int64_t>(set.nr, std::min<int64_t>(set.nc, fitting));
}

// Computes the block rows [m0, m1) x columns [n0, n1) of C; m0 and n0 are multiples of mr and nr.
void compute_block(const Problem& pr, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const UkernelSet& set = *pr.set;
  const int mr = set.mr;
  const int nr = set.nr;
  Workspace& workspace = thread_workspace();
  const int64_t kc_max = depth_block(set, pr.k);
  const int64_t m_padded = (pr.m + mr - 1) / mr * mr;
  const int64_t n_padded = (pr.n + nr - 1) / nr * nr;
  int64_t mc_max = std::min<int64_t>(set.mc, (m1 - m0 + mr - 1) / mr * mr);
  const int64_t nc_max = std::min<int64_t>(column_block(set, pr, kc_max), (n1 - n0 + nr - 1) / nr * nr);
  // A plain row-major A is read in place by the direct-A micro-kernels (no packing). A transposed plain A is
  // packed: whole, before the loops, when one depth slice of this block's rows fits kWholeAPackSliceBytes (so it
  // stays in L2; laid out like a PackedGemmF32 of the block's rows) or when several column blocks would each
  // repack it (packs_whole_a), else per row block as the loops go. Either
  // way A is not repacked for every column block, which with a pre-packed B and a wide N (BERT's FFN: N = 3072,
  // six column blocks) cost ~5% of the run.
  const bool direct_a = reads_a_in_place(pr, m0, m1);
  const bool direct_at = !direct_a && reads_a_trans_in_place(pr);
  const bool direct_b = reads_b_in_place(pr, direct_a || direct_at);
  // A transposed C: each tile is computed into `tile` (beta = 0, no epilogue) and stored by set.store_transposed.
  const bool transposed = pr.epilogue != nullptr && pr.epilogue->store_transposed;
  alignas(64) float tile[f32_gemm::kMaxMr * f32_gemm::kMaxNr];
  // A transposed C over several depth blocks: the earlier blocks' sums stay plain in `sums` (the block's rows x
  // nc_max columns), and each tile is stored transposed once, after the last block (with beta = 0 the same bits as
  // adding every block into C). One transposed read-modify-write of C per depth block cost ResNet-50's 3x3 layers
  // at 7x7 (4608 depth steps, 18 blocks) ~10% of their time in store_transposed (Zen 3, AVX2).
  const bool defer_transposed = transposed && pr.beta == 0.0f && pr.k > kc_max;
  const bool a_prepacked = pr.a.packed != nullptr || pr.a_panels != nullptr;
  const float* a_panels = pr.a.packed != nullptr ? pr.a.packed->data() : pr.a_panels;
  const int64_t block_rows_padded = (m1 - m0 + mr - 1) / mr * mr;
  const bool small_block = fits_whole_a_slice(block_rows_padded, kc_max);
  const bool pack_whole_a =
      !a_prepacked && !direct_a && !direct_at && packs_whole_a(set, m1 - m0, pr.k, n1 - n0, kc_max);
  if (small_block) mc_max = block_rows_padded;
  // Balanced strips (see StripPlan) for an A packed per call that runs as one row block: packed whole here within
  // one L2 slice, or beforehand for every column piece (pr.a_panels, always one slice and all rows).
  const bool packed_a_balanced = (pack_whole_a && small_block) || (pr.a.packed == nullptr && pr.a_panels != nullptr);
  if (direct_a && set.direct_a_block_bytes > 0) mc_max = std::min(mc_max, direct_a_block_rows(set, kc_max));
  float* a_buffer =
      (a_prepacked || direct_a || direct_at) ? nullptr : workspace.a(pack_whole_a ? block_rows_padded * pr.k : mc_max * kc_max);
  float* b_buffer = pr.b.packed ? nullptr : workspace.b(nc_max * kc_max);
  float* sums = defer_transposed ? workspace.sums((m1 - m0) * nc_max) : nullptr;
  if (pack_whole_a) {
    for (int64_t pc = 0; pc < pr.k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, pr.k - pc);
      pack_a_block(pr.a.trans, pr.a.data, pr.a.ld, m0, strip_plan(m1 - m0, mr, packed_a_balanced), pc, kc, mr, kc * mr,
                   a_buffer + pc * block_rows_padded);
    }
  }
  for (int64_t jc = n0; jc < n1; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n1 - jc);
    for (int64_t pc = 0; pc < pr.k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, pr.k - pc);
      const float* bp;
      int64_t b_stride;
      if (pr.b.packed) {
        b_stride = kc * nr;
        bp = pr.b.packed->data() + pc * n_padded + (jc / nr) * b_stride;
      } else if (direct_b) {
        // Whole panels are read in place; a partial last one is packed into the buffer's first panel.
        b_stride = kc * nr;
        const int64_t whole = nc / nr * nr;
        if (whole < nc) pack_b_block(false, pr.b.data, pr.b.ld, pc, kc, jc + whole, nc - whole, nr, b_stride, b_buffer);
        bp = b_buffer;
      } else {
        b_stride = kc * nr;
        if (pr.b.source) pr.b.source->pack(pc, kc, jc, nc, nr, b_buffer);
        else pack_b_block(pr.b.trans, pr.b.data, pr.b.ld, pc, kc, jc, nc, nr, b_stride, b_buffer);
        bp = b_buffer;
      }
      const float beta = pc == 0 ? pr.beta : 1.0f;
      const bool last_block = pc + kc == pr.k;  // the tiles' sums are complete after this depth block
      for (int64_t ic = m0, mc = 0; ic < m1; ic += mc) {
        mc = std::min(mc_max, m1 - ic);
        // Read in place, a tail of fewer rows than a strip joins this block, whose strips are balanced (13 rows
        // under 12-row blocks: 5 + 4 + 4, not 6 + 6 and a lone row).
        if (direct_a && m1 - ic - mc < mr) mc = m1 - ic;
        const float* ap = nullptr;
        int64_t a_stride = 0;
        if (direct_a || direct_at) {
          // read in place below
        } else if (a_prepacked) {
          a_stride = kc * mr;
          ap = a_panels + pc * m_padded + (ic / mr) * a_stride;
        } else if (pack_whole_a) {
          a_stride = kc * mr;
          ap = a_buffer + pc * block_rows_padded + ((ic - m0) / mr) * a_stride;
        } else {
          a_stride = kc * mr;
          pack_a_block(pr.a.trans, pr.a.data, pr.a.ld, ic, strip_plan(mc, mr, false), pc, kc, mr, a_stride, a_buffer);
          ap = a_buffer;
        }
        const StripPlan plan = strip_plan(mc, mr, direct_a || packed_a_balanced);
        // Inlined into both loop orders below: as a called closure every tile reloaded the block's state through
        // it, ~5% of MobileNetV2's time (AMD EPYC Zen 3, one thread; inlined: its per-node sum 9.08 -> 8.79 ms, the
        // shallow 16 -> 96 at 112x112 729 -> 658 us; ResNet-50 80.2 -> 79.0 ms, BERT-base 263.5 -> 261.6 ms).
        auto run_tile = [&](int64_t jr, int64_t s) __attribute__((always_inline)) {
          const int64_t cols = std::min<int64_t>(nr, nc - jr);
          // Direct B: a whole panel in place, else the packed partial one.
          const bool panel_in_place = direct_b && cols == nr;
          const float* b_panel = direct_b ? (panel_in_place ? pr.b.data + pc * pr.b.ld + jc + jr : bp)
                                          : bp + (jr / nr) * b_stride;
          {
            const int64_t ir = plan.start(s);
            const int64_t rows = plan.height(s);
            float* c_tile = transposed ? pr.c + (jc + jr) * pr.ldc + ic + ir : pr.c + (ic + ir) * pr.ldc + jc + jr;
            // The epilogue runs once, on the last depth block, when the tile's sums are complete.
            f32_gemm::TileEpilogue tile_epilogue;
            const f32_gemm::TileEpilogue* ep = nullptr;
            if (pr.epilogue != nullptr && last_block) {
              const GemmEpilogueF32& e = *pr.epilogue;
              tile_epilogue = tile_epilogue_at(e, ic + ir, jc + jr, transposed);
              ep = &tile_epilogue;
            }
            // The micro-kernels prefetch their C tile (rows far apart defeat the hardware prefetchers); here the
            // lines the kernel does not know about: a transposed C's and the sum's, read once the sums are done.
            if (transposed) prefetch_columns(c_tile, pr.ldc, cols, rows);
            if (ep != nullptr && ep->sum != nullptr) {
              if (transposed)
                prefetch_columns(ep->sum, ep->sum_ld, cols, rows);
              else
                prefetch_columns(ep->sum, ep->sum_ld, rows, cols);
            }
            // A transposed C: the kernel fills the whole tile buffer (nc = nr: no edge path), the store trims it.
            float* out = transposed ? tile : c_tile;
            int64_t ld_out = transposed ? f32_gemm::kMaxNr : pr.ldc;
            const int64_t cols_out = transposed ? nr : cols;
            float beta_out = transposed ? 0.0f : beta;
            const f32_gemm::TileEpilogue* ep_out = transposed ? nullptr : ep;
            if (defer_transposed) {
              float* sums_tile = sums + (ic - m0 + ir) * nc_max + jr;
              if (!last_block) {
                out = sums_tile;  // whole panels: nc_max is a multiple of nr
                ld_out = nc_max;
                beta_out = pc == 0 ? 0.0f : 1.0f;
              } else {
                for (int64_t i = 0; i < rows; ++i)
                  std::memcpy(tile + i * f32_gemm::kMaxNr, sums_tile + i * nc_max, sizeof(float) * nr);
                beta_out = 1.0f;
              }
            }
            if (direct_a) {
              set.direct_a_by_rows[rows - 1](kc, pr.a.data + (ic + ir) * pr.a.ld + pc, pr.a.ld, b_panel, out, ld_out,
                                             cols_out, pr.alpha, beta_out, ep_out);
            } else if (direct_at) {
              set.direct_at_by_rows[rows - 1](kc, pr.a.data + pc * pr.a.ld + ic + ir, pr.a.ld, b_panel, out, ld_out,
                                              cols_out, pr.alpha, beta_out, ep_out);
            } else if (panel_in_place) {
              set.direct_b_by_rows[rows - 1](kc, ap + s * a_stride, b_panel, pr.b.ld, out, ld_out, cols_out, pr.alpha,
                                             beta_out, ep_out);
            } else {
              set.by_rows[rows - 1](kc, ap + s * a_stride, b_panel, out, ld_out, cols_out, pr.alpha, beta_out, ep_out);
            }
            if (transposed && (!defer_transposed || last_block))
              set.store_transposed(tile, rows, cols, c_tile, pr.ldc, defer_transposed ? pr.beta : beta, ep);
          }
        };
        if (plan.strips == 1 && plan.height(0) == 1 && !transposed && !direct_b) {
          // One row (a batch-1 classifier): every panel of the block side by side, for the latency a one-row tile
          // leaves idle. The same bits. Zen 3, AVX2, one thread: MobileNetV2's 1280 -> 1000 104-111 -> 79-85 us and
          // ResNet-50's 2048 -> 1000 169-175 -> 128-162 us with B in L3 (micro-benchmarks `Gemm/*_m1`); in
          // MobileNetV2 its median 307 -> 250 us (B mostly from memory).
          const float* a_row = direct_a    ? pr.a.data + ic * pr.a.ld + pc
                               : direct_at ? pr.a.data + pc * pr.a.ld + ic
                                           : ap;
          const int64_t a_step = direct_a ? 1 : direct_at ? pr.a.ld : mr;
          f32_gemm::TileEpilogue row_epilogue;
          const f32_gemm::TileEpilogue* ep = nullptr;
          if (pr.epilogue != nullptr && last_block) {
            row_epilogue = tile_epilogue_at(*pr.epilogue, ic, jc, false);
            ep = &row_epilogue;
          }
          set.row_panels(kc, a_row, a_step, bp, b_stride, (nc + nr - 1) / nr, pr.c + ic * pr.ldc + jc, nc, pr.alpha,
                         beta, ep);
        } else if (rows_first(pr, kc, transposed)) {
          for (int64_t s = 0; s < plan.strips; ++s) {
            for (int64_t jr = 0; jr < nc; jr += nr) run_tile(jr, s);
          }
        } else {
          for (int64_t jr = 0; jr < nc; jr += nr) {
            for (int64_t s = 0; s < plan.strips; ++s) run_tile(jr, s);
          }
        }
        // The block [ic, ic + mc) x [jc, jc + nc) is final after its last depth block, and still in L2.
        if (pr.epilogue != nullptr && pr.epilogue->rows_activation != nullptr && last_block) {
          if (transposed) pr.epilogue->rows_activation(pr.c + jc * pr.ldc + ic, nc, mc, pr.ldc);
          else pr.epilogue->rows_activation(pr.c + ic * pr.ldc + jc, mc, nc, pr.ldc);
        }
      }
    }
  }
}

// C = beta * C, for k == 0 (the product is empty); a transposed C is scaled as its n x m self.
void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc, bool transposed) {
  if (transposed) std::swap(m, n);
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
}

// Matrix-vector products (one of m, n is 1, and neither side is packed): y = alpha * op(M) x + beta * y.
// `dot_form` says whether each output element reads a contiguous row of `mat` (a dot product) or a column
// (a GEMV down the rows). x is gathered when strided; y is written through a buffer when strided.
void gemv_product(const Problem& pr, int64_t outputs, bool dot_form, const float* mat, int64_t ldm, const float* x,
                  int64_t incx, float* y, int64_t incy, Parallelism* parallelism) {
  const UkernelSet& set = *pr.set;
  const int64_t k = pr.k;
  std::vector<float> x_copy;
  if (incx != 1) {
    x_copy.resize(static_cast<size_t>(k));
    for (int64_t p = 0; p < k; ++p) x_copy[static_cast<size_t>(p)] = x[p * incx];
    x = x_copy.data();
  }
  auto run = [&](int64_t begin, int64_t end) {
    std::vector<float> y_copy;
    float* out = y + begin * incy;
    if (incy != 1) {
      y_copy.resize(static_cast<size_t>(end - begin));
      for (int64_t j = begin; j < end; ++j) y_copy[static_cast<size_t>(j - begin)] = y[j * incy];
      out = y_copy.data();
    }
    if (dot_form) set.gemv_trans(end - begin, k, pr.alpha, x, mat + begin * ldm, ldm, pr.beta, out);
    else set.gemv(end - begin, k, pr.alpha, x, mat + begin, ldm, pr.beta, out);
    if (incy != 1) {
      for (int64_t j = begin; j < end; ++j) y[j * incy] = y_copy[static_cast<size_t>(j - begin)];
    }
  };
  const int threads = parallelism ? parallelism->thread_count() : 1;
  if (threads <= 1 || outputs * k < 32768) {
    run(0, outputs);
    return;
  }
  // Chunks of 64 outputs keep the vector blocks whole and the split static.
  const int64_t chunks = (outputs + 63) / 64;
  parallelism->parallel_for(chunks, [&](int64_t begin, int64_t end) {
    run(begin * 64, std::min(outputs, end * 64));
  });
}

// Handles the matrix-vector shapes; returns false when the general path must run.
bool try_gemv(const Problem& pr, Parallelism* parallelism) {
  if (pr.a.packed || pr.b.packed || pr.b.source) return false;
  if (pr.epilogue != nullptr && pr.epilogue->store_transposed) return false;
  if (pr.m == 1) {
    // y (row of C) = x (row of op(A)) * op(B): B stored k x n reads columns, stored n x k (trans) dots rows.
    const int64_t incx = pr.a.trans ? pr.a.ld : 1;
    gemv_product(pr, pr.n, pr.b.trans, pr.b.data, pr.b.ld, pr.a.data, incx, pr.c, 1, parallelism);
    return true;
  }
  if (pr.n == 1) {
    // y (column of C) = op(A) * x (column of op(B)): A stored m x k dots rows, stored k x m (trans) reads columns.
    const int64_t incx = pr.b.trans ? 1 : pr.b.ld;
    gemv_product(pr, pr.m, !pr.a.trans, pr.a.data, pr.a.ld, pr.b.data, incx, pr.c, pr.ldc, parallelism);
    return true;
  }
  return false;
}

// Column pieces per thread of a GEMM split over N: whichever thread is free takes the next piece, so a thread the
// OS deschedules (on a shared machine) holds up at most one piece instead of half the GEMM.
constexpr int64_t kColumnPiecesPerThread = Parallelism::kPiecesPerThread;

// Computes C split over its column strips in pieces. A plain A that every piece would pack whole (rows a page apart,
// small enough for L2; BERT's FFN-down) is packed once beforehand, its strips split over the threads, instead of by
// every piece. Each element's arithmetic is the same whatever the pieces: the bits do not depend on the threads.
void run_column_pieces(const Problem& pr, int64_t n_strips, int threads, Parallelism& parallelism) {
  const UkernelSet& set = *pr.set;
  const int mr = set.mr, nr = set.nr;
  Problem shared = pr;
  const int64_t m_strips = (pr.m + mr - 1) / mr;
  const int64_t m_padded = m_strips * mr;
  const int64_t kc_max = depth_block(set, pr.k);
  const bool packs_a = packs_a_operand(pr);
  // Only an A within one slice: a larger one packed first would be read back whole by every piece, from L3 or
  // memory (BERT-base at batch 8 on two threads, the 12.6 MB A of each FFN-down: 272 -> 306 ms of MatMuls).
  const bool pack_a_first = packs_a && fits_whole_a_slice(m_padded, kc_max);
  if (pack_a_first) {
    float* panels = thread_workspace().shared_a(m_padded * pr.k);
    const StripPlan plan = strip_plan(pr.m, mr, true);  // see Problem::a_panels
    parallelism.parallel_for_pieces(m_strips, m_strips, [&](int64_t s0, int64_t s1) {
      for (int64_t pc = 0; pc < pr.k; pc += kc_max) {
        const int64_t kc = std::min(kc_max, pr.k - pc);
        for (int64_t s = s0; s < s1; ++s) {
          pack_a_block(pr.a.trans, pr.a.data, pr.a.ld, plan.start(s), strip_plan(plan.height(s), mr, false), pc, kc, mr,
                       kc * mr, panels + pc * m_padded + s * kc * mr);
        }
      }
    });
    shared.a_panels = panels;
  }
  // An A too large to pack first is packed block by block by every piece: then one piece per thread, as many
  // packings as before.
  const int64_t pieces =
      std::min<int64_t>(n_strips, packs_a && !pack_a_first ? threads : threads * kColumnPiecesPerThread);
  parallelism.parallel_for_pieces(n_strips, pieces, [&](int64_t s0, int64_t s1) {
    compute_block(shared, 0, pr.m, s0 * nr, std::min(pr.n, s1 * nr));
  });
}

void run_gemm(const Problem& pr, Parallelism* parallelism) {
  if (pr.m <= 0 || pr.n <= 0) return;
  if (pr.k <= 0) {
    scale_c(pr.m, pr.n, pr.beta, pr.c, pr.ldc, pr.epilogue != nullptr && pr.epilogue->store_transposed);
    apply_epilogue(pr);
    return;
  }
  if (try_gemv(pr, parallelism)) {
    apply_epilogue(pr);
    return;
  }
  const int mr = pr.set->mr;
  const int nr = pr.set->nr;
  const int64_t m_strips = (pr.m + mr - 1) / mr;
  const int64_t n_strips = (pr.n + nr - 1) / nr;
  const int threads = parallelism ? parallelism->thread_count() : 1;
  const double flops = 2.0 * static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k);
  if (threads <= 1 || flops < 2.0e5 || (m_strips == 1 && n_strips == 1)) {
    compute_block(pr, 0, pr.m, 0, pr.n);
    return;
  }
  // Split the dimension with more strips (N on ties: each thread then packs only its own part of B), or N where it
  // has strips enough for every thread, unless nothing is packed per piece (B pre-packed, A not packed) and A is
  // the larger operand: every column piece reads all of A, every row piece all of B. ResNet-50's 512 -> 256
  // pointwise convolution at 28x28 (run transposed: A = x^T, 784 x 512; B 512 x 256) in eight column pieces read its
  // 1.6 MB A eight times (Xeon, two threads, per-node minima over three runs: 1247-1832 us in column pieces,
  // 894-1222 in row pieces).
  const bool packs_a = packs_a_operand(pr);
  const bool rows_read_less = pr.b.packed != nullptr && !packs_a && pr.m > pr.n;
  const bool split_n = n_strips >= m_strips || (n_strips >= 4 * threads && !rows_read_less);
  // Too few column strips to share evenly (a channels-last pointwise convolution to 160 channels over a 7x7 plane:
  // 5 strips, 3 + 2 on two threads), with an A that no piece packs: pieces of row blocks x column strips.
  if (split_n && n_strips < kColumnPiecesPerThread * threads && n_strips % threads != 0 && m_strips > 1 && !packs_a) {
    const int64_t m_parts = std::min<int64_t>(m_strips, (kColumnPiecesPerThread * threads + n_strips - 1) / n_strips);
    const int64_t pieces = m_parts * n_strips;
    parallelism->parallel_for_pieces(pieces, pieces, [&](int64_t begin, int64_t end) {
      for (int64_t piece = begin; piece < end; ++piece) {
        const int64_t part = piece / n_strips, strip = piece % n_strips;
        const int64_t s0 = m_strips * part / m_parts, s1 = m_strips * (part + 1) / m_parts;
        compute_block(pr, s0 * mr, std::min(pr.m, s1 * mr), strip * nr, std::min(pr.n, (strip + 1) * nr));
      }
    });
    return;
  }
  if (split_n) {
    run_column_pieces(pr, n_strips, threads, *parallelism);
    return;
  }
  if (pr.b.packed != nullptr && !packs_a) {
    // Nothing to pack per piece (B pre-packed, A in place or pre-packed): row pieces claimed by whichever thread
    // is free, so a thread slowed by the OS holds up one piece, not half the rows (channels-last pointwise
    // convolutions to few channels: MobileNetV2's 192 -> 32 at 28x28).
    const int64_t pieces = std::min<int64_t>(m_strips, kColumnPiecesPerThread * threads);
    parallelism->parallel_for_pieces(m_strips, pieces, [&](int64_t s0, int64_t s1) {
      compute_block(pr, s0 * mr, std::min(pr.m, s1 * mr), 0, pr.n);
    });
    return;
  }
  const int64_t tasks = std::min<int64_t>(threads, m_strips);
  parallelism->parallel_for(tasks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t s0 = m_strips * t / tasks;
      const int64_t s1 = m_strips * (t + 1) / tasks;
      compute_block(pr, s0 * mr, std::min(pr.m, s1 * mr), 0, pr.n);
    }
  });
}

}  // namespace

void PackedGemmF32::FreeDeleter::operator()(float* p) const { std::free(p); }

PackedGemmF32 pack_gemm_a_f32(bool trans_a, int64_t m, int64_t k, const float* a, int64_t lda) {
  const UkernelSet& set = active_set();
  check_argument(m >= 0 && k >= 0, "pack_gemm_a_f32: bad shape ", m, "x", k);
  PackedGemmF32 packed;
  packed.rows_ = m;
  packed.depth_ = k;
  packed.strip_ = set.mr;
  packed.block_ = depth_block(set, k);
  const int64_t padded = (m + set.mr - 1) / set.mr * set.mr;
  packed.data_ = std::shared_ptr<float>(allocate_floats(padded * k), PackedGemmF32::FreeDeleter{});
  for (int64_t k0 = 0; k0 < k; k0 += packed.block_) {
    const int64_t kc = std::min(packed.block_, k - k0);
    pack_a_block(trans_a, a, lda, 0, strip_plan(m, set.mr, false), k0, kc, set.mr, kc * set.mr,
                 packed.data_.get() + k0 * padded);
  }
  return packed;
}

PackedGemmF32 pack_gemm_b_f32(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb) {
  const UkernelSet& set = active_set();
  check_argument(n >= 0 && k >= 0, "pack_gemm_b_f32: bad shape ", k, "x", n);
  PackedGemmF32 packed;
  packed.rows_ = n;
  packed.depth_ = k;
  packed.strip_ = set.nr;
  packed.block_ = depth_block(set, k);
  const int64_t padded = (n + set.nr - 1) / set.nr * set.nr;
  packed.data_ = std::shared_ptr<float>(allocate_floats(padded * k), PackedGemmF32::FreeDeleter{});
  for (int64_t k0 = 0; k0 < k; k0 += packed.block_) {
    const int64_t kc = std::min(packed.block_, k - k0);
    pack_b_block(trans_b, b, ldb, k0, kc, 0, n, set.nr, kc * set.nr, packed.data_.get() + k0 * padded);
  }
  return packed;
}

void gemm_f32_rows_b(int64_t m, int64_t n, int64_t k, const PackedGemmF32& a, const float* const* b_rows, float* c,
                     int64_t ldc, const GemmEpilogueF32* epilogue) {
  const UkernelSet& set = active_set();
  check_argument(a.rows() == m && a.depth() == k && a.strip() == set.mr && !a.empty(), "gemm_f32_rows_b: A packed as ",
                 a.rows(), "x", a.depth(), " does not fit ", m, "x", k);
  check_argument(epilogue == nullptr || (!epilogue->store_transposed && epilogue->rows_activation == nullptr),
                 "gemm_f32_rows_b: transposed stores and row activations are not supported");
  if (m <= 0 || n <= 0) return;
  const int mr = set.mr, nr = set.nr;
  const int64_t m_padded = (m + mr - 1) / mr * mr;
  const int64_t kc_max = a.depth_block();
  for (int64_t pc = 0; pc < std::max<int64_t>(k, 1); pc += kc_max) {
    const int64_t kc = std::min(kc_max, k - pc);
    const bool last = pc + kc >= k;
    const float beta = pc == 0 ? 0.0f : 1.0f;
    for (int64_t jr = 0; jr < n; jr += nr) {
      const int64_t cols = std::min<int64_t>(nr, n - jr);
      for (int64_t ir = 0; ir < m; ir += mr) {
        const int64_t rows = std::min<int64_t>(mr, m - ir);
        f32_gemm::TileEpilogue tile_epilogue;
        const f32_gemm::TileEpilogue* ep = nullptr;
        if (epilogue != nullptr && last) {
          tile_epilogue = tile_epilogue_at(*epilogue, ir, jr, false);
          ep = &tile_epilogue;
        }
        // A last strip of at most half the tile's columns on the half-width tile: half the multiply-adds (the
        // stems' 112-position output rows end in 16 of 32 columns), the same arithmetic per element.
        const f32_gemm::RowsBUkernelFn* tiles = 2 * cols <= nr ? set.rows_b_half_by_rows : set.rows_b_by_rows;
        tiles[rows - 1](kc, a.data() + pc * m_padded + (ir / mr) * kc * mr, b_rows + pc, jr, c + ir * ldc + jr, ldc,
                        cols, 1.0f, beta, ep);
      }
    }
    if (k <= 0) break;
  }
}

void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, Parallelism* parallelism) {
  const Problem pr{m, n, k, alpha, beta, {nullptr, a, lda, trans_a}, {nullptr, b, ldb, trans_b}, c, ldc,
                   &active_set()};
  run_gemm(pr, parallelism);
}

void gemm_f32_packed(int64_t m, int64_t n, int64_t k, float alpha, const GemmOperandF32& a, const GemmOperandF32& b,
                     float beta, float* c, int64_t ldc, Parallelism* parallelism, const GemmEpilogueF32* epilogue) {
  const UkernelSet& set = active_set();
  check_argument(a.source == nullptr, "gemm_f32_packed: A cannot come from a panel source");
  if (a.packed) {
    check_argument(a.packed->rows() == m && a.packed->depth() == k && a.packed->strip() == set.mr &&
                       a.packed->depth_block() == depth_block(set, k),
                   "gemm_f32_packed: packed A is ", a.packed->rows(), "x", a.packed->depth(), ", expected ", m, "x",
                   k);
  }
  if (b.packed) {
    check_argument(b.packed->rows() == n && b.packed->depth() == k && b.packed->strip() == set.nr &&
                       b.packed->depth_block() == depth_block(set, k),
                   "gemm_f32_packed: packed B is ", b.packed->depth(), "x", b.packed->rows(), ", expected ", k, "x",
                   n);
  }
  run_gemm(Problem{m, n, k, alpha, beta, a, b, c, ldc, &set, epilogue}, parallelism);
}

GemmTileF32 gemm_f32_tile() {
  const UkernelSet& set = active_set();
  return GemmTileF32{set.mr, set.nr, set.transposed_store_steps};
}

const char* gemm_f32_kernel_name() { return active_set().name; }

std::vector<std::string> gemm_f32_kernel_names() {
  std::vector<std::string> names;
  for (const UkernelSet* set : runnable_sets()) names.emplace_back(set->name);
  return names;
}

bool gemm_f32_select_kernel(const std::string& name) {
  if (name.empty()) {
    g_selected = nullptr;
    return true;
  }
  for (const UkernelSet* set : runnable_sets()) {
    if (name == set->name) {
      g_selected = set;
      return true;
    }
  }
  return false;
}

}  // namespace tessera

// f32 GEMM kernels for AVX-512F: a 14x32 micro-kernel (28 accumulators, 2 B vectors and a broadcast fill 31 of
// the 32 zmm registers) and the GEMV loops. Compiled with -mavx512f -mavx512bw -mavx512vl; used only when
// CPUID reports AVX-512F, BW and VL.
#include <immintrin.h>

#include "kernels/f32-gemm/f32-gemm-ukernel-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::f32_gemm {
namespace {

struct Avx512 : Avx512FloatOps {
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static constexpr bool kTransposes = true;
  static constexpr bool kPrefetchPackedBIntoL2 = true;  // measured on the Xeon (prefetch_packed_b_row)
  // transpose (16 x 16), load_n, store_n: Avx512FloatOps.
  // Through memory: GCC 12's _mm512_reduce_add_ps trips -Wmaybe-uninitialized, and this runs once per dot.
  static float reduce_add(Vec v) {
    alignas(64) float lanes[kLanes];
    _mm512_store_ps(lanes, v);
    float sum = 0.0f;
    for (float lane : lanes) sum += lane;
    return sum;
  }
};

constexpr int kMr = 14;
constexpr int kNv = 2;

}  // namespace

const UkernelSet kAvx512Set = {
    .name = "f32_gemm_ukernel_14x32__avx512",
    .mr = kMr,
    .nr = kNv * Avx512::kLanes,
    // 768, not 384 (one 32-column panel is then 96 KiB, twice L1): half the passes over C, whose tiles are read
    // and written again for every depth block. Measured (Xeon, per-node minima, old and new alternately): GPT-2
    // at batch 8, one thread, LM head 550 -> 520 ms and FFN-down MatMuls 573 -> 545; ResNet-50 55.6 -> 54.3 ms
    // over five rounds, 34.3 -> 30.9 at two threads; BERT-base level at one thread, 91.5 -> 86.2 at two.
    .kc = 768,
    .mc = 126,
    .nc = 512,
    .transposed_store_steps = 8,             // Zen 4, one thread: see pointwise_prefers_transposed
    .direct_b_max_reread_bytes = INT64_MAX,  // no bound: the in-place bounds were measured on Zen 4 and the Xeon
    .direct_a_block_bytes = 0,               // not measured with the 14x32 tile (its B panels are twice as wide)
    .by_rows = {gemm_ukernel<Avx512, kMr, kNv, 1>, gemm_ukernel<Avx512, kMr, kNv, 2>, gemm_ukernel<Avx512, kMr, kNv, 3>,
                gemm_ukernel<Avx512, kMr, kNv, 4>, gemm_ukernel<Avx512, kMr, kNv, 5>, gemm_ukernel<Avx512, kMr, kNv, 6>,
                gemm_ukernel<Avx512, kMr, kNv, 7>, gemm_ukernel<Avx512, kMr, kNv, 8>, gemm_ukernel<Avx512, kMr, kNv, 9>,
                gemm_ukernel<Avx512, kMr, kNv, 10>, gemm_ukernel<Avx512, kMr, kNv, 11>,
                gemm_ukernel<Avx512, kMr, kNv, 12>, gemm_ukernel<Avx512, kMr, kNv, 13>,
                gemm_ukernel<Avx512, kMr, kNv, 14>},
    .direct_a_by_rows = {gemm_ukernel_direct_a<Avx512, kNv, 1>, gemm_ukernel_direct_a<Avx512, kNv, 2>,
                         gemm_ukernel_direct_a<Avx512, kNv, 3>, gemm_ukernel_direct_a<Avx512, kNv, 4>,
                         gemm_ukernel_direct_a<Avx512, kNv, 5>, gemm_ukernel_direct_a<Avx512, kNv, 6>,
                         gemm_ukernel_direct_a<Avx512, kNv, 7>, gemm_ukernel_direct_a<Avx512, kNv, 8>,
                         gemm_ukernel_direct_a<Avx512, kNv, 9>, gemm_ukernel_direct_a<Avx512, kNv, 10>,
                         gemm_ukernel_direct_a<Avx512, kNv, 11>, gemm_ukernel_direct_a<Avx512, kNv, 12>,
                         gemm_ukernel_direct_a<Avx512, kNv, 13>, gemm_ukernel_direct_a<Avx512, kNv, 14>},
    .direct_b_by_rows = {gemm_ukernel_direct_b<Avx512, kMr, kNv, 1>, gemm_ukernel_direct_b<Avx512, kMr, kNv, 2>,
                         gemm_ukernel_direct_b<Avx512, kMr, kNv, 3>, gemm_ukernel_direct_b<Avx512, kMr, kNv, 4>,
                         gemm_ukernel_direct_b<Avx512, kMr, kNv, 5>, gemm_ukernel_direct_b<Avx512, kMr, kNv, 6>,
                         gemm_ukernel_direct_b<Avx512, kMr, kNv, 7>, gemm_ukernel_direct_b<Avx512, kMr, kNv, 8>,
                         gemm_ukernel_direct_b<Avx512, kMr, kNv, 9>, gemm_ukernel_direct_b<Avx512, kMr, kNv, 10>,
                         gemm_ukernel_direct_b<Avx512, kMr, kNv, 11>, gemm_ukernel_direct_b<Avx512, kMr, kNv, 12>,
                         gemm_ukernel_direct_b<Avx512, kMr, kNv, 13>, gemm_ukernel_direct_b<Avx512, kMr, kNv, 14>},
    .direct_at_by_rows = {gemm_ukernel_direct_at<Avx512, kMr, kNv, 1>, gemm_ukernel_direct_at<Avx512, kMr, kNv, 2>,
                          gemm_ukernel_direct_at<Avx512, kMr, kNv, 3>, gemm_ukernel_direct_at<Avx512, kMr, kNv, 4>,
                          gemm_ukernel_direct_at<Avx512, kMr, kNv, 5>, gemm_ukernel_direct_at<Avx512, kMr, kNv, 6>,
                          gemm_ukernel_direct_at<Avx512, kMr, kNv, 7>, gemm_ukernel_direct_at<Avx512, kMr, kNv, 8>,
                          gemm_ukernel_direct_at<Avx512, kMr, kNv, 9>, gemm_ukernel_direct_at<Avx512, kMr, kNv, 10>,
                          gemm_ukernel_direct_at<Avx512, kMr, kNv, 11>, gemm_ukernel_direct_at<Avx512, kMr, kNv, 12>,
                          gemm_ukernel_direct_at<Avx512, kMr, kNv, 13>, gemm_ukernel_direct_at<Avx512, kMr, kNv, 14>},
    .rows_b_by_rows = {gemm_ukernel_rows_b<Avx512, kMr, kNv, 1>, gemm_ukernel_rows_b<Avx512, kMr, kNv, 2>,
                       gemm_ukernel_rows_b<Avx512, kMr, kNv, 3>, gemm_ukernel_rows_b<Avx512, kMr, kNv, 4>,
                       gemm_ukernel_rows_b<Avx512, kMr, kNv, 5>, gemm_ukernel_rows_b<Avx512, kMr, kNv, 6>,
                       gemm_ukernel_rows_b<Avx512, kMr, kNv, 7>, gemm_ukernel_rows_b<Avx512, kMr, kNv, 8>,
                       gemm_ukernel_rows_b<Avx512, kMr, kNv, 9>, gemm_ukernel_rows_b<Avx512, kMr, kNv, 10>,
                       gemm_ukernel_rows_b<Avx512, kMr, kNv, 11>, gemm_ukernel_rows_b<Avx512, kMr, kNv, 12>,
                       gemm_ukernel_rows_b<Avx512, kMr, kNv, 13>, gemm_ukernel_rows_b<Avx512, kMr, kNv, 14>},
    .rows_b_half_by_rows = {gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 1>, gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 2>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 3>, gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 4>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 5>, gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 6>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 7>, gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 8>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 9>, gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 10>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 11>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 12>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 13>,
                            gemm_ukernel_rows_b<Avx512, kMr, kNv / 2, 14>},
    .row_panels = row_panels<Avx512, kNv>,
    .gemv = gemv<Avx512>,
    .gemv_trans = gemv_trans<Avx512>,
    .store_transposed = store_transposed<Avx512>,
};

}  // namespace tessera::f32_gemm

// f32 GEMM kernels for AVX2 + FMA: a 6x16 micro-kernel (12 accumulators, 2 B vectors and a broadcast fill the
// 16 ymm registers) and the GEMV loops. Compiled with -mavx2 -mfma; used only when CPUID reports both.
#include <immintrin.h>

#include "kernels/f32-gemm/f32-gemm-ukernel-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::f32_gemm {
namespace {

struct Avx2 : Avx2FloatOps {
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static constexpr bool kTransposes = true;
  static constexpr bool kPrefetchPackedBIntoL2 = false;  // slower on Zen 3 (prefetch_packed_b_row)
  // transpose (8 x 8), load_n, store_n: Avx2FloatOps.
  static float reduce_add(Vec v) {
    const __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
    return _mm_cvtss_f32(_mm_add_ss(sum2, _mm_movehdup_ps(sum2)));
  }
};

constexpr int kMr = 6;
constexpr int kNv = 2;

}  // namespace

const UkernelSet kAvx2Set = {
    .name = "f32_gemm_ukernel_6x16__avx2",
    .mr = kMr,
    .nr = kNv * Avx2::kLanes,
    // Depth blocks of 384 (was 256; equal blocks, so K = 768 runs as 2 x 384, K = 3072 as 8): one C read-modify-
    // write pass in three less. Zen 3, one thread, with A in place in 16 KiB row blocks: BERT's QKV, FFN-up and
    // FFN-down micro-benchmarks 1-3% faster; per-node sums (three alternating runs) BERT-base 253.1 -> 251.7 ms,
    // ResNet-50 77.4 -> 77.2, MobileNetV2 8.04 -> 8.00.
    .kc = 384,
    .mc = 72,
    .nc = 256,
    .transposed_store_steps = 64,             // Zen 3, one thread: see pointwise_prefers_transposed
    .direct_b_max_reread_bytes = 512 * 1024,  // Zen 3 (512 KiB L2): see reads_b_in_place
    .direct_a_block_bytes = 16 * 1024,        // Zen 3 (32 KiB L1): see direct_a_block_rows
    .by_rows = {gemm_ukernel<Avx2, kMr, kNv, 1>, gemm_ukernel<Avx2, kMr, kNv, 2>, gemm_ukernel<Avx2, kMr, kNv, 3>,
                gemm_ukernel<Avx2, kMr, kNv, 4>, gemm_ukernel<Avx2, kMr, kNv, 5>, gemm_ukernel<Avx2, kMr, kNv, 6>},
    .direct_a_by_rows = {gemm_ukernel_direct_a<Avx2, kNv, 1>, gemm_ukernel_direct_a<Avx2, kNv, 2>,
                         gemm_ukernel_direct_a<Avx2, kNv, 3>, gemm_ukernel_direct_a<Avx2, kNv, 4>,
                         gemm_ukernel_direct_a<Avx2, kNv, 5>, gemm_ukernel_direct_a<Avx2, kNv, 6>},
    .direct_b_by_rows = {gemm_ukernel_direct_b<Avx2, kMr, kNv, 1>, gemm_ukernel_direct_b<Avx2, kMr, kNv, 2>,
                         gemm_ukernel_direct_b<Avx2, kMr, kNv, 3>, gemm_ukernel_direct_b<Avx2, kMr, kNv, 4>,
                         gemm_ukernel_direct_b<Avx2, kMr, kNv, 5>, gemm_ukernel_direct_b<Avx2, kMr, kNv, 6>},
    .direct_at_by_rows = {gemm_ukernel_direct_at<Avx2, kMr, kNv, 1>, gemm_ukernel_direct_at<Avx2, kMr, kNv, 2>,
                          gemm_ukernel_direct_at<Avx2, kMr, kNv, 3>, gemm_ukernel_direct_at<Avx2, kMr, kNv, 4>,
                          gemm_ukernel_direct_at<Avx2, kMr, kNv, 5>, gemm_ukernel_direct_at<Avx2, kMr, kNv, 6>},
    .rows_b_by_rows = {gemm_ukernel_rows_b<Avx2, kMr, kNv, 1>, gemm_ukernel_rows_b<Avx2, kMr, kNv, 2>,
                       gemm_ukernel_rows_b<Avx2, kMr, kNv, 3>, gemm_ukernel_rows_b<Avx2, kMr, kNv, 4>,
                       gemm_ukernel_rows_b<Avx2, kMr, kNv, 5>, gemm_ukernel_rows_b<Avx2, kMr, kNv, 6>},
    .rows_b_half_by_rows = {gemm_ukernel_rows_b<Avx2, kMr, kNv / 2, 1>, gemm_ukernel_rows_b<Avx2, kMr, kNv / 2, 2>,
                            gemm_ukernel_rows_b<Avx2, kMr, kNv / 2, 3>, gemm_ukernel_rows_b<Avx2, kMr, kNv / 2, 4>,
                            gemm_ukernel_rows_b<Avx2, kMr, kNv / 2, 5>, gemm_ukernel_rows_b<Avx2, kMr, kNv / 2, 6>},
    .row_panels = row_panels<Avx2, kNv>,
    .gemv = gemv<Avx2>,
    .gemv_trans = gemv_trans<Avx2>,
    .store_transposed = store_transposed<Avx2>,
};

// The AVX-512 kernel's tile shape (14x32) on AVX2 registers: it spills, so it is never chosen for speed; tests
// run it so the driver's packing and edge handling for that shape are checked on CPUs without AVX-512.
const UkernelSet kAvx2Shape14x32Set = {
    .name = "f32_gemm_ukernel_14x32__avx2_shape_test",
    .mr = 14,
    .nr = 32,
    .kc = 256,
    .mc = 126,
    .nc = 256,
    .transposed_store_steps = 8,  // as the AVX-512 set, whose tile shape it tests
    .direct_b_max_reread_bytes = INT64_MAX,
    .direct_a_block_bytes = 16 * 1024,  // as the 6x16 set, so the tests cover row blocks of the 14-row shape
    .by_rows = {gemm_ukernel<Avx2, 14, 4, 1>, gemm_ukernel<Avx2, 14, 4, 2>, gemm_ukernel<Avx2, 14, 4, 3>,
                gemm_ukernel<Avx2, 14, 4, 4>, gemm_ukernel<Avx2, 14, 4, 5>, gemm_ukernel<Avx2, 14, 4, 6>,
                gemm_ukernel<Avx2, 14, 4, 7>, gemm_ukernel<Avx2, 14, 4, 8>, gemm_ukernel<Avx2, 14, 4, 9>,
                gemm_ukernel<Avx2, 14, 4, 10>, gemm_ukernel<Avx2, 14, 4, 11>, gemm_ukernel<Avx2, 14, 4, 12>,
                gemm_ukernel<Avx2, 14, 4, 13>, gemm_ukernel<Avx2, 14, 4, 14>},
    .direct_a_by_rows = {gemm_ukernel_direct_a<Avx2, 4, 1>, gemm_ukernel_direct_a<Avx2, 4, 2>,
                         gemm_ukernel_direct_a<Avx2, 4, 3>, gemm_ukernel_direct_a<Avx2, 4, 4>,
                         gemm_ukernel_direct_a<Avx2, 4, 5>, gemm_ukernel_direct_a<Avx2, 4, 6>,
                         gemm_ukernel_direct_a<Avx2, 4, 7>, gemm_ukernel_direct_a<Avx2, 4, 8>,
                         gemm_ukernel_direct_a<Avx2, 4, 9>, gemm_ukernel_direct_a<Avx2, 4, 10>,
                         gemm_ukernel_direct_a<Avx2, 4, 11>, gemm_ukernel_direct_a<Avx2, 4, 12>,
                         gemm_ukernel_direct_a<Avx2, 4, 13>, gemm_ukernel_direct_a<Avx2, 4, 14>},
    .direct_b_by_rows = {gemm_ukernel_direct_b<Avx2, 14, 4, 1>, gemm_ukernel_direct_b<Avx2, 14, 4, 2>,
                         gemm_ukernel_direct_b<Avx2, 14, 4, 3>, gemm_ukernel_direct_b<Avx2, 14, 4, 4>,
                         gemm_ukernel_direct_b<Avx2, 14, 4, 5>, gemm_ukernel_direct_b<Avx2, 14, 4, 6>,
                         gemm_ukernel_direct_b<Avx2, 14, 4, 7>, gemm_ukernel_direct_b<Avx2, 14, 4, 8>,
                         gemm_ukernel_direct_b<Avx2, 14, 4, 9>, gemm_ukernel_direct_b<Avx2, 14, 4, 10>,
                         gemm_ukernel_direct_b<Avx2, 14, 4, 11>, gemm_ukernel_direct_b<Avx2, 14, 4, 12>,
                         gemm_ukernel_direct_b<Avx2, 14, 4, 13>, gemm_ukernel_direct_b<Avx2, 14, 4, 14>},
    .direct_at_by_rows = {gemm_ukernel_direct_at<Avx2, 14, 4, 1>, gemm_ukernel_direct_at<Avx2, 14, 4, 2>,
                          gemm_ukernel_direct_at<Avx2, 14, 4, 3>, gemm_ukernel_direct_at<Avx2, 14, 4, 4>,
                          gemm_ukernel_direct_at<Avx2, 14, 4, 5>, gemm_ukernel_direct_at<Avx2, 14, 4, 6>,
                          gemm_ukernel_direct_at<Avx2, 14, 4, 7>, gemm_ukernel_direct_at<Avx2, 14, 4, 8>,
                          gemm_ukernel_direct_at<Avx2, 14, 4, 9>, gemm_ukernel_direct_at<Avx2, 14, 4, 10>,
                          gemm_ukernel_direct_at<Avx2, 14, 4, 11>, gemm_ukernel_direct_at<Avx2, 14, 4, 12>,
                          gemm_ukernel_direct_at<Avx2, 14, 4, 13>, gemm_ukernel_direct_at<Avx2, 14, 4, 14>},
    .rows_b_by_rows = {gemm_ukernel_rows_b<Avx2, 14, 4, 1>, gemm_ukernel_rows_b<Avx2, 14, 4, 2>,
                       gemm_ukernel_rows_b<Avx2, 14, 4, 3>, gemm_ukernel_rows_b<Avx2, 14, 4, 4>,
                       gemm_ukernel_rows_b<Avx2, 14, 4, 5>, gemm_ukernel_rows_b<Avx2, 14, 4, 6>,
                       gemm_ukernel_rows_b<Avx2, 14, 4, 7>, gemm_ukernel_rows_b<Avx2, 14, 4, 8>,
                       gemm_ukernel_rows_b<Avx2, 14, 4, 9>, gemm_ukernel_rows_b<Avx2, 14, 4, 10>,
                       gemm_ukernel_rows_b<Avx2, 14, 4, 11>, gemm_ukernel_rows_b<Avx2, 14, 4, 12>,
                       gemm_ukernel_rows_b<Avx2, 14, 4, 13>, gemm_ukernel_rows_b<Avx2, 14, 4, 14>},
    .rows_b_half_by_rows = {gemm_ukernel_rows_b<Avx2, 14, 2, 1>, gemm_ukernel_rows_b<Avx2, 14, 2, 2>,
                            gemm_ukernel_rows_b<Avx2, 14, 2, 3>, gemm_ukernel_rows_b<Avx2, 14, 2, 4>,
                            gemm_ukernel_rows_b<Avx2, 14, 2, 5>, gemm_ukernel_rows_b<Avx2, 14, 2, 6>,
                            gemm_ukernel_rows_b<Avx2, 14, 2, 7>, gemm_ukernel_rows_b<Avx2, 14, 2, 8>,
                            gemm_ukernel_rows_b<Avx2, 14, 2, 9>, gemm_ukernel_rows_b<Avx2, 14, 2, 10>,
                            gemm_ukernel_rows_b<Avx2, 14, 2, 11>, gemm_ukernel_rows_b<Avx2, 14, 2, 12>,
                            gemm_ukernel_rows_b<Avx2, 14, 2, 13>, gemm_ukernel_rows_b<Avx2, 14, 2, 14>},
    .row_panels = row_panels<Avx2, 4>,
    .gemv = gemv<Avx2>,
    .gemv_trans = gemv_trans<Avx2>,
    .store_transposed = store_transposed<Avx2>,
};

}  // namespace tessera::f32_gemm

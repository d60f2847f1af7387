// q8-gemm for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them): a 4x16 tile over int16
// operands with the zero points subtracted, two depth steps per vpmaddwd. Exact: |A - za|, |B - zb| <= 255, so
// each pair sum stays below 2^17 (vpmaddubsw would saturate int16 and is never used). Four rows, not six: without
// a fused multiply-add (AVX2 has no vpdpwssd), every vpmaddwd needs a temporary register beside its accumulator,
// and at 6x16 (12 accumulators, 2 B registers, the broadcast and the temporary: all 16) GCC kept accumulators on
// the stack, each depth step a store and a reload in their chains. Measured on an AMD EPYC Zen 3 (Q8Gemm
// micro-benchmark, s32 output): BERT-base's FFN-up product 97 -> 135 GOP/s (5x16: 116), ResNet-50's 3x3 84 -> 116.
#include "kernels/q8-gemm/q8-gemm-avx2-traits.h"

namespace tessera::q8gemm {
#if defined(__x86_64__)
namespace {

#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC optimize("no-trapping-math")
struct Avx2 : Avx2Int32Ops {
  static constexpr bool kWide = true;
  static Vec dot(Vec acc, Vec a, Vec b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
};
#pragma GCC pop_options

constexpr int kMr = 4;
constexpr int kNv = 2;

template <int Rows>
constexpr TileFn kTile = tile_simd<Avx2, kMr, kNv, Rows>;

}  // namespace

const Q8GemmSet kAvx2Set = {
    .name = "q8_gemm_ukernel_4x16__avx2",
    .mr = kMr,
    .nr = kNv * Avx2::kLanes,
    .group = 2,
    .group_align = 1,
    .wide = true,
    .by_rows = {kTile<1>, kTile<2>, kTile<3>, kTile<4>},
    .pack_a = pack_a_wide<kMr, 2>,
    .row_sums = nullptr,
    .requantize = requantize,
    .requantize_float_sums = requantize_float_sums,
    .requantize_float_sums_channels = requantize_float_sums_channels,
    .requantize_channels = requantize_channels,
    .narrow_b = &kAvx2B7Set,
    .narrow_a = &kAvx2A7Set,
    .requantizes_in_registers = true,
};
#endif
}  // namespace tessera::q8gemm

// q8-gemm for AVX2 over a B whose bytes fit in 7 bits (compiled with -mavx2 -mfma; used only when CPUID reports
// them and the CPU has no VNNI): a 4x16 tile of uint8 A' x int8 B' with B' in [-64, 64], one vpmaddubsw, one
// vpmaddwd against ones and one vpaddd per 4 depth steps of 8 columns, the zero-point terms corrected by row and
// column sums as in the VNNI tiles. vpmaddubsw saturates its int16 pair sums, which B' in [-64, 64] keeps from
// happening (|255 * 64 * 2| = 32640 <= 32767), so the sums are exact, as every variant's. Weights quantized with a
// reduced range (onnxruntime's and tessera quantize's --reduce-range: int8 in [-64, 64], uint8 in [0, 127]) take
// it; pack_q8_gemm_b chooses it where the AVX2 tile would run and every B' fits (Q8GemmSet::narrow_b).
// The same tile is exact the other way round too, A' in [0, 128] under any int8 B' (2 * 128 * 127 = 32512 and
// 2 * 128 * -128 = -32768 fit int16): kAvx2A7Set, B' shifted by 128 as usual, which pack_q8_gemm_b_for_narrow_a
// takes for a caller whose A holds reduced-range weights (QLinearConv's NCHW path: the weights are A there).
#include "kernels/q8-gemm/q8-gemm-avx2-traits.h"

namespace tessera::q8gemm {
#if defined(__x86_64__)
namespace {

#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC optimize("no-trapping-math")
struct Avx2B7 : Avx2Int32Ops {
  static constexpr bool kWide = false;
  static Vec dot(Vec acc, Vec a, Vec b) {
    const Vec pairs = _mm256_maddubs_epi16(a, b);  // exact: B' in [-64, 64], or A' in [0, 128]
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
};
#pragma GCC pop_options

constexpr int kMr = 4;
constexpr int kNv = 2;

template <int Rows>
constexpr TileFn kTile = tile_simd<Avx2B7, kMr, kNv, Rows>;

// The vpmaddubsw tile's table, under either exactness condition (see the top of the file).
constexpr Q8GemmSet vpmaddubsw_set(const char* name, int32_t unsigned_b_shift) {
  return {
      .name = name,
      .mr = kMr,
      .nr = kNv * Avx2B7::kLanes,
      .group = 4,
      .group_align = 1,
      .wide = false,
      .by_rows = {kTile<1>, kTile<2>, kTile<3>, kTile<4>},
      .pack_a = pack_a_bytes<kMr>,
      .row_sums = row_sums_sad_avx2,
      .requantize = requantize,
      .requantize_float_sums = requantize_float_sums,
      .requantize_float_sums_channels = requantize_float_sums_channels,
      .requantize_channels = requantize_channels,
      .unsigned_b_shift = unsigned_b_shift,
      .requantizes_in_registers = true,
  };
}

}  // namespace

const Q8GemmSet kAvx2B7Set = vpmaddubsw_set("q8_gemm_b7_ukernel_4x16__avx2", 64);   // B' in [-64, 64]
const Q8GemmSet kAvx2A7Set = vpmaddubsw_set("q8_gemm_a7_ukernel_4x16__avx2", 128);  // A' in [0, 128]
#endif
}  // namespace tessera::q8gemm

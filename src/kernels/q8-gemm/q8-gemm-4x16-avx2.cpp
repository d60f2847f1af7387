// q8-gemm for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them): a 4x16 tile over int16
// operands with the zero points subtracted, two depth steps per vpmaddwd. Exact: |A - za|, |B - zb| <= 255, so
// each pair sum stays below 2^17 (vpmaddubsw would saturate int16 and is never used). Four rows, not six: without
// a fused multiply-add (AVX2 has no vpdpwssd), every vpmaddwd needs a temporary register beside its accumulator,
// and at 6x16 (12 accumulators, 2 B registers, the broadcast and the temporary: all 16) GCC kept accumulators on
// the stack, each depth step a store and a reload in their chains. Measured on an AMD EPYC Zen 3 (Q8Gemm
// micro-benchmark, s32 output): BERT-base's FFN-up product 97 -> 135 GOP/s (5x16: 116), ResNet-50's 3x3 84 -> 116.
//
// The same tile also runs over a B kept as 8-bit B' = B - zb (q8_gemm_b8_ukernel_4x16__avx2), each B register loaded
// as 16 bytes and widened by vpmovsxbw: the same exact sums from half the packed bytes. A GEMV-like product (one to a
// few rows of A, as a recurrent step's h R^T) streams all of B per call and is bound by where B lives: INT8
// lstm_speech's 256 x 1024 recurrent weights are 512 KiB as int16, past a Zen 3 core's L2, and 256 KiB as bytes
// (Q8Gemm micro-benchmark, minima on Zen 3: that step 7.4 -> 5.7 us; BERT-base FFN-up 4430 -> 4091 us, its QKV and
// the step at batch 8 level). pack_q8_gemm_b chooses it (Q8GemmSet::byte_b) for a B whose every B - zb fits int8
// by its type and zero points alone: int8 B with zero point 0 (symmetric weights, as onnxruntime's and tessera
// quantize's int8 weights are) or uint8 B with 128.
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
// B' as bytes: two int8 depth steps per column, widened to the int16 pair as they are loaded.
struct Avx2ByteB : Avx2 {
  static constexpr int kBLaneBytes = 2;
  static Vec load(const uint8_t* p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};
#pragma GCC pop_options

constexpr int kMr = 4;
constexpr int kNv = 2;

template <typename Isa, int Rows>
constexpr TileFn kTile = tile_simd<Isa, kMr, kNv, Rows>;

// The table of the int16 tile over the B elements Isa loads.
template <typename Isa>
constexpr Q8GemmSet int16_tile_set(const char* name, const Q8GemmSet* narrow_b, const Q8GemmSet* narrow_a,
                                   const Q8GemmSet* byte_b) {
  return {
      .name = name,
      .mr = kMr,
      .nr = kNv * Isa::kLanes,
      .group = 2,
      .group_align = 1,
      .wide = true,
      .by_rows = {kTile<Isa, 1>, kTile<Isa, 2>, kTile<Isa, 3>, kTile<Isa, 4>},
      .pack_a = pack_a_wide<kMr, 2>,
      .row_sums = nullptr,
      .requantize = requantize,
      .requantize_float_sums = requantize_float_sums,
      .requantize_float_sums_channels = requantize_float_sums_channels,
      .requantize_channels = requantize_channels,
      .narrow_b = narrow_b,
      .narrow_a = narrow_a,
      .requantizes_in_registers = true,
      .byte_b_elements = b_lane_bytes<Isa>() == 2,
      .byte_b = byte_b,
  };
}

}  // namespace

const Q8GemmSet kAvx2ByteBSet = int16_tile_set<Avx2ByteB>("q8_gemm_b8_ukernel_4x16__avx2", nullptr, nullptr, nullptr);
const Q8GemmSet kAvx2Set =
    int16_tile_set<Avx2>("q8_gemm_ukernel_4x16__avx2", &kAvx2B7Set, &kAvx2A7Set, &kAvx2ByteBSet);
#endif
}  // namespace tessera::q8gemm

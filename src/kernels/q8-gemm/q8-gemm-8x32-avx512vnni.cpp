// q8-gemm for AVX-512 VNNI (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; used only when CPUID
// reports AVX-512 F, BW, VL and VNNI): an 8x32 tile of uint8 A' x int8 B', one vpdpbusd per 4 depth steps of
// 16 columns (16 accumulators, 2 B registers, 1 broadcast).
#include "kernels/q8-gemm/q8-gemm-avx512vnni-traits.h"

namespace tessera::q8gemm {
#if defined(__x86_64__)
namespace {

constexpr int kMr = 8;
constexpr int kNv = 2;

template <int Rows>
constexpr TileFn kTile = tile_simd<Avx512Vnni, kMr, kNv, Rows>;

}  // namespace

const Q8GemmSet kAvx512VnniSet = {
    .name = "q8_gemm_ukernel_8x32__avx512vnni",
    .mr = kMr,
    .nr = kNv * Avx512Vnni::kLanes,
    .group = 4,
    .group_align = 1,
    .wide = false,
    .by_rows = {kTile<1>, kTile<2>, kTile<3>, kTile<4>, kTile<5>, kTile<6>, kTile<7>, kTile<8>},
    .pack_a = pack_a_bytes<kMr>,
    .row_sums = row_sums_sad,
    .requantize = requantize,
    .requantize_float_sums = requantize_float_sums,
    .requantize_float_sums_channels = requantize_float_sums_channels,
    .requantize_channels = requantize_channels,
};
#endif
}  // namespace tessera::q8gemm

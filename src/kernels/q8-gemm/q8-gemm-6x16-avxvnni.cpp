// q8-gemm for AVX-VNNI (compiled with -mavx2 -mfma -mavxvnni; used only when CPUID reports AVX2, FMA and AVX-VNNI,
// cpu_has_avx_vnni(): the 256-bit VNNI of CPUs such as Alder Lake that have no AVX-512): a 6x16 tile of uint8 A'
// x int8 B', one vpdpbusd (VEX) per 4 depth steps of 8 columns (12 accumulators, 2 B registers, 1 broadcast), the
// zero-point terms corrected by row and column sums as in the AVX-512 VNNI tile. A is packed (its row sums with
// it).
#include "kernels/q8-gemm/q8-gemm-avx2-traits.h"

namespace tessera::q8gemm {
#if defined(__x86_64__)
namespace {

#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC optimize("no-trapping-math")
struct AvxVnni : Avx2Int32Ops {
  static constexpr bool kWide = false;
  static Vec dot(Vec acc, Vec a, Vec b) { return _mm256_dpbusd_avx_epi32(acc, a, b); }
};
#pragma GCC pop_options

constexpr int kMr = 6;
constexpr int kNv = 2;

template <int Rows>
constexpr TileFn kTile = tile_simd<AvxVnni, kMr, kNv, Rows>;

}  // namespace

const Q8GemmSet kAvxVnniSet = {
    .name = "q8_gemm_ukernel_6x16__avxvnni",
    .mr = kMr,
    .nr = kNv * AvxVnni::kLanes,
    .group = 4,
    .group_align = 1,
    .wide = false,
    .by_rows = {kTile<1>, kTile<2>, kTile<3>, kTile<4>, kTile<5>, kTile<6>},
    .pack_a = pack_a_bytes<kMr>,
    .row_sums = nullptr,
    .requantize = requantize,
    .requantize_float_sums = requantize_float_sums,
    .requantize_float_sums_channels = requantize_float_sums_channels,
    .requantize_channels = requantize_channels,
    .requantizes_in_registers = true,
};
#endif
}  // namespace tessera::q8gemm

// q8-gemm for any CPU (the baseline ISA of the build): a 4x8 tile over int16 operands with the zero points
// subtracted, one depth step per group.
#include "kernels/q8-gemm/q8-gemm-impl.h"

namespace tessera::q8gemm {
namespace {
constexpr int kMr = 4;
constexpr int kNr = 8;
}  // namespace

const Q8GemmSet kPortableSet = {
    .name = "q8_gemm_ukernel_4x8__portable",
    .mr = kMr,
    .nr = kNr,
    .group = 1,
    .group_align = 1,
    .wide = true,
    .by_rows = {tile_wide_scalar<kMr, kNr, 1>, tile_wide_scalar<kMr, kNr, 2>, tile_wide_scalar<kMr, kNr, 3>,
                tile_wide_scalar<kMr, kNr, 4>},
    .pack_a = pack_a_wide<kMr, 1>,
    .row_sums = nullptr,
    .requantize = requantize,
    .requantize_float_sums = requantize_float_sums,
    .requantize_float_sums_channels = requantize_float_sums_channels,
    .requantize_channels = requantize_channels,
};

}  // namespace tessera::q8gemm

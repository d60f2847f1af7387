// q8-dwconv's portable variant: the same padded plane, every output a plain sum of its nine taps in int32.
#include "kernels/q8-dwconv/q8-dwconv-table.h"

namespace tessera::q8_dwconv {
namespace {

void run_portable(const Window2d& w, const uint8_t* x, bool x_signed, int32_t x_zero_point, const int16_t* weights,
                  int32_t bias, int32_t* sums, void* scratch) {
  const PlaneLayout layout = plane_layout(w);
  uint8_t* const plane = static_cast<uint8_t*>(scratch);
  fill_plane(w, layout, x, static_cast<uint8_t>(x_zero_point), plane);
  const uint32_t folded = static_cast<uint32_t>(folded_bias(bias, x_zero_point, weights));
  for (int64_t oy = 0; oy < w.out_h; ++oy) {
    for (int64_t ox = 0; ox < w.out_w; ++ox) {
      uint32_t sum = folded;
      for (int64_t dy = 0; dy < 3; ++dy) {
        const uint8_t* row = plane + (oy * w.stride_h + dy) * layout.width + ox * w.stride_w;
        for (int64_t dx = 0; dx < 3; ++dx) {
          const int32_t value = x_signed ? static_cast<int8_t>(row[dx]) : row[dx];
          sum += static_cast<uint32_t>(static_cast<int32_t>(weights[dy * 3 + dx]) * value);
        }
      }
      sums[oy * w.out_w + ox] = static_cast<int32_t>(sum);
    }
  }
}

void run_nhwc_portable(const Window2d& w, int64_t channels, int64_t ld, const uint8_t* x, bool x_signed,
                       const int16_t* weights, int32_t* sums, void* /*scratch*/) {
  const int64_t cols = (w.out_w - 1) * w.stride_w + 3;
  for (int64_t oy = 0; oy < w.out_h; ++oy) {
    for (int64_t ox = 0; ox < w.out_w; ++ox) {
      int32_t* out = sums + (oy * w.out_w + ox) * ld;
      for (int64_t c = 0; c < ld; ++c) {
        uint32_t sum = 0;
        for (int64_t tap = 0; c < channels && tap < 9; ++tap) {
          const uint8_t byte = x[((oy * w.stride_h + tap / 3) * cols + ox * w.stride_w + tap % 3) * ld + c];
          const int32_t value = x_signed ? static_cast<int8_t>(byte) : byte;
          sum += static_cast<uint32_t>(static_cast<int32_t>(weights[c * 9 + tap]) * value);
        }
        out[c] = static_cast<int32_t>(sum);
      }
    }
  }
}

}  // namespace

const Q8DwConvSet kPortableSet = {"q8_dwconv3x3__portable", run_portable, run_nhwc_portable};
}  // namespace tessera::q8_dwconv

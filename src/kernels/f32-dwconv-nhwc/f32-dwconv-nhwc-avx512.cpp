// f32-dwconv-nhwc for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports
// them): 16 channels per register, k-register masks for the channel tail.
#include <immintrin.h>

#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::f32_dwconv_nhwc {
#if defined(__x86_64__)
namespace {

// 3x3 blocks of 32 channels: 18 weight registers, and at stride 1 four outputs (8 accumulators) per step.
struct Avx512 : Avx512FloatOps {
  static constexpr int kVectors = 2;
  static constexpr int kPixelsStride1 = 4;
  static constexpr int kPixelsStride2 = 2;
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
};

}  // namespace

const DwConvNhwcSet kAvx512Set = {"f32_dwconv_nhwc__avx512", dwconv_nhwc<Avx512>};
#endif
}  // namespace tessera::f32_dwconv_nhwc

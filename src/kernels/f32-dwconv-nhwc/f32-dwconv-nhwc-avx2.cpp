// f32-dwconv-nhwc for AVX2+FMA (compiled with -mavx2 -mfma; used only when CPUID reports them): 8 channels per
// register; a mask is a ymm whose lanes are all ones (on) or zero (vmaskmovps reads and writes only the on lanes,
// and never faults on the others).
#include <immintrin.h>

#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::f32_dwconv_nhwc {
#if defined(__x86_64__)
namespace {

// 3x3 blocks of one register (9 weight registers of the 16); at stride 1 four outputs per step.
struct Avx2 : Avx2FloatOps {
  static constexpr int kVectors = 1;
  static constexpr int kPixelsStride1 = 4;
  static constexpr int kPixelsStride2 = 2;
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store_masked(float* p, Mask m, Vec v) { _mm256_maskstore_ps(p, m, v); }
};

}  // namespace

const DwConvNhwcSet kAvx2Set = {"f32_dwconv_nhwc__avx2", dwconv_nhwc<Avx2>};
#endif
}  // namespace tessera::f32_dwconv_nhwc

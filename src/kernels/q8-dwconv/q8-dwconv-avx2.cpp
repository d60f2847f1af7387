// q8-dwconv for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them): 8 int32 lanes per register.
#include <immintrin.h>

#include "kernels/q8-dwconv/q8-dwconv-impl.h"

namespace tessera::q8_dwconv {
#if defined(__x86_64__)
namespace {

struct Avx2 {
  using V = __m256i;
  static constexpr int64_t kLanes = 8;
  template <bool Signed>
  static V load(const uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return Signed ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
  }
  static V set1(int32_t v) { return _mm256_set1_epi32(v); }
  static V madd_add(V acc, V x, V w) { return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w)); }
  static void store(int32_t* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  // unpacklo/hi interleave within 128-bit halves: lo = e0 o0 e1 o1 | e4 o4 e5 o5, hi = e2 o2 e3 o3 | e6 o6 e7 o7.
  static void store_interleaved(int32_t* p, V even, V odd) {
    const __m256i lo = _mm256_unpacklo_epi32(even, odd), hi = _mm256_unpackhi_epi32(even, odd);
    store(p, _mm256_permute2x128_si256(lo, hi, 0x20));
    store(p + 8, _mm256_permute2x128_si256(lo, hi, 0x31));
  }
  static V zero() { return _mm256_setzero_si256(); }
  static V load_s16(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static V unpacklo16(V a, V b) { return _mm256_unpacklo_epi16(a, b); }
  static V unpackhi16(V a, V b) { return _mm256_unpackhi_epi16(a, b); }
  static void store_halves(int32_t* p, V lo, V hi) {
    store(p, _mm256_permute2x128_si256(lo, hi, 0x20));
    store(p + 8, _mm256_permute2x128_si256(lo, hi, 0x31));
  }
};

}  // namespace

const Q8DwConvSet kAvx2Set = {"q8_dwconv3x3__avx2", run_3x3<Avx2>, run_nhwc<Avx2>};
#endif
}  // namespace tessera::q8_dwconv

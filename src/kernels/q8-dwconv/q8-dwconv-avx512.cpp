// q8-dwconv for AVX-512 BW (compiled with -mavx512f -mavx512bw -mavx512vl; used only when CPUID reports them): 16
// int32 lanes per register.
#include <immintrin.h>

#include "kernels/q8-dwconv/q8-dwconv-impl.h"

namespace tessera::q8_dwconv {
#if defined(__x86_64__)
namespace {

struct Avx512 {
  using V = __m512i;
  static constexpr int64_t kLanes = 16;
  template <bool Signed>
  static V load(const uint8_t* p) {
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return Signed ? _mm512_cvtepi8_epi16(bytes) : _mm512_cvtepu8_epi16(bytes);
  }
  static V set1(int32_t v) { return _mm512_set1_epi32(v); }
  static V madd_add(V acc, V x, V w) { return _mm512_add_epi32(acc, _mm512_madd_epi16(x, w)); }
  static void store(int32_t* p, V v) { _mm512_storeu_si512(p, v); }
  // unpacklo/hi interleave within 128-bit quarters: lo = (e0 o0 e1 o1)(e4 o4 e5 o5)(e8 ..)(e12 ..), hi = (e2 o2 e3
  // o3)(e6 ..)(e10 ..)(e14 ..); the quarters then go lo0 hi0 lo1 hi1 and lo2 hi2 lo3 hi3 (64-bit indices; 8 + i
  // is hi's lane i).
  static void store_interleaved(int32_t* p, V even, V odd) {
    // The all-lanes maskz forms: the plain intrinsics trip GCC 12's -Wmaybe-uninitialized (their undefined sources).
    constexpr __mmask16 kAll = 0xFFFF;
    const __m512i lo = _mm512_maskz_unpacklo_epi32(kAll, even, odd), hi = _mm512_maskz_unpackhi_epi32(kAll, even, odd);
    store(p, _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi));
    store(p + 16, _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), hi));
  }
  static V zero() { return _mm512_setzero_si512(); }
  static V load_s16(const int16_t* p) { return _mm512_loadu_si512(p); }
  static V unpacklo16(V a, V b) { return _mm512_maskz_unpacklo_epi16(0xFFFFFFFF, a, b); }
  static V unpackhi16(V a, V b) { return _mm512_maskz_unpackhi_epi16(0xFFFFFFFF, a, b); }
  // The 128-bit quarters of lo and hi alternating: lo0 hi0 lo1 hi1, then lo2 hi2 lo3 hi3 (64-bit indices).
  static void store_halves(int32_t* p, V lo, V hi) {
    store(p, _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi));
    store(p + 16, _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), hi));
  }
};

}  // namespace

const Q8DwConvSet kAvx512Set = {"q8_dwconv3x3__avx512", run_3x3<Avx512>, run_nhwc<Avx512>};
#endif
}  // namespace tessera::q8_dwconv

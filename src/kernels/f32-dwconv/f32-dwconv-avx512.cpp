// f32-dwconv for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports them).
#include <immintrin.h>

#include "kernels/f32-dwconv/f32-dwconv-x86-select.h"

namespace tessera::f32_dwconv {
#if defined(__x86_64__)
namespace {

// The register traits of f32-dwconv-direct-impl.h: one zmm of 16 floats, k-register masks.
struct Avx512 {
  static constexpr int kLanes = 16;
  using V = __m512;
  using M = __mmask16;
  static V set1(float v) { return _mm512_set1_ps(v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  // Compares are false for NaN, so a NaN sum stays NaN, as in the portable loop.
  static V clamp(V v, V lo, V hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
  }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load_masked(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store_first(float* p, int n, V v) { _mm512_mask_storeu_ps(p, range(0, n), v); }
  static M range(int lo, int hi) { return static_cast<M>(((1u << hi) - 1u) & ~((1u << lo) - 1u)); }
  static M none() { return 0; }
  static M mask_bits(uint32_t bits) { return static_cast<M>(bits); }
  static V even(V a, V b) {
    const __m512i index = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, index, b);
  }
  static V odd(V a, V b) {
    const __m512i index = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(a, index, b);
  }
  static void split_columns(const float* p, V& even_columns, V& odd_columns) {
    const V a = load(p), b = load(p + kLanes);
    even_columns = even(a, b);
    odd_columns = odd(a, b);
  }
  static V zero() { return _mm512_setzero_ps(); }
  template <int n>
  static V align(V hi, V lo) {
    // The all-lanes maskz form: the plain intrinsic trips GCC 12's -Wmaybe-uninitialized (its undefined source).
    return _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(0xFFFF, _mm512_castps_si512(hi), _mm512_castps_si512(lo), n));
  }
};

}  // namespace

const DwConvSet kAvx512Set = {"f32_dwconv__avx512", select_plane<Avx512>, select_channels<Avx512>};
#endif
}  // namespace tessera::f32_dwconv

// x32-transpose for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them): 8x8 tiles in ymm
// registers, vmaskmov edges.
#include <immintrin.h>

#include "kernels/x32-transpose/x32-transpose-impl.h"

namespace tessera::x32_transpose {
#if defined(__x86_64__)
namespace {

struct Avx2 {
  static constexpr int kLanes = 8;
  using V = __m256i;
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zero() { return _mm256_setzero_si256(); }
  static V load(const uint32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static V load_n(const uint32_t* p, int n) { return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), first(n)); }
  static void store(uint32_t* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void store_n(uint32_t* p, V v, int n) { _mm256_maskstore_epi32(reinterpret_cast<int*>(p), first(n), v); }
  // Pairs of rows interleaved by 32 then 64 bits (each 128-bit lane then holds a 4x4 tile transposed), then the
  // 128-bit halves of rows 4 apart exchanged.
  static void transpose(V (&r)[8]) {
    V t[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
      r[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
      r[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
      r[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int q = 0; q < 4; ++q) {
      t[q] = _mm256_permute2x128_si256(r[q], r[q + 4], 0x20);
      t[q + 4] = _mm256_permute2x128_si256(r[q], r[q + 4], 0x31);
    }
    for (int q = 0; q < 8; ++q) r[q] = t[q];
  }
};

}  // namespace

const TransposeSet kAvx2Set = {"x32_transpose__avx2", transpose<Avx2>};
#endif
}  // namespace tessera::x32_transpose

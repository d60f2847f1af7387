// x32-transpose for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports
// them): 16x16 tiles in zmm registers, k-masked edges.
#include <immintrin.h>

#include "kernels/x32-transpose/x32-transpose-impl.h"

namespace tessera::x32_transpose {
#if defined(__x86_64__)
namespace {

struct Avx512 {
  static constexpr int kLanes = 16;
  using V = __m512i;
  static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_si512(); }
  static V load(const uint32_t* p) { return _mm512_loadu_si512(p); }
  static V load_n(const uint32_t* p, int n) { return _mm512_maskz_loadu_epi32(first(n), p); }
  static void store(uint32_t* p, V v) { _mm512_storeu_si512(p, v); }
  static void store_n(uint32_t* p, V v, int n) { _mm512_mask_storeu_epi32(p, first(n), v); }
  // The masked forms with a full mask: GCC 12's plain unpack / shuffle intrinsics trip -Wmaybe-uninitialized.
  static V unpacklo32(V a, V b) { return _mm512_mask_unpacklo_epi32(a, 0xFFFF, a, b); }
  static V unpackhi32(V a, V b) { return _mm512_mask_unpackhi_epi32(a, 0xFFFF, a, b); }
  static V unpacklo64(V a, V b) { return _mm512_mask_unpacklo_epi64(a, 0xFF, a, b); }
  static V unpackhi64(V a, V b) { return _mm512_mask_unpackhi_epi64(a, 0xFF, a, b); }
  template <int kImm>
  static V shuffle_lanes(V a, V b) {
    return _mm512_mask_shuffle_i32x4(a, 0xFFFF, a, b, kImm);
  }
  // Pairs of rows interleaved by 32 then 64 bits (each 128-bit lane then holds a 4x4 tile transposed), then the
  // 128-bit lanes gathered across rows 4 and 8 apart.
  static void transpose(V (&r)[16]) {
    V t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = unpacklo32(r[i], r[i + 1]);
      t[i + 1] = unpackhi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = unpacklo64(t[i], t[i + 2]);
      r[i + 1] = unpackhi64(t[i], t[i + 2]);
      r[i + 2] = unpacklo64(t[i + 1], t[i + 3]);
      r[i + 3] = unpackhi64(t[i + 1], t[i + 3]);
    }
    for (int h = 0; h < 16; h += 8) {
      for (int q = 0; q < 4; ++q) {
        t[h + q] = shuffle_lanes<0x88>(r[h + q], r[h + q + 4]);
        t[h + q + 4] = shuffle_lanes<0xDD>(r[h + q], r[h + q + 4]);
      }
    }
    for (int q = 0; q < 8; ++q) {
      r[q] = shuffle_lanes<0x88>(t[q], t[q + 8]);
      r[q + 8] = shuffle_lanes<0xDD>(t[q], t[q + 8]);
    }
  }
};

}  // namespace

const TransposeSet kAvx512Set = {"x32_transpose__avx512", transpose<Avx512>};
#endif
}  // namespace tessera::x32_transpose

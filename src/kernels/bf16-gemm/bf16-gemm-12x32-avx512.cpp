// bf16-gemm for AVX-512 F without BF16 (compiled with -mavx512f -mavx512bw -mavx512vl -mfma): a 12x32 tile, each
// pair of depth steps widened to float32 and accumulated with two FMAs (24 accumulators, 4 B registers, 2 A).
#include <immintrin.h>

#include "kernels/bf16-gemm/bf16-gemm-impl.h"

namespace tessera::bf16gemm {
#if defined(__x86_64__)
namespace {

struct Pair {
  __m512 low, high;
};

struct Avx512 {
  using Vec = __m512;
  using AVec = Pair;
  using BVec = Pair;
  static constexpr int kLanes = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float v) { return _mm512_set1_ps(v); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  // The masked forms with a full mask: GCC 12's plain _mm512_min_ps / _mm512_max_ps trip -Wmaybe-uninitialized.
  static Vec min(Vec a, Vec b) { return _mm512_mask_min_ps(b, 0xFFFF, a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_mask_max_ps(b, 0xFFFF, a, b); }
  static BVec load_b(const uint16_t* p) {
    const __m512i pairs = _mm512_loadu_si512(p);
    // The masked shift with a full mask: GCC 12's plain _mm512_slli_epi32 trips -Wmaybe-uninitialized.
    return {_mm512_castsi512_ps(_mm512_mask_slli_epi32(pairs, 0xFFFF, pairs, 16)),
            _mm512_castsi512_ps(_mm512_and_si512(pairs, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))))};
  }
  static AVec broadcast_a(uint32_t pair) { return {_mm512_set1_ps(pair_low(pair)), _mm512_set1_ps(pair_high(pair))}; }
  static Vec dot(Vec acc, const AVec& a, const BVec& b) {
    return _mm512_fmadd_ps(a.high, b.high, _mm512_fmadd_ps(a.low, b.low, acc));
  }
};

}  // namespace

const Bf16GemmSet kAvx512Set = make_set<Avx512, 12, 2>("bf16_gemm_ukernel_12x32__avx512");
#endif
}  // namespace tessera::bf16gemm

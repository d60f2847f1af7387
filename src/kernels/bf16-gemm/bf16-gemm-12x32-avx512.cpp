// bf16-gemm for AVX-512 F without BF16 (compiled with -mavx512f -mavx512bw -mavx512vl -mfma): a 12x32 tile, each
// pair of depth steps widened to float32 and accumulated with two FMAs (24 accumulators, 4 B registers, 2 A).
#include <immintrin.h>

#include "kernels/bf16-gemm/bf16-gemm-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::bf16gemm {
#if defined(__x86_64__)
namespace {

struct Pair {
  __m512 low, high;
};

struct Avx512 : Avx512FloatOps {
  using AVec = Pair;
  using BVec = Pair;
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

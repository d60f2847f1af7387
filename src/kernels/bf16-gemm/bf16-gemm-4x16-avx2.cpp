// bf16-gemm for AVX2 + FMA (compiled with -mavx2 -mfma): a 4x16 tile, each pair of depth steps widened to float32
// and accumulated with two FMAs (8 accumulators, 4 B registers, 2 A).
#include <immintrin.h>

#include "kernels/bf16-gemm/bf16-gemm-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::bf16gemm {
#if defined(__x86_64__)
namespace {

struct Pair {
  __m256 low, high;
};

struct Avx2 : Avx2FloatOps {
  using AVec = Pair;
  using BVec = Pair;
  static BVec load_b(const uint16_t* p) {
    const __m256i pairs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {_mm256_castsi256_ps(_mm256_slli_epi32(pairs, 16)),
            _mm256_castsi256_ps(_mm256_and_si256(pairs, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))))};
  }
  static AVec broadcast_a(uint32_t pair) { return {_mm256_set1_ps(pair_low(pair)), _mm256_set1_ps(pair_high(pair))}; }
  static Vec dot(Vec acc, const AVec& a, const BVec& b) {
    return _mm256_fmadd_ps(a.high, b.high, _mm256_fmadd_ps(a.low, b.low, acc));
  }
};

}  // namespace

const Bf16GemmSet kAvx2Set = make_set<Avx2, 4, 2>("bf16_gemm_ukernel_4x16__avx2");
#endif
}  // namespace tessera::bf16gemm

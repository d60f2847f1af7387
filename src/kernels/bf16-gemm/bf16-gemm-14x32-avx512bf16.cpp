// bf16-gemm for AVX-512 BF16 (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16; used only when CPUID
// reports AVX-512 F, BW, VL and BF16): a 14x32 tile, one vdpbf16ps per pair of depth steps of 16 columns
// (28 accumulators, 2 B registers, 1 broadcast A pair).
#include <immintrin.h>

#include "kernels/bf16-gemm/bf16-gemm-impl.h"
#include "kernels/float_register_ops.h"

namespace tessera::bf16gemm {
#if defined(__x86_64__)
namespace {

struct Avx512Bf16 : Avx512FloatOps {
  using AVec = __m512i;
  using BVec = __m512i;
  static BVec load_b(const uint16_t* p) { return _mm512_loadu_si512(p); }
  static AVec broadcast_a(uint32_t pair) { return _mm512_set1_epi32(static_cast<int>(pair)); }
  // GCC 12's __m512bh is a vector of 32 shorts: a same-sized vector cast reinterprets the bits.
  static Vec dot(Vec acc, AVec a, BVec b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
};

}  // namespace

const Bf16GemmSet kAvx512Bf16Set = make_set<Avx512Bf16, 14, 2>("bf16_gemm_ukernel_14x32__avx512bf16");
#endif
}  // namespace tessera::bf16gemm

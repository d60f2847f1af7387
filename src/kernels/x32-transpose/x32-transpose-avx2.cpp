// x32-transpose for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them): 8x8 tiles in ymm
// registers, vmaskmov edges.
#include <immintrin.h>

#include "kernels/float_register_ops.h"
#include "kernels/x32-transpose/x32-transpose-impl.h"

namespace tessera::x32_transpose {
#if defined(__x86_64__)
namespace {

// The 8 x 8 register transpose of Avx2FloatOps on the elements' bits (loads, stores and shuffles of float
// registers move any 32-bit payload unchanged).
struct Avx2 : Avx2FloatOps {
  using V = Vec;
  static const float* f(const uint32_t* p) { return reinterpret_cast<const float*>(p); }
  static float* f(uint32_t* p) { return reinterpret_cast<float*>(p); }
  static V load(const uint32_t* p) { return Avx2FloatOps::load(f(p)); }
  static V load_n(const uint32_t* p, int n) { return Avx2FloatOps::load_n(f(p), n); }
  static void store(uint32_t* p, V v) { Avx2FloatOps::store(f(p), v); }
  static void store_n(uint32_t* p, V v, int n) { Avx2FloatOps::store_n(f(p), v, n); }
};

}  // namespace

const TransposeSet kAvx2Set = {"x32_transpose__avx2", transpose<Avx2>};
#endif
}  // namespace tessera::x32_transpose

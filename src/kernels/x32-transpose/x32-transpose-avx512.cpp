// x32-transpose for AVX-512F (compiled with -mavx512f -mavx512bw -mavx512vl -mfma; used only when CPUID reports
// them): 16x16 tiles in zmm registers, k-masked edges.
#include <immintrin.h>

#include "kernels/float_register_ops.h"
#include "kernels/x32-transpose/x32-transpose-impl.h"

namespace tessera::x32_transpose {
#if defined(__x86_64__)
namespace {

// The 16 x 16 register transpose of Avx512FloatOps on the elements' bits (loads, stores and shuffles of float
// registers move any 32-bit payload unchanged).
struct Avx512 : Avx512FloatOps {
  using V = Vec;
  static const float* f(const uint32_t* p) { return reinterpret_cast<const float*>(p); }
  static float* f(uint32_t* p) { return reinterpret_cast<float*>(p); }
  static V load(const uint32_t* p) { return Avx512FloatOps::load(f(p)); }
  static V load_n(const uint32_t* p, int n) { return Avx512FloatOps::load_n(f(p), n); }
  static void store(uint32_t* p, V v) { Avx512FloatOps::store(f(p), v); }
  static void store_n(uint32_t* p, V v, int n) { Avx512FloatOps::store_n(f(p), v, n); }
};

}  // namespace

const TransposeSet kAvx512Set = {"x32_transpose__avx512", transpose<Avx512>};
#endif
}  // namespace tessera::x32_transpose

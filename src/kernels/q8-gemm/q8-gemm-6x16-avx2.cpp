// q8-gemm for AVX2 (compiled with -mavx2 -mfma; used only when CPUID reports them): a 6x16 tile over int16
// operands with the zero points subtracted, two depth steps per vpmaddwd. Exact: |A - za|, |B - zb| <= 255, so
// each pair sum stays below 2^17 (vpmaddubsw would saturate int16 and is never used).
#include <immintrin.h>

#include "kernels/q8-gemm/q8-gemm-impl.h"

namespace tessera::q8gemm {
#if defined(__x86_64__)
namespace {

// The traits are compiled with q8-gemm-impl.h's floating-point options: GCC does not inline a function into one
// with other options, and the float epilogue then called fmul / fadd / fstore once per register (4.5% of INT8
// BERT-base).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC optimize("no-trapping-math")
struct Avx2 {
  using Vec = __m256i;
  using FVec = __m256;
  static constexpr int kLanes = 8;
  static constexpr bool kWide = true;
  static Vec zero() { return _mm256_setzero_si256(); }
  static Vec load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Vec broadcast(int32_t v) { return _mm256_set1_epi32(v); }
  static Vec dot(Vec acc, Vec a, Vec b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
  static Vec load_s32(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store_s32(int32_t* p, Vec v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static Vec add(Vec a, Vec b) { return _mm256_add_epi32(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm256_sub_epi32(a, b); }
  static Vec mullo(Vec a, Vec b) { return _mm256_mullo_epi32(a, b); }
  static FVec to_float(Vec v) { return _mm256_cvtepi32_ps(v); }
  static FVec fload(const float* p) { return _mm256_loadu_ps(p); }
  static FVec fset1(float v) { return _mm256_set1_ps(v); }
  static FVec fmul(FVec a, FVec b) { return _mm256_mul_ps(a, b); }
  static FVec fadd(FVec a, FVec b) { return _mm256_add_ps(a, b); }
  static void fstore(float* p, FVec v) { _mm256_storeu_ps(p, v); }
};
#pragma GCC pop_options

constexpr int kMr = 6;
constexpr int kNv = 2;

template <int Rows>
constexpr TileFn kTile = tile_simd<Avx2, kMr, kNv, Rows>;

}  // namespace

const Q8GemmSet kAvx2Set = {
    .name = "q8_gemm_ukernel_6x16__avx2",
    .mr = kMr,
    .nr = kNv * Avx2::kLanes,
    .group = 2,
    .group_align = 1,
    .wide = true,
    .by_rows = {kTile<1>, kTile<2>, kTile<3>, kTile<4>, kTile<5>, kTile<6>},
    .pack_a = pack_a_wide<kMr, 2>,
    .row_sums = nullptr,
    .requantize = requantize,
    .requantize_float_sums = requantize_float_sums,
};
#endif
}  // namespace tessera::q8gemm

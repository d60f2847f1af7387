// The 256-bit int32 and float operations of the q8-gemm tiles' Isa traits (tile_simd, store_tile), shared by the
// AVX2 and AVX-VNNI variants, which add kWide and dot. Internal linkage only; include only from files compiled
// with at least AVX2 and FMA, after q8-gemm-impl.h.
#pragma once

#include <immintrin.h>

#include "kernels/q8-gemm/q8-gemm-impl.h"

namespace tessera::q8gemm {
namespace {

// The traits are compiled with q8-gemm-impl.h's floating-point options: GCC does not inline a function into one
// with other options, and the float epilogue then called fmul / fadd / fstore once per register (4.5% of INT8
// BERT-base).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC optimize("no-trapping-math")
struct Avx2Int32Ops {
  using Vec = __m256i;
  using FVec = __m256;
  static constexpr int kLanes = 8;
  static Vec zero() { return _mm256_setzero_si256(); }
  static Vec load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Vec broadcast(int32_t v) { return _mm256_set1_epi32(v); }
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

// Row sums of uint8 rows read in place (Q8GemmSet::row_sums of the byte tiles): vpsadbw adds 32 bytes at a time
// into four 64-bit lanes, the tail byte by byte (never past the row).
[[maybe_unused]] void row_sums_sad_avx2(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, int32_t* row_sums) {
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    __m256i sums = zero;
    int64_t p = 0;
    for (; p + 32 <= k; p += 32)
      sums =
          _mm256_add_epi64(sums, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + p)), zero));
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sums);
    uint64_t total = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; p < k; ++p) total += row[p];
    row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(total));
  }
}

}  // namespace
}  // namespace tessera::q8gemm

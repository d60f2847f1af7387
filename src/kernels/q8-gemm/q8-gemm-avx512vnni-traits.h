// The AVX-512 VNNI traits of the q8-gemm tiles (the Isa of tile_simd and store_tile) and the uint8 row sums read
// in place, shared by the AVX-512 VNNI and AMX variants. Internal linkage only; include only from files compiled
// with AVX-512 F, BW, VL and VNNI, after q8-gemm-impl.h.
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
struct Avx512Vnni {
  using Vec = __m512i;
  using FVec = __m512;
  static constexpr int kLanes = 16;
  static constexpr bool kWide = false;
  static Vec zero() { return _mm512_setzero_si512(); }
  static Vec load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static Vec broadcast(int32_t v) { return _mm512_set1_epi32(v); }
  static Vec dot(Vec acc, Vec a, Vec b) { return _mm512_dpbusd_epi32(acc, a, b); }
  static Vec load_s32(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void store_s32(int32_t* p, Vec v) { _mm512_storeu_si512(p, v); }
  static Vec add(Vec a, Vec b) { return _mm512_add_epi32(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm512_sub_epi32(a, b); }
  static Vec mullo(Vec a, Vec b) { return _mm512_mullo_epi32(a, b); }
  // The masked form with a full mask: GCC 12's plain _mm512_cvtepi32_ps trips -Wuninitialized.
  static FVec to_float(Vec v) { return _mm512_maskz_cvtepi32_ps(0xFFFF, v); }
  static FVec fload(const float* p) { return _mm512_loadu_ps(p); }
  static FVec fset1(float v) { return _mm512_set1_ps(v); }
  static FVec fmul(FVec a, FVec b) { return _mm512_mul_ps(a, b); }
  static FVec fadd(FVec a, FVec b) { return _mm512_add_ps(a, b); }
  static void fstore(float* p, FVec v) { _mm512_storeu_ps(p, v); }
};
#pragma GCC pop_options

// Row sums of uint8 rows read in place: vpsadbw adds 64 bytes at a time into eight 64-bit lanes (the tail through
// a masked load, never past the row).
void row_sums_sad(int64_t rows, int64_t k, const uint8_t* a, int64_t lda, int32_t* row_sums) {
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    __m512i sums = zero;
    int64_t p = 0;
    for (; p + 64 <= k; p += 64) sums = _mm512_add_epi64(sums, _mm512_sad_epu8(_mm512_loadu_si512(row + p), zero));
    if (p < k) {
      const __mmask64 tail = (__mmask64{1} << (k - p)) - 1;
      sums = _mm512_add_epi64(sums, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(tail, row + p), zero));
    }
    alignas(64) uint64_t lanes[8];
    _mm512_store_si512(lanes, sums);
    uint64_t total = 0;
    for (uint64_t lane : lanes) total += lane;
    row_sums[r] = static_cast<int32_t>(static_cast<uint32_t>(total));
  }
}

}  // namespace
}  // namespace tessera::q8gemm

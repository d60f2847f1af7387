// The float32 register basics that the x86 micro-kernel traits share (f32-gemm, bf16-gemm): zero, set1, load,
// store, mul, add, min, max on one zmm (Avx512FloatOps) or ymm (Avx2FloatOps). Each traits type derives from one
// and adds its own operations. Include only from files compiled with the matching -m flags (*-avx512*.cpp with
// AVX-512 F, *-avx2.cpp with AVX2); everything has internal linkage, so no copy built under one file's flags can
// be picked by the linker for another.
#pragma once

#include <immintrin.h>

namespace tessera {
namespace {

#if defined(__AVX512F__)
struct Avx512FloatOps {
  using Vec = __m512;
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
};
#endif

#if defined(__AVX2__)
struct Avx2FloatOps {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float v) { return _mm256_set1_ps(v); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec min(Vec a, Vec b) { return _mm256_min_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
};
#endif

}  // namespace
}  // namespace tessera

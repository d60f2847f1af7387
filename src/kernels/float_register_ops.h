// The float32 register basics that the x86 kernel traits share (f32-gemm, bf16-gemm, x32-transpose, f32-dwconv): zero,
// set1, load, store (whole or the first n lanes), mul, add, min, max on one zmm (Avx512FloatOps) or ymm (Avx2FloatOps),
// and the in-register transpose of a kLanes x kLanes block (r[j] lane i <- r[i] lane j; shuffles only, so any 32-bit
// payload passes bit for bit). Each traits type derives from one and adds its own operations. Include only from files
// compiled with the matching -m flags (*-avx512*.cpp with AVX-512 F, *-avx2.cpp with AVX2); everything has internal
// linkage, so no copy built under one file's flags can be picked by the linker for another.
#pragma once

#include <immintrin.h>

namespace tessera {
namespace {

#if defined(__AVX512F__)
struct Avx512FloatOps {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  // The first n lanes (0 <= n <= kLanes); masked loads read, and masked stores write, only those (no faults past).
  static Mask first(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static Vec load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_n(float* p, Vec v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float v) { return _mm512_set1_ps(v); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  // The masked forms with a full mask: GCC 12's plain _mm512_min_ps / _mm512_max_ps trip -Wmaybe-uninitialized.
  static Vec min(Vec a, Vec b) { return _mm512_mask_min_ps(b, 0xFFFF, a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_mask_max_ps(b, 0xFFFF, a, b); }
  // 16 x 16: pairs interleaved, then pairs of pairs, then 128-bit lanes twice. (The masked forms with a full mask:
  // GCC 12's plain unpack / shuffle intrinsics trip -Wmaybe-uninitialized.)
  static Vec unpacklo(Vec a, Vec b) { return _mm512_mask_unpacklo_ps(a, 0xFFFF, a, b); }
  static Vec unpackhi(Vec a, Vec b) { return _mm512_mask_unpackhi_ps(a, 0xFFFF, a, b); }
  template <int kImm>
  static Vec shuffle(Vec a, Vec b) {
    return _mm512_mask_shuffle_ps(a, 0xFFFF, a, b, kImm);
  }
  template <int kImm>
  static Vec shuffle_lanes(Vec a, Vec b) {
    return _mm512_mask_shuffle_f32x4(a, 0xFFFF, a, b, kImm);
  }
  static void transpose(Vec (&r)[16]) {
    Vec t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = unpacklo(r[i], r[i + 1]);
      t[i + 1] = unpackhi(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = shuffle<0x44>(t[i], t[i + 2]);
      r[i + 1] = shuffle<0xEE>(t[i], t[i + 2]);
      r[i + 2] = shuffle<0x44>(t[i + 1], t[i + 3]);
      r[i + 3] = shuffle<0xEE>(t[i + 1], t[i + 3]);
    }
    for (int h = 0; h < 16; h += 8) {
      for (int q = 0; q < 4; ++q) {
        t[h + q] = shuffle_lanes<0x88>(r[h + q], r[h + q + 4]);
        t[h + q + 4] = shuffle_lanes<0xDD>(r[h + q], r[h + q + 4]);
      }
    }
    for (int q = 0; q < 8; ++q) {
      r[q] = shuffle_lanes<0x88>(t[q], t[q + 8]);
      r[q + 8] = shuffle_lanes<0xDD>(t[q], t[q + 8]);
    }
  }
};
#endif

#if defined(__AVX2__)
struct Avx2FloatOps {
  using Vec = __m256;
  using Mask = __m256i;  // all ones (on) or zero per lane, as vmaskmovps reads it
  static constexpr int kLanes = 8;
  // The first n lanes (0 <= n <= kLanes); masked loads read, and masked stores write, only those (no faults past;
  // the other lanes load as zero).
  static Mask first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load_n(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  // By whole-register, 4-, 2- and 1-float stores, not vmaskmovps: a masked store is microcoded on AMD Zen (Zen 3,
  // one thread: a 3x3 depthwise plane whose rows end inside a register 10-19% faster, 56x56 at stride 2 0.740 ->
  // 0.650 us, 7x7 0.096 -> 0.078 us).
  static void store_n(float* p, Vec v, int n) {
    if (n >= kLanes) return store(p, v);
    __m128 part = _mm256_castps256_ps128(v);
    if (n & 4) {
      _mm_storeu_ps(p, part);
      part = _mm256_extractf128_ps(v, 1);
      p += 4;
    }
    if (n & 2) {
      _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
      part = _mm_movehl_ps(part, part);
      p += 2;
    }
    if (n & 1) _mm_store_ss(p, part);
  }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float v) { return _mm256_set1_ps(v); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec min(Vec a, Vec b) { return _mm256_min_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  // 8 x 8: pairs interleaved, pairs of pairs, then the 128-bit halves.
  static void transpose(Vec (&r)[8]) {
    Vec t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int q = 0; q < 4; ++q) {
      r[q] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x20);
      r[q + 4] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x31);
    }
  }
};
#endif

}  // namespace
}  // namespace tessera

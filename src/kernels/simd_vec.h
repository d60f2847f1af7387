// One register of floats for the ISA the including file is compiled for (16 lanes under AVX-512, 8 under AVX2, 4
// otherwise), as a GCC vector type that the compiler lowers to that ISA's instructions, with the loads, stores and
// shuffles the vectorized kernel families share. Include only from per-ISA kernel sources (their -impl.h files):
// the lane count depends on the translation unit's target flags.
#pragma once

namespace tessera::simd {
namespace {

#if defined(__AVX512F__)
inline constexpr int kLanes = 16;
#elif defined(__AVX2__)
inline constexpr int kLanes = 8;
#else
inline constexpr int kLanes = 4;
#endif

typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

inline Vec load(const float* p) {
  Vec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }

// The even lanes of the 2 * kLanes floats at p: p[0], p[2], ..., one shuffle of two loads.
inline Vec even_lanes(const float* p) {
  const Vec a = load(p), b = load(p + kLanes);
#if defined(__AVX512F__)
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
#elif defined(__AVX2__)
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
#else
  return __builtin_shufflevector(a, b, 0, 2, 4, 6);
#endif
}

}  // namespace
}  // namespace tessera::simd

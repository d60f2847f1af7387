// The loops of f32-vexact, instantiated by each ISA file (f32-vexact-avx512.cpp, ...): plain scalar loops that the
// compiler vectorizes under that file's -m flags. Internal linkage only; include only from those files.
#pragma once

#include <bit>
#include <cstdint>

#include "kernels/f32-vexact/f32-vexact-table.h"

namespace tessera::f32_vexact {
namespace {

// c ? a : b by bit masks, which GCC vectorizes (a float `?:` keeps the loop scalar under -ftrapping-math).
inline float select(bool c, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) | (std::bit_cast<uint32_t>(b) & ~mask));
}

struct Add {
  float operator()(float a, float b) const { return a + b; }
};
struct Sub {
  float operator()(float a, float b) const { return a - b; }
};
struct Mul {
  float operator()(float a, float b) const { return a * b; }
};
struct Div {
  float operator()(float a, float b) const { return a / b; }
};

template <typename Op>
void binary(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* y, int64_t n) {
  const Op op;
  if (a_stride != 0 && b_stride != 0) {
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[i]);
  } else if (b_stride != 0) {
    const float s = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = op(s, b[i]);
  } else if (a_stride != 0) {
    const float s = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], s);
  } else {
    const float v = op(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  }
}

void relu(float, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = select(x[i] < 0.0f, 0.0f, x[i]);
}
void leaky_relu(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = select(x[i] < 0.0f, alpha * x[i], x[i]);
}
void abs(float, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::bit_cast<float>(std::bit_cast<uint32_t>(x[i]) & 0x7FFFFFFFu);
}
void neg(float, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
}
void reciprocal(float, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / x[i];
}

// The table for the ISA this file is compiled for; the orders match VBinaryOpF32 and VExactUnaryOpF32.
constexpr VExactSet make_set(const char* name) {
  return VExactSet{name,
                   {binary<Add>, binary<Sub>, binary<Mul>, binary<Div>},
                   {relu, leaky_relu, abs, neg, reciprocal}};
}

}  // namespace
}  // namespace tessera::f32_vexact

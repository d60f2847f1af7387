// The loops of f32-vunary, instantiated by each ISA file (f32-vunary-avx512.cpp, ...). Internal linkage only;
// include only from those files.
#pragma once

#include "kernels/f32-vunary/f32-vunary-impl.h"
#include "kernels/f32-vunary/f32-vunary-table.h"

namespace tessera::f32_vunary {
namespace {

template <float (*kOp)(float)>
void apply(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = kOp(x[i]);
}

// The table for the ISA this file is compiled for; the order matches VUnaryOpF32.
constexpr VUnarySet make_set(const char* name) {
  return VUnarySet{name,
                   {apply<exp_f32>, apply<erf_f32>, apply<tanh_f32>, apply<sigmoid_f32>, apply<gelu_erf_f32>,
                    apply<gelu_tanh_f32>}};
}

}  // namespace
}  // namespace tessera::f32_vunary

// The scalar float32 approximations (exp, tanh, sigmoid, erf, erfc, GELU, select) for operator code compiled
// for the baseline ISA; whole contiguous float arrays go through kernels/f32-vunary/f32-vunary.h instead, which
// runs the same formulas with AVX2 or AVX-512.
#pragma once

#include "kernels/f32-vunary/f32-vunary-impl.h"

namespace tessera {
namespace fast_math = f32_vunary;
}  // namespace tessera

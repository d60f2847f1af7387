// Float32 unary math over contiguous arrays (exp, erf, tanh, sigmoid, GELU), one implementation per ISA
// (AVX-512, AVX2+FMA, portable) chosen once from CPUID. All variants evaluate the same formulas
// (f32-vunary-impl.h); they differ in vector width and in whether a * b + c is fused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

enum class VUnaryOpF32 {
  kExp,       // exp(x)
  kErf,       // erf(x)
  kTanh,      // tanh(x)
  kSigmoid,   // 1 / (1 + exp(-x))
  kGeluErf,   // 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
};

// y[i] = op(x[i]) for i < n. x and y may be the same array (in place) but must not otherwise overlap.
void vunary_f32(VUnaryOpF32 op, const float* x, float* y, int64_t n);

// The selected variant, e.g. "f32_vunary__avx512".
const char* vunary_f32_kernel_name();

// Every variant this CPU can run (the CPUID choice first), for tests and benchmarks.
std::vector<std::string> vunary_f32_kernel_names();

// Test hook: selects the variant named (one of vunary_f32_kernel_names()), or the CPUID choice for "".
// Returns false, changing nothing, for an unknown or unrunnable name. Not thread-safe.
bool vunary_f32_select_kernel(const std::string& name);

}  // namespace tessera

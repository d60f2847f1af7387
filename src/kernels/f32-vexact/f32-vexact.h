// Exact float32 elementwise loops (each result one IEEE operation on its inputs, or none): Add, Sub, Mul, Div of two
// operands that are arrays or one broadcast value, and Relu, LeakyRelu, Abs, Neg, Reciprocal. One implementation per
// ISA (AVX-512, AVX2, portable) chosen once from CPUID; every variant gives the same bits as plain scalar code, so
// the operators, the fused ElementwiseChain and any thread split agree exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

enum class VBinaryOpF32 { kAdd, kSub, kMul, kDiv };

// y[i] = a[i * a_stride] op b[i * b_stride] for i < n, each stride 0 (one value) or 1. y may be a or b (in place)
// but must not otherwise overlap them.
void vbinary_f32(VBinaryOpF32 op, const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* y,
                 int64_t n);

enum class VExactUnaryOpF32 {
  kRelu,        // x < 0 ? 0 : x (NaN passes through)
  kLeakyRelu,   // x < 0 ? alpha * x : x
  kAbs,         // |x|
  kNeg,         // -x
  kReciprocal,  // 1 / x
};

// y[i] = op(x[i]) for i < n (`alpha` is LeakyRelu's; ignored otherwise). x and y may be the same array.
void vexact_unary_f32(VExactUnaryOpF32 op, float alpha, const float* x, float* y, int64_t n);

// The selected variant, e.g. "f32_vexact__avx512"; every variant this CPU runs (CPUID choice first); and a test
// hook selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not thread-safe).
const char* vexact_f32_kernel_name();
std::vector<std::string> vexact_f32_kernel_names();
bool vexact_f32_select_kernel(const std::string& name);

}  // namespace tessera

// The f32-vexact driver: picks the ISA table once from CPUID and forwards to it.
#include "kernels/f32-vexact/f32-vexact.h"

#include "kernels/f32-vexact/f32-vexact-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using f32_vexact::VExactSet;

VariantDispatch<VExactSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<VExactSet> instance(&f32_vexact::kPortableSet, &f32_vexact::kAvx2Set,
                                             &f32_vexact::kAvx512Set);
#else
  static VariantDispatch<VExactSet> instance(&f32_vexact::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

void vbinary_f32(VBinaryOpF32 op, const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* y,
                 int64_t n) {
  dispatch().active().binary[static_cast<int>(op)](a, a_stride, b, b_stride, y, n);
}

void vexact_unary_f32(VExactUnaryOpF32 op, float alpha, const float* x, float* y, int64_t n) {
  dispatch().active().unary[static_cast<int>(op)](alpha, x, y, n);
}

const char* vexact_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> vexact_f32_kernel_names() { return dispatch().names(); }
bool vexact_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera

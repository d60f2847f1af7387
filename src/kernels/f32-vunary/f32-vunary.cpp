// The f32-vunary driver: picks the ISA table once from CPUID and forwards to it.
#include "kernels/f32-vunary/f32-vunary.h"

#include "kernels/f32-vunary/f32-vunary-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using f32_vunary::VUnarySet;

VariantDispatch<VUnarySet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<VUnarySet> instance(&f32_vunary::kPortableSet, &f32_vunary::kAvx2Set,
                                             &f32_vunary::kAvx512Set);
#else
  static VariantDispatch<VUnarySet> instance(&f32_vunary::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

void vunary_f32(VUnaryOpF32 op, const float* x, float* y, int64_t n) {
  dispatch().active().ops[static_cast<int>(op)](x, y, n);
}

const char* vunary_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> vunary_f32_kernel_names() { return dispatch().names(); }
bool vunary_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera

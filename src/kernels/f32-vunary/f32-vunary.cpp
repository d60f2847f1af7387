// The f32-vunary driver: picks the ISA table once from CPUID and forwards to it.
#include "kernels/f32-vunary/f32-vunary.h"

#include "kernels/cpu_features.h"
#include "kernels/f32-vunary/f32-vunary-table.h"

namespace tessera {
namespace {

using f32_vunary::VUnarySet;

const VUnarySet& cpuid_set() {
#if defined(__x86_64__)
  switch (cpu_kernel_isa()) {
    case KernelIsa::kAvx512: return f32_vunary::kAvx512Set;
    case KernelIsa::kAvx2: return f32_vunary::kAvx2Set;
    case KernelIsa::kPortable: break;
  }
#endif
  return f32_vunary::kPortableSet;
}

std::vector<const VUnarySet*> runnable_sets() {
  std::vector<const VUnarySet*> sets{&cpuid_set()};
#if defined(__x86_64__)
  if (cpu_kernel_isa() == KernelIsa::kAvx512) sets.push_back(&f32_vunary::kAvx2Set);
#endif
  if (sets[0] != &f32_vunary::kPortableSet) sets.push_back(&f32_vunary::kPortableSet);
  return sets;
}

const VUnarySet* g_selected = nullptr;  // test override; nullptr = the CPUID choice

const VUnarySet& active_set() { return g_selected != nullptr ? *g_selected : cpuid_set(); }

}  // namespace

void vunary_f32(VUnaryOpF32 op, const float* x, float* y, int64_t n) {
  active_set().ops[static_cast<int>(op)](x, y, n);
}

const char* vunary_f32_kernel_name() { return active_set().name; }

std::vector<std::string> vunary_f32_kernel_names() {
  std::vector<std::string> names;
  for (const VUnarySet* set : runnable_sets()) names.emplace_back(set->name);
  return names;
}

bool vunary_f32_select_kernel(const std::string& name) {
  if (name.empty()) {
    g_selected = nullptr;
    return true;
  }
  for (const VUnarySet* set : runnable_sets()) {
    if (name == set->name) {
      g_selected = set;
      return true;
    }
  }
  return false;
}

}  // namespace tessera

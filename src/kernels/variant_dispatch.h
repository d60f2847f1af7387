// VariantDispatch: the one run-time dispatch of a kernel family among its per-ISA variant tables (portable,
// AVX2+FMA, AVX-512), chosen from CPUID (cpu_features.h), with the test hook that selects any variant the CPU
// runs. Each family keeps one static instance; `Set` is its plain-data table type with a `name` member.
#pragma once

#include <string>
#include <vector>

#include "kernels/cpu_features.h"

namespace tessera {

template <typename Set>
class VariantDispatch {
 public:
  // avx2 / avx512 may be nullptr where the build has no such variant (non-x86 builds). avx512_extension is a
  // variant that needs an AVX-512 extension beyond F/BW/VL (BF16, say): the caller passes it only when CPUID
  // reports that extension (nullptr otherwise), and it then comes first, ahead of the plain AVX-512 one.
  VariantDispatch(const Set* portable, const Set* avx2, const Set* avx512, const Set* avx512_extension = nullptr) {
    const KernelIsa isa = cpu_kernel_isa();
    if (isa == KernelIsa::kAvx512 && avx512_extension != nullptr) runnable_.push_back(avx512_extension);
    if (isa == KernelIsa::kAvx512 && avx512 != nullptr) runnable_.push_back(avx512);
    if ((isa == KernelIsa::kAvx512 || isa == KernelIsa::kAvx2) && avx2 != nullptr) runnable_.push_back(avx2);
    runnable_.push_back(portable);
  }

  // The variant in use: the CPUID choice unless a test selected another.
  const Set& active() const { return selected_ != nullptr ? *selected_ : *runnable_.front(); }

  // Every variant this CPU runs, the CPUID choice first.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Set* set : runnable_) out.emplace_back(set->name);
    return out;
  }

  // Selects the variant named, or the CPUID choice for ""; false (changing nothing) for unknown or unrunnable
  // names. Not thread-safe; for tests and benchmarks.
  bool select(const std::string& name) {
    if (name.empty()) {
      selected_ = nullptr;
      return true;
    }
    for (const Set* set : runnable_) {
      if (name == set->name) {
        selected_ = set;
        return true;
      }
    }
    return false;
  }

 private:
  std::vector<const Set*> runnable_;
  const Set* selected_ = nullptr;
};

}  // namespace tessera

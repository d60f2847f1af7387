// VariantDispatch: the one run-time dispatch of a kernel family among its per-ISA variant tables (portable,
// AVX2+FMA, AVX-512), chosen from CPUID (cpu_features.h), with the test hook that selects any variant the CPU
// runs. Each family keeps one static instance; `Set` is its plain-data table type with a `name` member.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"

namespace tessera {

template <typename Set>
class VariantDispatch {
 public:
  // avx2 / avx512 may be nullptr where the build has no such variant (non-x86 builds). avx512_extensions are
  // variants that need extensions beyond AVX-512 F/BW/VL (BF16, VNNI, AMX), best first: the caller passes each
  // only when CPUID reports its extension (nullptr otherwise), and they then come first, ahead of the plain
  // AVX-512 one.
  // avx2_extensions likewise need AVX2 and FMA plus an extension (AVX-VNNI), come after the AVX-512 ones and
  // ahead of the plain AVX2 one.
  VariantDispatch(const Set* portable, const Set* avx2, const Set* avx512,
                  std::initializer_list<const Set*> avx512_extensions = {},
                  std::initializer_list<const Set*> avx2_extensions = {}) {
    const KernelIsa isa = cpu_kernel_isa();
    for (const Set* extension : avx512_extensions) {
      if (isa == KernelIsa::kAvx512 && extension != nullptr) runnable_.push_back(extension);
    }
    if (isa == KernelIsa::kAvx512 && avx512 != nullptr) runnable_.push_back(avx512);
    for (const Set* extension : avx2_extensions) {
      if ((isa == KernelIsa::kAvx512 || isa == KernelIsa::kAvx2) && extension != nullptr)
        runnable_.push_back(extension);
    }
    if ((isa == KernelIsa::kAvx512 || isa == KernelIsa::kAvx2) && avx2 != nullptr) runnable_.push_back(avx2);
    runnable_.push_back(portable);
  }

  // The variant in use: the CPUID choice unless a test selected another.
  const Set& active() const { return selected_ != nullptr ? *selected_ : *runnable_.front(); }

  // The variant for one call: the one a test selected, else the first variant this CPU runs, in order, that
  // `fits` accepts (a variant that pays off only on some shapes leaves the others to the next), else the last.
  template <typename Fits>
  const Set& active_where(Fits fits) const {
    if (selected_ != nullptr) return *selected_;
    for (const Set* set : runnable_) {
      if (fits(*set)) return *set;
    }
    return *runnable_.back();
  }

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

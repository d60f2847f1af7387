#include "kernels/cpu_features.h"

namespace tessera {

KernelIsa cpu_kernel_isa() {
#if defined(__x86_64__)
  static const KernelIsa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
      return KernelIsa::kAvx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return KernelIsa::kAvx2;
    return KernelIsa::kPortable;
  }();
  return isa;
#else
  return KernelIsa::kPortable;
#endif
}

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__)
  static const bool vnni = [] {
    __builtin_cpu_init();
    return cpu_kernel_isa() == KernelIsa::kAvx512 && __builtin_cpu_supports("avx512vnni");
  }();
  return vnni;
#else
  return false;
#endif
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__)
  static const bool bf16 = [] {
    __builtin_cpu_init();
    return cpu_kernel_isa() == KernelIsa::kAvx512 && __builtin_cpu_supports("avx512bf16");
  }();
  return bf16;
#else
  return false;
#endif
}

}  // namespace tessera

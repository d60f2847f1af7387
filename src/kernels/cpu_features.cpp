#include "kernels/cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

namespace {

#if defined(__x86_64__) && defined(__linux__)
// CPUID leaf 7 (sub-leaf 0) EDX bits, spelled out: clang 14's cpuid.h has no bit_AMX_* names.
constexpr unsigned kAmxBf16Bit = 1u << 22;
constexpr unsigned kAmxTileBit = 1u << 24;
constexpr unsigned kAmxInt8Bit = 1u << 25;

// Whether CPUID leaf 7 reports AMX-TILE and the given AMX feature bit (EDX) and Linux lets this process use the
// tile data state: Linux (5.16 and later) leaves it off until a process asks, once, with arch_prctl.
bool amx_usable(unsigned feature_bit) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  if ((edx & kAmxTileBit) == 0 || (edx & feature_bit) == 0) return false;
  static const bool permitted = [] {
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return permitted;
}
#endif

}  // namespace

bool cpu_has_avx_vnni() {
#if defined(__x86_64__)
  static const bool vnni = [] {
    if (cpu_kernel_isa() == KernelIsa::kPortable) return false;
    constexpr unsigned kAvxVnniBit = 1u << 4;  // CPUID leaf 7 sub-leaf 1, EAX
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & kAvxVnniBit) != 0;
  }();
  return vnni;
#else
  return false;
#endif
}

bool cpu_has_amx_int8() {
#if defined(__x86_64__) && defined(__linux__)
  static const bool amx = cpu_has_avx512_vnni() && amx_usable(kAmxInt8Bit);
  return amx;
#else
  return false;
#endif
}

bool cpu_has_amx_bf16() {
#if defined(__x86_64__) && defined(__linux__)
  static const bool amx = cpu_kernel_isa() == KernelIsa::kAvx512 && amx_usable(kAmxBf16Bit);
  return amx;
#else
  return false;
#endif
}

}  // namespace tessera

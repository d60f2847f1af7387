// Which of Tessera's kernel ISAs this CPU runs, read once from CPUID. Every kernel family dispatches on these,
// so the same CPU always gets the same family of variants.
#pragma once

namespace tessera {

enum class KernelIsa { kPortable, kAvx2, kAvx512 };

// The best ISA the CPU supports: kAvx512 needs AVX-512 F, BW and VL (the flags the *-avx512.cpp files are
// compiled with), kAvx2 needs AVX2 and FMA; otherwise kPortable.
KernelIsa cpu_kernel_isa();

// True when cpu_kernel_isa() is kAvx512 and the CPU also has AVX-512 VNNI (vpdpbusd; the *-avx512vnni.cpp files).
bool cpu_has_avx512_vnni();

// True when cpu_kernel_isa() is kAvx512 and the CPU also has AVX-512 BF16 (vdpbf16ps; the *-avx512bf16.cpp files).
bool cpu_has_avx512_bf16();

}  // namespace tessera

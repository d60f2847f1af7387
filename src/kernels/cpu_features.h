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

// True when cpu_kernel_isa() is kAvx2 or kAvx512 and the CPU has AVX-VNNI (the VEX-encoded 256-bit vpdpbusd; the
// *-avxvnni.cpp files).
bool cpu_has_avx_vnni();

// True when cpu_has_avx512_vnni() and the CPU has AMX-TILE and AMX-INT8 (tdpbusd; the *-amx.cpp files) and the
// operating system lets this process use the tile registers (on Linux, asked for once with
// arch_prctl(ARCH_REQ_XCOMP_PERM) on the first call; false where that is refused or unknown).
bool cpu_has_amx_int8();

// True when cpu_kernel_isa() is kAvx512 and the CPU has AMX-TILE and AMX-BF16 (tdpbf16ps; the *-amx.cpp files),
// with the same operating-system permission as cpu_has_amx_int8().
bool cpu_has_amx_bf16();

}  // namespace tessera

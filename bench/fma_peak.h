// The machine's float32 FMA peak for one thread, measured (not taken from a datasheet), and the counters every
// compute-bound micro-benchmark reports against it.
#pragma once

#include <benchmark/benchmark.h>

namespace tessera::bench {

// GFLOP/s of one thread running independent fused multiply-adds on the widest vectors the kernels use here
// (AVX-512 zmm, else AVX2 ymm, else scalar): the best of a few ~20 ms runs, measured once per process.
double fma_peak_gflops();

// Sets "FLOPS" (the rate of flops_per_iteration) and "%peak" (that rate over fma_peak_gflops(), in percent; a rate
// counter, so the console prints it with Google Benchmark's "/s" suffix), and labels the run with the peak.
void report_flops(benchmark::State& state, double flops_per_iteration);

}  // namespace tessera::bench

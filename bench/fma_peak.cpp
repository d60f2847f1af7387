#include "fma_peak.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu_features.h"

namespace tessera::bench {
namespace {

// Each loop keeps 16 independent accumulators (more than FMA latency x throughput on any core here) and returns a
// value derived from them so the work is not optimised away. Returns the flops done.
constexpr int64_t kSteps = 1 << 16;

#if defined(__x86_64__)
[[gnu::target("avx512f")]] double fma_loop_avx512(float* sink) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t s = 0; s < kSteps; ++s) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 total = acc[0];
  for (int i = 1; i < 16; ++i) total = _mm512_add_ps(total, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, total);
  *sink += lanes[0];
  return 2.0 * 16 * 16 * static_cast<double>(kSteps);
}

[[gnu::target("avx2,fma")]] double fma_loop_avx2(float* sink) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t s = 0; s < kSteps; ++s) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 total = acc[0];
  for (int i = 1; i < 12; ++i) total = _mm256_add_ps(total, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, total);
  *sink += lanes[0];
  return 2.0 * 12 * 8 * static_cast<double>(kSteps);
}
#endif

double fma_loop_scalar(float* sink) {
  float acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = static_cast<float>(i) * 1e-3f;
  for (int64_t s = 0; s < kSteps; ++s) {
    for (float& v : acc) v = v * 0.999999f + 1e-7f;
  }
  for (float v : acc) *sink += v;
  return 2.0 * 8 * static_cast<double>(kSteps);
}

double measure() {
  float sink = 0.0f;
  auto loop = [&]() -> double {
#if defined(__x86_64__)
    if (cpu_kernel_isa() == KernelIsa::kAvx512) return fma_loop_avx512(&sink);
    if (cpu_kernel_isa() == KernelIsa::kAvx2) return fma_loop_avx2(&sink);
#endif
    return fma_loop_scalar(&sink);
  };
  double best = 0.0;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    double flops = 0.0;
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(20)) flops += loop();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, flops / seconds / 1e9);
  }
  benchmark::DoNotOptimize(sink);
  return best;
}

}  // namespace

double fma_peak_gflops() {
  static const double peak = measure();
  return peak;
}

void report_flops(benchmark::State& state, double flops_per_iteration) {
  const double total = flops_per_iteration * static_cast<double>(state.iterations());
  state.counters["FLOPS"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
  state.counters["%peak"] = benchmark::Counter(total * 100.0 / (fma_peak_gflops() * 1e9), benchmark::Counter::kIsRate);
  state.SetLabel("peak " + std::to_string(static_cast<int>(fma_peak_gflops())) + " GFLOP/s");
}

}  // namespace tessera::bench

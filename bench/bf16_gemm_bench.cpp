// bf16 GEMM micro-benchmarks on the BERT-base shapes, for every micro-kernel this CPU runs, with B packed once
// (constant weights) and A packed per call as the operators do, from bfloat16 or (the `f32_a` rows) from float32
// rounded while it is packed:
//   build/bench/tessera_microbench --benchmark_filter=Bf16Gemm
// Reports GFLOP/s ("FLOPS": 2 * m * n * k per call) and "peak": the fraction of 227 GFLOP/s, the vdpbf16ps peak of
// one AMD Zen 4 core measured at 3.6 GHz (docs/BENCHMARKS.md; meaningless on other CPUs).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/bf16-gemm/bf16_gemm.h"

namespace tessera {
namespace {

constexpr double kZen4Bf16PeakFlops = 227e9;

struct Shape {
  const char* what;
  int64_t m, n, k;
};
constexpr Shape kShapes[] = {
    {"bert_qkv", 128, 768, 768}, {"bert_ffn_up", 128, 3072, 768}, {"bert_ffn_down", 128, 768, 3072}};

std::vector<float> random_floats(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = value(rng);
  return v;
}

void run_bf16_gemm(benchmark::State& state, const Shape& shape, const std::string& kernel, bool f32_a) {
  if (!bf16_gemm_select_kernel(kernel)) {
    state.SkipWithError("kernel not runnable on this CPU");
    return;
  }
  const std::vector<float> a32 = random_floats(static_cast<size_t>(shape.m * shape.k), 1);
  const std::vector<float> b32 = random_floats(static_cast<size_t>(shape.k * shape.n), 2);
  std::vector<uint16_t> a16(a32.size());
  bf16_round_f32(a32.data(), static_cast<int64_t>(a32.size()), a16.data());
  const PackedBf16GemmB pb = pack_bf16_gemm_b_f32(false, shape.k, shape.n, b32.data(), shape.n);
  std::vector<float> c(static_cast<size_t>(shape.m * shape.n));
  Bf16GemmA a;
  if (f32_a) {
    a.f32 = a32.data();
  } else {
    a.bf16 = a16.data();
  }
  a.ld = shape.k;
  for (auto _ : state) {
    bf16_gemm(shape.m, shape.n, shape.k, a, pb, c.data(), shape.n, {}, nullptr);
    benchmark::DoNotOptimize(c.data());
  }
  const double flops = 2.0 * shape.m * shape.n * shape.k * static_cast<double>(state.iterations());
  state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
  state.counters["peak"] = benchmark::Counter(flops / kZen4Bf16PeakFlops, benchmark::Counter::kIsRate);
  bf16_gemm_select_kernel("");
}

const int kRegistered = [] {
  for (const std::string& kernel : bf16_gemm_kernel_names()) {
    for (const Shape& shape : kShapes) {
      for (const bool f32_a : {false, true}) {
        const std::string name = std::string("Bf16Gemm/") + shape.what + "/" + kernel + (f32_a ? "/f32_a" : "");
        benchmark::RegisterBenchmark(name.c_str(), [shape, kernel, f32_a](benchmark::State& state) {
          run_bf16_gemm(state, shape, kernel, f32_a);
        })->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

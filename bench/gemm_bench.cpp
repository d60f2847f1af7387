// f32 GEMM micro-benchmarks on the BERT-base and ResNet-50 shapes, for every micro-kernel this CPU runs:
//   build/bench/tessera_microbench --benchmark_filter=Gemm
// Reports GFLOP/s (the "FLOPS" counter) and the share of the measured FMA peak ("%peak", fma_peak.h).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "fma_peak.h"
#include "kernels/f32-gemm/gemm.h"

namespace tessera {
namespace {

// (m, n, k) of the GEMMs the benchmark models run at batch 1, three at batch 8 (m = 1024), and scikit-learn's MLP
// (bench/models/classic) on 1000 rows.
struct Shape {
  const char* what;
  int64_t m, n, k;
};
constexpr Shape kShapes[] = {
    {"bert_qkv", 128, 768, 768},
    {"bert_ffn_up", 128, 3072, 768},
    {"bert_ffn_down", 128, 768, 3072},
    {"bert_scores", 128, 128, 64},
    {"bert_context", 128, 64, 128},
    {"r50_conv2_1x1", 3136, 256, 64},
    {"r50_conv3_3x3", 784, 128, 1152},
    {"r50_conv5_1x1", 49, 2048, 512},
    {"mbv2_14_expand", 196, 384, 64},
    {"mbv2_14_expand96", 196, 576, 96},
    {"mbv2_7_expand", 49, 960, 160},
    {"mbv2_7_project", 49, 160, 960},
    {"mbv2_28_expand", 784, 192, 32},
    {"nhwc_112_expand", 12544, 96, 16},
    {"nhwc_112_project", 12544, 16, 32},
    {"nhwc_56_project", 3136, 24, 144},
    {"nhwc_56_expand", 3136, 144, 24},
    {"nhwc_28_project", 784, 32, 144},
    {"gpt2_lm_head", 128, 50257, 768},
    {"b8_ffn_down", 1024, 768, 3072},
    {"b8_ffn_up", 1024, 3072, 768},
    {"b8_lm_head_part", 1024, 8192, 768},
    {"mbv2_classifier_m1", 1, 1000, 1280},
    {"nhwc_28_project192_b8", 6272, 32, 192},
    {"r50_fc_m1", 1, 1000, 2048},
    {"sklearn_mlp_in_1000", 1000, 256, 40},
    {"sklearn_mlp_hidden_1000", 1000, 128, 256},
};

std::vector<float> random_floats(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = uniform(rng);
  return v;
}

void run_gemm(benchmark::State& state, const Shape& shape, const std::string& kernel, bool packed_b) {
  if (!gemm_f32_select_kernel(kernel)) {
    state.SkipWithError("kernel not runnable on this CPU");
    return;
  }
  const auto a = random_floats(static_cast<size_t>(shape.m * shape.k), 1);
  const auto b = random_floats(static_cast<size_t>(shape.k * shape.n), 2);
  std::vector<float> c(static_cast<size_t>(shape.m * shape.n));
  const PackedGemmF32 pb = packed_b ? pack_gemm_b_f32(false, shape.k, shape.n, b.data(), shape.n) : PackedGemmF32{};
  GemmOperandF32 left{nullptr, a.data(), shape.k, false, nullptr};
  GemmOperandF32 right = packed_b ? GemmOperandF32{&pb, nullptr, 0, false, nullptr}
                                  : GemmOperandF32{nullptr, b.data(), shape.n, false, nullptr};
  for (auto _ : state) {
    gemm_f32_packed(shape.m, shape.n, shape.k, 1.0f, left, right, 0.0f, c.data(), shape.n, nullptr);
    benchmark::DoNotOptimize(c.data());
  }
  bench::report_flops(state, 2.0 * static_cast<double>(shape.m * shape.n * shape.k));
  gemm_f32_select_kernel("");
}

const int kRegistered = [] {
  for (const std::string& kernel : gemm_f32_kernel_names()) {
    for (const Shape& shape : kShapes) {
      for (bool packed : {true, false}) {
        const std::string name = std::string("Gemm/") + shape.what + "/" + kernel + (packed ? "/packed_b" : "/plain_b");
        benchmark::RegisterBenchmark(name.c_str(), [shape, kernel, packed](benchmark::State& state) {
          run_gemm(state, shape, kernel, packed);
        })->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

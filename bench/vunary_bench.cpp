// f32-vunary micro-benchmarks (elements per second) for every variant this CPU runs:
//   build/bench/tessera_microbench --benchmark_filter=VUnary
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/f32-vunary/f32-vunary.h"

namespace tessera {
namespace {

const int kRegistered = [] {
  const std::pair<const char*, VUnaryOpF32> ops[] = {{"exp", VUnaryOpF32::kExp},
                                                     {"erf", VUnaryOpF32::kErf},
                                                     {"tanh", VUnaryOpF32::kTanh},
                                                     {"sigmoid", VUnaryOpF32::kSigmoid},
                                                     {"gelu_erf", VUnaryOpF32::kGeluErf}};
  for (const std::string& kernel : vunary_f32_kernel_names()) {
    for (const auto& [what, op] : ops) {
      const std::string name = std::string("VUnary/") + what + "/" + kernel;
      benchmark::RegisterBenchmark(name.c_str(), [kernel, op = op](benchmark::State& state) {
        vunary_f32_select_kernel(kernel);
        std::vector<float> x(128 * 3072);  // one BERT-base FFN activation
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 1000) * 0.01f - 5.0f;
        std::vector<float> y(x.size());
        for (auto _ : state) {
          vunary_f32(op, x.data(), y.data(), static_cast<int64_t>(x.size()));
          benchmark::DoNotOptimize(y.data());
        }
        state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(x.size()));
        vunary_f32_select_kernel("");
      })->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

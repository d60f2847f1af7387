// f32-dwconv micro-benchmarks on MobileNetV2's depthwise 3x3 layers (one channel plane per call, as the Conv
// kernel calls it), for every variant this CPU runs; items are output elements:
//   build/bench/tessera_microbench --benchmark_filter=DwConv
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/f32-dwconv/f32-dwconv.h"

namespace tessera {
namespace {

struct Plane {
  const char* name;
  int64_t size, stride;
};

const int kRegistered = [] {
  const Plane planes[] = {{"112x112_s1", 112, 1}, {"112x112_s2", 112, 2}, {"56x56_s1", 56, 1},
                          {"28x28_s1", 28, 1},    {"14x14_s1", 14, 1},    {"7x7_s1", 7, 1}};
  for (const std::string& kernel : dwconv2d_f32_kernel_names()) {
    for (const Plane& plane : planes) {
      const std::string name = std::string("DwConv/3x3_") + plane.name + "/" + kernel;
      benchmark::RegisterBenchmark(name.c_str(), [kernel, plane](benchmark::State& state) {
        dwconv2d_f32_select_kernel(kernel);
        DwConv2dF32Params p;
        p.in_h = p.in_w = plane.size;
        p.kernel_h = p.kernel_w = 3;
        p.stride_h = p.stride_w = plane.stride;
        p.pad_top = p.pad_left = 1;
        p.out_h = p.out_w = (plane.size + 2 - 3) / plane.stride + 1;
        p.output_min = 0.0f;
        p.output_max = 6.0f;
        std::vector<float> x(static_cast<size_t>(plane.size * plane.size));
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) * 0.1f - 0.6f;
        const float w[9] = {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f, -0.9f};
        std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w));
        std::vector<float> scratch(static_cast<size_t>(dwconv2d_f32_scratch_floats(p)));
        for (auto _ : state) {
          dwconv2d_f32(p, x.data(), w, 0.5f, y.data(), scratch.data());
          benchmark::DoNotOptimize(y.data());
        }
        state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(y.size()));
        dwconv2d_f32_select_kernel("");
      })->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

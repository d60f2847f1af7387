// f32-dwconv micro-benchmarks on MobileNetV2's depthwise 3x3 layers (one channel plane per call, as the Conv
// kernel calls it), for every variant this CPU runs; items are output elements, and GFLOP/s with the share of the
// measured FMA peak (fma_peak.h):
//   build/bench/tessera_microbench --benchmark_filter=DwConv
// and f32-dwconv-nhwc on the same layers channels-last (all rows and channels of a layer in one call, bias, clamp
// 0..6), reporting GFLOP/s (the "FLOPS" counter, 2 * 9 * C * out_h * out_w per call) and "%peak":
//   build/bench/tessera_microbench --benchmark_filter=Nhwc
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fma_peak.h"
#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

namespace tessera {
namespace {

struct Plane {
  const char* name;
  int64_t size, stride;
};

const int kRegistered = [] {
  const Plane planes[] = {{"112x112_s1", 112, 1}, {"112x112_s2", 112, 2}, {"56x56_s1", 56, 1}, {"56x56_s2", 56, 2},
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
        bench::report_flops(state, 2.0 * 9 * static_cast<double>(y.size()));
        dwconv2d_f32_select_kernel("");
      })->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}();

// A buffer of `count` floats on a 64-byte boundary, as the runtime's tensors (base/tensor.cpp): with C a multiple of
// 16, every 16-channel register then loads one cache line, not two.
std::unique_ptr<float[], void (*)(void*)> aligned_floats(size_t count) {
  const size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  return {static_cast<float*>(std::aligned_alloc(64, bytes)), std::free};
}

// MobileNetV2's depthwise layers in NHWC: channels, input side, stride.
struct NhwcLayer {
  int64_t channels, size, stride;
};

const int kRegisteredNhwc = [] {
  const NhwcLayer layers[] = {{144, 56, 2}, {192, 28, 1}, {192, 28, 2}, {384, 14, 1},
                              {576, 14, 1}, {576, 14, 2}, {960, 7, 1}};
  for (const std::string& kernel : dwconv_nhwc_f32_kernel_names()) {
    for (const NhwcLayer& layer : layers) {
      const std::string name = "DwConvNhwc/3x3_C" + std::to_string(layer.channels) + "_" + std::to_string(layer.size) +
                               "x" + std::to_string(layer.size) + "_s" + std::to_string(layer.stride) + "/" + kernel;
      benchmark::RegisterBenchmark(name.c_str(), [kernel, layer](benchmark::State& state) {
        dwconv_nhwc_f32_select_kernel(kernel);
        DwConvNhwcF32Params p;
        p.channels = layer.channels;
        p.in_h = p.in_w = layer.size;
        p.kernel_h = p.kernel_w = 3;
        p.stride_h = p.stride_w = layer.stride;
        p.pad_top = p.pad_left = 1;
        p.out_h = p.out_w = (layer.size + 2 - 3) / layer.stride + 1;
        p.output_min = 0.0f;
        p.output_max = 6.0f;
        const size_t x_size = static_cast<size_t>(p.in_h * p.in_w * p.channels);
        const size_t y_size = static_cast<size_t>(p.out_h * p.out_w * p.channels);
        const size_t channels = static_cast<size_t>(p.channels);
        auto x = aligned_floats(x_size), w = aligned_floats(9 * channels), bias = aligned_floats(channels);
        auto y = aligned_floats(y_size);
        for (size_t i = 0; i < x_size; ++i) x[i] = static_cast<float>(i % 13) * 0.1f - 0.6f;
        for (size_t i = 0; i < 9 * channels; ++i) w[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
        for (size_t i = 0; i < channels; ++i) bias[i] = static_cast<float>(i % 5) * 0.1f;
        for (auto _ : state) {
          dwconv_nhwc_f32(p, x.get(), w.get(), bias.get(), nullptr, y.get(), 0, p.out_h, 0, p.channels);
          benchmark::DoNotOptimize(y.get());
        }
        bench::report_flops(state, 2.0 * 9 * static_cast<double>(y_size));
        dwconv_nhwc_f32_select_kernel("");
      })->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

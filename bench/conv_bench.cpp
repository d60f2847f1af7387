// Convolution micro-benchmarks, one per engine of ops/conv (conv_f32), on ResNet-50's and MobileNetV2's layers,
// one thread, reporting GFLOP/s and the share of the measured FMA peak (fma_peak.h):
//   build/bench/tessera_microbench --benchmark_filter=Conv/
// Engines: winograd (F(4x4, 3x3), 3x3 stride 1), winograd_f2 (F(2x2, 3x3): small planes), im2col_panels (implicit
// im2col packed into GEMM panels: the same 3x3 layers without Winograd, so the pair shows Winograd's gain, and strided
// 3x3), rows_in_place (stems: the im2col rows read in place), pointwise (1x1 as one GEMM on the planes),
// pointwise_transposed (x^T W^T for small planes), depthwise (f32-dwconv). Flops are the direct convolution's, 2 * M *
// C/group * kernel * outputs, for every engine (Winograd does fewer multiplications, so it can pass 100% of peak).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fma_peak.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/conv_kernels.h"
#include "ops/conv/winograd.h"

namespace tessera {
namespace {

enum class Engine { kWinograd, kWinogradF2, kPanels, kRowsInPlace, kPointwise, kPointwiseTransposed, kDepthwise };

struct Layer {
  const char* what;
  Engine engine;
  int64_t in_channels, out_channels, size, kernel, stride, pad, group;
};

constexpr Layer kLayers[] = {
    {"r50_3x3_64_56", Engine::kWinograd, 64, 64, 56, 3, 1, 1, 1},
    {"r50_3x3_64_56", Engine::kPanels, 64, 64, 56, 3, 1, 1, 1},
    {"r50_3x3_128_28", Engine::kWinograd, 128, 128, 28, 3, 1, 1, 1},
    {"r50_3x3_128_28", Engine::kPanels, 128, 128, 28, 3, 1, 1, 1},
    {"r50_3x3_256_14", Engine::kWinograd, 256, 256, 14, 3, 1, 1, 1},
    {"r50_3x3_256_14", Engine::kWinogradF2, 256, 256, 14, 3, 1, 1, 1},
    {"r50_3x3_256_14", Engine::kPanels, 256, 256, 14, 3, 1, 1, 1},
    {"r50_3x3_512_7", Engine::kWinograd, 512, 512, 7, 3, 1, 1, 1},
    {"r50_3x3_512_7", Engine::kWinogradF2, 512, 512, 7, 3, 1, 1, 1},
    {"r50_3x3_512_7", Engine::kPanels, 512, 512, 7, 3, 1, 1, 1},
    {"r50_3x3_512_7", Engine::kPointwiseTransposed, 512, 512, 7, 3, 1, 1, 1},
    {"r50_3x3s2_128_56", Engine::kPanels, 128, 128, 56, 3, 2, 1, 1},
    {"r50_3x3s2_256_28", Engine::kPanels, 256, 256, 28, 3, 2, 1, 1},
    {"r50_3x3s2_256_28", Engine::kPointwiseTransposed, 256, 256, 28, 3, 2, 1, 1},
    {"r50_3x3s2_512_14", Engine::kPanels, 512, 512, 14, 3, 2, 1, 1},
    {"r50_3x3s2_512_14", Engine::kPointwiseTransposed, 512, 512, 14, 3, 2, 1, 1},
    {"r50_stem_7x7s2", Engine::kRowsInPlace, 3, 64, 224, 7, 2, 3, 1},
    {"mbv2_stem_3x3s2", Engine::kRowsInPlace, 3, 32, 224, 3, 2, 1, 1},
    {"r50_1x1_64_256_56", Engine::kPointwise, 64, 256, 56, 1, 1, 0, 1},
    {"r50_1x1_1024_256_14", Engine::kPointwise, 1024, 256, 14, 1, 1, 0, 1},
    {"r50_1x1_1024_256_14", Engine::kPointwiseTransposed, 1024, 256, 14, 1, 1, 0, 1},
    {"r50_1x1_256_1024_14", Engine::kPointwise, 256, 1024, 14, 1, 1, 0, 1},
    {"r50_1x1_256_1024_14", Engine::kPointwiseTransposed, 256, 1024, 14, 1, 1, 0, 1},
    {"r50_1x1_512_128_28", Engine::kPointwise, 512, 128, 28, 1, 1, 0, 1},
    {"r50_1x1_512_128_28", Engine::kPointwiseTransposed, 512, 128, 28, 1, 1, 0, 1},
    {"r50_1x1_256_512_28", Engine::kPointwise, 256, 512, 28, 1, 1, 0, 1},
    {"r50_1x1_256_512_28", Engine::kPointwiseTransposed, 256, 512, 28, 1, 1, 0, 1},
    {"r50_1x1_128_512_28", Engine::kPointwise, 128, 512, 28, 1, 1, 0, 1},
    {"r50_1x1_128_512_28", Engine::kPointwiseTransposed, 128, 512, 28, 1, 1, 0, 1},
    {"r50_1x1_512_256_28", Engine::kPointwise, 512, 256, 28, 1, 1, 0, 1},
    {"r50_1x1_512_256_28", Engine::kPointwiseTransposed, 512, 256, 28, 1, 1, 0, 1},
    {"r50_1x1_1024_512_14", Engine::kPointwise, 1024, 512, 14, 1, 1, 0, 1},
    {"r50_1x1_1024_512_14", Engine::kPointwiseTransposed, 1024, 512, 14, 1, 1, 0, 1},
    {"r50_1x1_2048_512_7", Engine::kPointwise, 2048, 512, 7, 1, 1, 0, 1},
    {"r50_1x1_2048_512_7", Engine::kPointwiseTransposed, 2048, 512, 7, 1, 1, 0, 1},
    {"r50_1x1_512_2048_7", Engine::kPointwise, 512, 2048, 7, 1, 1, 0, 1},
    {"r50_1x1_512_2048_7", Engine::kPointwiseTransposed, 512, 2048, 7, 1, 1, 0, 1},
    {"sq_1x1_256_32_27", Engine::kPointwise, 256, 32, 27, 1, 1, 0, 1},
    {"sq_1x1_256_32_27", Engine::kPointwiseTransposed, 256, 32, 27, 1, 1, 0, 1},
    {"sq_1x1_512_64_13", Engine::kPointwise, 512, 64, 13, 1, 1, 0, 1},
    {"sq_1x1_512_64_13", Engine::kPointwiseTransposed, 512, 64, 13, 1, 1, 0, 1},
    {"sq_1x1_384_48_13", Engine::kPointwise, 384, 48, 13, 1, 1, 0, 1},
    {"sq_1x1_384_48_13", Engine::kPointwiseTransposed, 384, 48, 13, 1, 1, 0, 1},
    {"mbv2_1x1_960_160_7", Engine::kPointwiseTransposed, 960, 160, 7, 1, 1, 0, 1},
    {"mbv2_dw_144_56", Engine::kDepthwise, 144, 144, 56, 3, 1, 1, 144},
    {"mbv2_1x1_32_16_112", Engine::kPointwise, 32, 16, 112, 1, 1, 0, 1},
    {"mbv2_1x1_16_96_112", Engine::kPointwise, 16, 96, 112, 1, 1, 0, 1},
    {"mbv2_1x1_96_24_56", Engine::kPointwise, 96, 24, 56, 1, 1, 0, 1},
    {"mbv2_1x1_24_144_56", Engine::kPointwise, 24, 144, 56, 1, 1, 0, 1},
    {"sq_1x1_512_1000_13", Engine::kPointwise, 512, 1000, 13, 1, 1, 0, 1},
    {"sq_1x1_512_1000_13", Engine::kPointwiseTransposed, 512, 1000, 13, 1, 1, 0, 1},
};

const char* engine_name(Engine e) {
  switch (e) {
    case Engine::kWinograd:
      return "winograd";
    case Engine::kWinogradF2:
      return "winograd_f2";
    case Engine::kPanels:
      return "im2col_panels";
    case Engine::kRowsInPlace:
      return "rows_in_place";
    case Engine::kPointwise:
      return "pointwise";
    case Engine::kPointwiseTransposed:
      return "pointwise_transposed";
    case Engine::kDepthwise:
      return "depthwise";
  }
  return "?";
}

std::vector<float> random_floats(int64_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = uniform(rng);
  return v;
}

void run_conv(benchmark::State& state, const Layer& l) {
  conv::ConvAttributes attrs;
  attrs.group = l.group;
  attrs.strides = {l.stride, l.stride};
  attrs.pads = {l.pad, l.pad, l.pad, l.pad};
  const std::vector<int64_t> x_shape{1, l.in_channels, l.size, l.size};
  const std::vector<int64_t> w_shape{l.out_channels, l.in_channels / l.group, l.kernel, l.kernel};
  const conv::ConvGeometry g = conv::conv_geometry(attrs, x_shape, w_shape, "Conv");
  const int64_t depth = l.in_channels / l.group * g.kernel_size;
  const std::vector<float> x = random_floats(l.in_channels * g.in_size, 1);
  const std::vector<float> w = random_floats(l.out_channels * depth, 2);
  const std::vector<float> bias = random_floats(l.out_channels, 3);
  std::vector<float> y(static_cast<size_t>(l.out_channels * g.out_size));
  std::vector<PackedGemmF32> packed;
  PackedGemmF32 transposed;
  std::shared_ptr<const conv::WinogradWeights> winograd;
  conv::ConvF32Args args{g, x.data(), w.data(), nullptr, bias.data(), y.data()};
  switch (l.engine) {
    case Engine::kWinograd:
    case Engine::kWinogradF2:
      winograd =
          conv::make_winograd_weights(w.data(), l.out_channels, l.in_channels, l.engine == Engine::kWinogradF2 ? 2 : 4);
      args.winograd = winograd.get();
      args.w = nullptr;
      break;
    case Engine::kPanels:
    case Engine::kRowsInPlace:
    case Engine::kPointwise:
      packed.push_back(pack_gemm_a_f32(false, l.out_channels, depth, w.data(), depth));
      args.packed = &packed;
      args.w = nullptr;
      break;
    case Engine::kPointwiseTransposed:
      transposed = pack_gemm_b_f32(true, depth, l.out_channels, w.data(), depth);
      args.packed_transposed = &transposed;
      args.w = nullptr;
      break;
    case Engine::kDepthwise:
      break;
  }
  SerialParallelism serial;
  for (auto _ : state) {
    conv::conv_f32(args, serial);
    benchmark::DoNotOptimize(y.data());
  }
  bench::report_flops(state, 2.0 * static_cast<double>(l.out_channels * depth * g.out_size));
}

const int kRegistered = [] {
  for (const Layer& l : kLayers) {
    const std::string name = std::string("Conv/") + l.what + "/" + engine_name(l.engine);
    benchmark::RegisterBenchmark(name.c_str(), [l](benchmark::State& state) {
      run_conv(state, l);
    })->Unit(benchmark::kMicrosecond);
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

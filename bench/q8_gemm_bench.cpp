// q8 GEMM micro-benchmarks on the BERT-base shapes (and two ResNet-50 ones), for every micro-kernel this CPU
// runs, with B packed once (constant weights) and A (uint8 activations) packed per call as the operators do:
//   build/bench/tessera_microbench --benchmark_filter=Q8Gemm
// Reports GOP/s (the "OPS" counter: 2 * m * n * k per call), to set beside the f32 Gemm benchmarks' GFLOP/s.
// ".../s32_out_b7" runs a B whose bytes fit in 7 bits (reduced-range weights, int8 in [-64, 64]), which the AVX2
// variant packs for its vpmaddubsw tile (q8_gemm_b7_ukernel_4x16__avx2; the VNNI variants as any B);
// ".../s32_out_b_zp0" a B of zero point 0, as symmetric int8 weights are, which it keeps as bytes widened in the
// tile (q8_gemm_b8_ukernel_4x16__avx2).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/q8-gemm/q8_gemm.h"

namespace tessera {
namespace {

struct Shape {
  const char* what;
  int64_t m, n, k;
};
constexpr Shape kShapes[] = {
    {"bert_qkv", 128, 768, 768},
    {"bert_ffn_up", 128, 3072, 768},
    {"bert_ffn_down", 128, 768, 3072},
    {"r50_conv2_1x1", 3136, 256, 64},
    {"r50_conv3_3x3", 784, 128, 1152},
    {"r50_expand_nchw", 256, 3136, 64},  // ResNet-50 layer1 conv3 as QLinearConv runs it: weights as A, x as B
    {"lstm_step", 1, 1024, 256},         // lstm_speech's h R^T at batch 1 (hidden 256, four gates)
    {"lstm_step_b8", 8, 1024, 256},      // the same at batch 8
};

std::vector<uint8_t> random_bytes(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(count);
  for (uint8_t& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

// uint8 A (zero point 128) by default, as activations usually are; int8 A (zero point 0) takes the packed-A path.
void run_q8_gemm(benchmark::State& state, const Shape& shape, const std::string& kernel, bool float_out, bool a_signed,
                 bool narrow_b, bool symmetric_b) {
  if (!q8_gemm_select_kernel(kernel)) {
    state.SkipWithError("kernel not runnable on this CPU");
    return;
  }
  const auto a = random_bytes(static_cast<size_t>(shape.m * shape.k), 1);
  auto b = random_bytes(static_cast<size_t>(shape.k * shape.n), 2);
  if (narrow_b) {
    for (uint8_t& x : b) x = static_cast<uint8_t>(static_cast<int>(x % 129) - 64);
  }
  const int32_t b_zero_point = symmetric_b ? 0 : 3;
  const PackedQ8GemmB pb = pack_q8_gemm_b(true, false, shape.k, shape.n, b.data(), shape.n, &b_zero_point, 1);
  std::vector<int32_t> c32(static_cast<size_t>(shape.m * shape.n));
  std::vector<float> cf(static_cast<size_t>(shape.m * shape.n));
  const std::vector<float> scales(static_cast<size_t>(shape.n), 0.01f);
  Q8GemmOutput out;
  out.ldc = shape.n;
  if (float_out) {
    out.c_f32 = cf.data();
    out.a_scale = 0.02f;
    out.b_scales = scales.data();
    out.b_scale_count = shape.n;
  } else {
    out.c_s32 = c32.data();
  }
  for (auto _ : state) {
    q8_gemm(shape.m, shape.n, shape.k, a.data(), shape.k, a_signed, a_signed ? 0 : 128, pb, out, nullptr);
    benchmark::DoNotOptimize(c32.data());
    benchmark::DoNotOptimize(cf.data());
  }
  state.counters["OPS"] =
      benchmark::Counter(2.0 * shape.m * shape.n * shape.k * state.iterations(), benchmark::Counter::kIsRate);
  q8_gemm_select_kernel("");
}

const int kRegistered = [] {
  for (const std::string& kernel : q8_gemm_kernel_names()) {
    for (const Shape& shape : kShapes) {
      // uint8 A to int32, uint8 A to float, int8 A to int32, uint8 A to int32 with a 7-bit B, uint8 A to int32
      // with a B of zero point 0 (symmetric int8 weights)
      for (int mode = 0; mode < 5; ++mode) {
        const bool float_out = mode == 1, a_signed = mode == 2, narrow_b = mode == 3, symmetric_b = mode == 4;
        const std::string name = std::string("Q8Gemm/") + shape.what + "/" + kernel +
                                 (float_out     ? "/f32_out"
                                  : a_signed    ? "/s32_out_int8_a"
                                  : narrow_b    ? "/s32_out_b7"
                                  : symmetric_b ? "/s32_out_b_zp0"
                                                : "/s32_out");
        benchmark::RegisterBenchmark(name.c_str(), [shape, kernel, float_out, a_signed, narrow_b,
                                                    symmetric_b](benchmark::State& state) {
          run_q8_gemm(state, shape, kernel, float_out, a_signed, narrow_b, symmetric_b);
        })->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

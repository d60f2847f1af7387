// Transpose data-movement micro-benchmarks (one thread): the strided copy behind the Transpose operator
// (tensor_ops::copy_strided_to_contiguous) on float tensors of CNN and BERT shapes. Bytes are those read plus
// those written:
//   build/bench/tessera_microbench --benchmark_filter=Transpose
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/parallel.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

struct TransposeCase {
  const char* name;
  std::vector<int64_t> in_shape;
  std::vector<int64_t> perm;
};

const int kRegistered = [] {
  const TransposeCase cases[] = {
      {"nchw_to_nhwc/1x144x28x28", {1, 144, 28, 28}, {0, 2, 3, 1}},
      {"nchw_to_nhwc/1x32x28x28", {1, 32, 28, 28}, {0, 2, 3, 1}},
      {"nhwc_to_nchw/1x1280x7x7", {1, 7, 7, 1280}, {0, 3, 1, 2}},
      {"perm0213/1x128x12x64", {1, 128, 12, 64}, {0, 2, 1, 3}},
  };
  for (const TransposeCase& c : cases) {
    const std::string name = std::string("Transpose/") + c.name;
    benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& state) {
      const size_t rank = c.in_shape.size();
      std::vector<int64_t> in_strides(rank, 1);
      for (size_t i = rank - 1; i-- > 0;) in_strides[i] = in_strides[i + 1] * c.in_shape[i + 1];
      std::vector<int64_t> out_shape(rank), src_strides(rank);
      int64_t n = 1;
      for (size_t i = 0; i < rank; ++i) {
        out_shape[i] = c.in_shape[static_cast<size_t>(c.perm[i])];
        src_strides[i] = in_strides[static_cast<size_t>(c.perm[i])];
        n *= out_shape[i];
      }
      std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 1000) * 0.01f;
      SerialParallelism serial;
      for (auto _ : state) {
        tensor_ops::copy_strided_to_contiguous(DType::kFloat, y.data(), x.data(), src_strides, out_shape, serial);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
      }
      state.SetBytesProcessed(state.iterations() * n * 2 * static_cast<int64_t>(sizeof(float)));
    })->Unit(benchmark::kMicrosecond);
  }
  return 0;
}();

}  // namespace
}  // namespace tessera

// The qu8-quantize driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/qu8-quantize/qu8-quantize.h"

#include <algorithm>
#include <cmath>

#include "kernels/qu8-quantize/qu8-quantize-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using qu8_quantize::QuantizeSet;

VariantDispatch<QuantizeSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<QuantizeSet> instance(&qu8_quantize::kPortableSet, &qu8_quantize::kAvx2Set,
                                               &qu8_quantize::kAvx512Set);
#else
  static VariantDispatch<QuantizeSet> instance(&qu8_quantize::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

// Chunks of at least kChunk elements, at most one per 32K, for splitting an array over a pool.
constexpr int64_t kChunk = 32768;

int64_t chunk_count(int64_t n, Parallelism* parallelism) {
  if (parallelism == nullptr || parallelism->thread_count() <= 1 || n < 2 * kChunk) return 1;
  return std::min<int64_t>(n / kChunk, 64);
}

}  // namespace

DynamicQuantU8 dynamic_quant_u8_params(const float* x, int64_t n, Parallelism* parallelism) {
  const int64_t chunks = chunk_count(n, parallelism);
  std::vector<float> lo(static_cast<size_t>(chunks), 0.0f), hi(static_cast<size_t>(chunks), 0.0f);
  const auto range = [&](int64_t c) {
    const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    dispatch().active().min_max(x + begin, end - begin, &lo[static_cast<size_t>(c)], &hi[static_cast<size_t>(c)]);
  };
  if (chunks == 1) {
    range(0);
  } else {
    parallelism->parallel_for(chunks, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) range(c);
    });
  }
  const float l = *std::min_element(lo.begin(), lo.end()), h = *std::max_element(hi.begin(), hi.end());
  DynamicQuantU8 q;
  q.scale = (h - l) / 255.0f;
  if (q.scale != 0) {
    const float zero = std::nearbyint(-l / q.scale);
    q.zero_point = static_cast<uint8_t>(zero > 0.0f ? (zero < 255.0f ? zero : 255.0f) : 0.0f);
  }
  return q;
}

void quantize_u8(const float* x, int64_t n, const DynamicQuantU8& q, uint8_t* y, Parallelism* parallelism) {
  if (q.scale == 0) {
    for (int64_t i = 0; i < n; ++i) y[i] = q.zero_point;
    return;
  }
  const int64_t chunks = chunk_count(n, parallelism);
  const auto run = [&](int64_t c) {
    const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    dispatch().active().quantize(x + begin, end - begin, q.scale, static_cast<float>(q.zero_point), y + begin);
  };
  if (chunks == 1) {
    run(0);
    return;
  }
  parallelism->parallel_for(chunks, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) run(c);
  });
}

const char* qu8_quantize_kernel_name() { return dispatch().active().name; }
std::vector<std::string> qu8_quantize_kernel_names() { return dispatch().names(); }
bool qu8_quantize_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera

// The baseline (SSE2) and AVX2+FMA instances of the float loops of reduce_util.h (vector_f32_impl.h), the AVX-512
// one from vector_f32-avx512.cpp, and their run-time choice (VariantDispatch: CPUID, or a test's selection). The
// variants sum in different orders (4, 8 or 16 partial sums), so their results differ in the last bits.
#include <string>
#include <vector>

#include "kernels/variant_dispatch.h"
#include "ops/reduction/reduce_util.h"
#include "ops/reduction/vector_f32_impl.h"

namespace tessera {
namespace {

const VectorF32Set kBaseline = make_vector_f32_set<4>("f32_vector__portable");

#if defined(__x86_64__)
// The AVX2 loops: each compiled under the target attribute, so the always-inline templates inline into them.
[[gnu::target("avx2,fma")]] float max_avx2(const float* x, int64_t n) { return max_impl<8>(x, n); }
[[gnu::target("avx2,fma")]] float sum_avx2(const float* x, int64_t n) { return sum_impl<8>(x, n); }
[[gnu::target("avx2,fma")]] float exp_sum_store_avx2(const float* x, float* y, int64_t n, float s) {
  return exp_sum_impl<8, true>(x, y, n, s);
}
[[gnu::target("avx2,fma")]] float exp_sum_avx2(const float* x, float* y, int64_t n, float s) {
  return exp_sum_impl<8, false>(x, y, n, s);
}
[[gnu::target("avx2,fma")]] void softmax_row_avx2(const float* x, float* y, int64_t n, bool log) {
  softmax_row_impl<8>(x, y, n, log);
}
[[gnu::target("avx2,fma")]] void softmax_block_avx2(const float* x, float* y, int64_t n, int64_t inner, bool log) {
  softmax_block_impl<8>(x, y, n, inner, log);
}
const VectorF32Set kAvx2 = {"f32_vector__avx2", max_avx2,         sum_avx2,          exp_sum_store_avx2,
                            exp_sum_avx2,       softmax_row_avx2, softmax_block_avx2};
#endif

VariantDispatch<VectorF32Set>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<VectorF32Set> instance(&kBaseline, &kAvx2, &kVectorF32Avx512);
#else
  static VariantDispatch<VectorF32Set> instance(&kBaseline, nullptr, nullptr);
#endif
  return instance;
}

const VectorF32Set& kernels() { return dispatch().active(); }

}  // namespace

float max_f32(const float* x, int64_t n) { return kernels().max(x, n); }
float sum_f32(const float* x, int64_t n) { return kernels().sum(x, n); }
float exp_shifted_sum_f32(const float* x, float* y, int64_t n, float shift) {
  return kernels().exp_sum_store(x, y, n, shift);
}
float sum_exp_shifted_f32(const float* x, int64_t n, float shift) { return kernels().exp_sum(x, nullptr, n, shift); }
void softmax_row_f32(const float* x, float* y, int64_t n, bool log) { kernels().softmax_row(x, y, n, log); }
void softmax_block_f32(const float* x, float* y, int64_t n, int64_t inner, bool log) {
  kernels().softmax_block(x, y, n, inner, log);
}
std::vector<std::string> vector_f32_variant_names() { return dispatch().names(); }
bool vector_f32_select_variant(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera

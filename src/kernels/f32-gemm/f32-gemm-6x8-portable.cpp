// Portable f32 GEMM kernels: a 6x8 micro-kernel over GCC vector extensions (4 lanes, SSE2 on any x86-64) and
// the GEMV loops. Built with the project's default flags; the fallback when neither AVX2 nor AVX-512 is there.
#include "kernels/f32-gemm/f32-gemm-ukernel-impl.h"

namespace tessera::f32_gemm {
namespace {

struct Portable {
  using Vec = float __attribute__((vector_size(16)));
  static constexpr int kLanes = 4;
  static Vec zero() { return Vec{0.0f, 0.0f, 0.0f, 0.0f}; }
  static Vec set1(float v) { return Vec{v, v, v, v}; }
  static Vec load(const float* p) {
    Vec v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof(v)); }
  static Vec mul(Vec a, Vec b) { return a * b; }
  static Vec add(Vec a, Vec b) { return a + b; }
  // As x86's minps / maxps: the second operand when either is NaN.
  static Vec min(Vec a, Vec b) { return a < b ? a : b; }
  static Vec max(Vec a, Vec b) { return a > b ? a : b; }
  static Vec fma(Vec a, Vec b, Vec c) { return a * b + c; }
  static float reduce_add(Vec v) { return (v[0] + v[1]) + (v[2] + v[3]); }
  static constexpr bool kTransposes = false;  // store_transposed stores element by element
  static constexpr bool kPrefetchPackedBIntoL2 = true;  // as before the choice was per ISA (not measured)
};

constexpr int kMr = 6;
constexpr int kNv = 2;

}  // namespace

const UkernelSet kPortableSet = {
    .name = "f32_gemm_ukernel_6x8__portable",
    .mr = kMr,
    .nr = kNv * Portable::kLanes,
    .kc = 256,
    .mc = 72,
    .nc = 1024,
    .transposed_store_steps = 8,             // as AVX-512 (not measured)
    .direct_b_max_reread_bytes = INT64_MAX,  // as AVX-512 (not measured)
    .direct_a_block_bytes = 0,               // not measured
    .by_rows = {gemm_ukernel<Portable, kMr, kNv, 1>, gemm_ukernel<Portable, kMr, kNv, 2>,
                gemm_ukernel<Portable, kMr, kNv, 3>, gemm_ukernel<Portable, kMr, kNv, 4>,
                gemm_ukernel<Portable, kMr, kNv, 5>, gemm_ukernel<Portable, kMr, kNv, 6>},
    .direct_a_by_rows = {gemm_ukernel_direct_a<Portable, kNv, 1>, gemm_ukernel_direct_a<Portable, kNv, 2>,
                         gemm_ukernel_direct_a<Portable, kNv, 3>, gemm_ukernel_direct_a<Portable, kNv, 4>,
                         gemm_ukernel_direct_a<Portable, kNv, 5>, gemm_ukernel_direct_a<Portable, kNv, 6>},
    .direct_b_by_rows = {gemm_ukernel_direct_b<Portable, kMr, kNv, 1>, gemm_ukernel_direct_b<Portable, kMr, kNv, 2>,
                         gemm_ukernel_direct_b<Portable, kMr, kNv, 3>, gemm_ukernel_direct_b<Portable, kMr, kNv, 4>,
                         gemm_ukernel_direct_b<Portable, kMr, kNv, 5>, gemm_ukernel_direct_b<Portable, kMr, kNv, 6>},
    .direct_at_by_rows = {gemm_ukernel_direct_at<Portable, kMr, kNv, 1>, gemm_ukernel_direct_at<Portable, kMr, kNv, 2>,
                          gemm_ukernel_direct_at<Portable, kMr, kNv, 3>, gemm_ukernel_direct_at<Portable, kMr, kNv, 4>,
                          gemm_ukernel_direct_at<Portable, kMr, kNv, 5>, gemm_ukernel_direct_at<Portable, kMr, kNv, 6>},
    .rows_b_by_rows = {gemm_ukernel_rows_b<Portable, kMr, kNv, 1>, gemm_ukernel_rows_b<Portable, kMr, kNv, 2>,
                       gemm_ukernel_rows_b<Portable, kMr, kNv, 3>, gemm_ukernel_rows_b<Portable, kMr, kNv, 4>,
                       gemm_ukernel_rows_b<Portable, kMr, kNv, 5>, gemm_ukernel_rows_b<Portable, kMr, kNv, 6>},
    .rows_b_half_by_rows = {gemm_ukernel_rows_b<Portable, kMr, kNv / 2, 1>,
                            gemm_ukernel_rows_b<Portable, kMr, kNv / 2, 2>,
                            gemm_ukernel_rows_b<Portable, kMr, kNv / 2, 3>,
                            gemm_ukernel_rows_b<Portable, kMr, kNv / 2, 4>,
                            gemm_ukernel_rows_b<Portable, kMr, kNv / 2, 5>,
                            gemm_ukernel_rows_b<Portable, kMr, kNv / 2, 6>},
    .row_panels = row_panels<Portable, kNv>,
    .gemv = gemv<Portable>,
    .gemv_trans = gemv_trans<Portable>,
    .store_transposed = store_transposed<Portable>,
};

}  // namespace tessera::f32_gemm

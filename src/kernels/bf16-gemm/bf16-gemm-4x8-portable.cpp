// bf16-gemm for any CPU (the baseline ISA of the build): a 4x8 tile of scalar float32 sums, each pair of depth
// steps widened and accumulated in depth order.
#include "kernels/bf16-gemm/bf16-gemm-impl.h"

namespace tessera::bf16gemm {
namespace {

struct Pair {
  float low, high;
};

struct Scalar {
  using Vec = float;
  using AVec = Pair;
  using BVec = Pair;
  static constexpr int kLanes = 1;
  static Vec zero() { return 0.0f; }
  static Vec set1(float v) { return v; }
  static Vec load(const float* p) { return *p; }
  static void store(float* p, Vec v) { *p = v; }
  static Vec mul(Vec a, Vec b) { return a * b; }
  static Vec add(Vec a, Vec b) { return a + b; }
  // As minps / maxps: the second operand when either is NaN.
  static Vec min(Vec a, Vec b) { return a < b ? a : b; }
  static Vec max(Vec a, Vec b) { return a > b ? a : b; }
  static BVec load_b(const uint16_t* p) {
    const uint32_t pair = load_pair(p);
    return {pair_low(pair), pair_high(pair)};
  }
  static AVec broadcast_a(uint32_t pair) { return {pair_low(pair), pair_high(pair)}; }
  static Vec dot(Vec acc, const AVec& a, const BVec& b) { return acc + a.low * b.low + a.high * b.high; }
};

}  // namespace

const Bf16GemmSet kPortableSet = make_set<Scalar, 4, 8>("bf16_gemm_ukernel_4x8__portable");
}  // namespace tessera::bf16gemm

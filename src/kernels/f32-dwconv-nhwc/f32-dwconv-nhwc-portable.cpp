// f32-dwconv-nhwc for the baseline ISA (portable fallback): the loops of f32-dwconv-nhwc-impl.h over GCC vector
// extensions of 4 floats (SSE2 on any x86-64, the target's own vectors or scalars elsewhere), no intrinsics; the
// channel tail goes lane by lane.
#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc-impl.h"

namespace tessera::f32_dwconv_nhwc {
namespace {

struct Portable {
  using Vec = float __attribute__((vector_size(16)));
  static constexpr int kLanes = 4;
  static constexpr int kVectors = 1;
  static constexpr int kPixelsStride1 = 4;
  static constexpr int kPixelsStride2 = 2;
  static Vec zero() { return Vec{0.0f, 0.0f, 0.0f, 0.0f}; }
  static Vec set1(float v) { return Vec{v, v, v, v}; }
  static Vec load(const float* p) {
    Vec v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
  }
  static void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof(v)); }
  static Vec add(Vec a, Vec b) { return a + b; }
  // As x86's minps / maxps: the second operand when either is NaN.
  static Vec min(Vec a, Vec b) { return a < b ? a : b; }
  static Vec max(Vec a, Vec b) { return a > b ? a : b; }
  static Vec fma(Vec a, Vec b, Vec c) { return a * b + c; }
  // A mask is the count of leading lanes on.
  using Mask = int;
  static Mask first(int n) { return n; }
  static Vec load_masked(const float* p, Mask n) {
    Vec v = zero();
    for (int i = 0; i < n; ++i) v[i] = p[i];
    return v;
  }
  static void store_masked(float* p, Mask n, Vec v) {
    for (int i = 0; i < n; ++i) p[i] = v[i];
  }
};

}  // namespace

const DwConvNhwcSet kPortableSet = {"f32_dwconv_nhwc__portable", dwconv_nhwc<Portable>};

}  // namespace tessera::f32_dwconv_nhwc

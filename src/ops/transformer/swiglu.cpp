// SwiGLU (opset 28): Y = A * sigmoid(alpha * A) * B for A and B of one shape and dtype (no broadcasting).
// Each step rounds to the inputs' type as the reference computes it.
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/transformer/transformer_common.h"

namespace tessera {
namespace {

using transformer::Precision;

constexpr int64_t kChunk = 4096;  // elements converted at a time

void compute_swiglu(float alpha, KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  transformer::check_float_input(a, "SwiGLU", "A");
  check_argument(a.dtype() == b.dtype() && a.shape() == b.shape(), "SwiGLU: A ", tensor_text(a), " and B ",
                 tensor_text(b), " must have the same shape and dtype (no broadcasting)");
  Tensor& y = ctx.allocate_output(0, a.dtype(), a.shape());
  const Precision p = transformer::precision_of(a.dtype());
  auto r = [p](float v) { return transformer::round_to(p, v); };
  const float neg_alpha = -r(alpha);
  const int64_t chunks = (a.element_count() + kChunk - 1) / kChunk;
  ctx.parallelism().parallel_for(chunks, [&](int64_t begin, int64_t end) {
    std::vector<float> av(kChunk), bv(kChunk);
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      const int64_t offset = chunk * kChunk;
      const int64_t n = std::min(kChunk, a.element_count() - offset);
      transformer::load_floats(a, offset, n, av.data());
      transformer::load_floats(b, offset, n, bv.data());
      for (int64_t i = 0; i < n; ++i) {
        const float sigmoid = r(1.0f / r(1.0f + r(std::exp(r(neg_alpha * av[i])))));
        av[i] = r(r(av[i] * sigmoid) * bv[i]);
      }
      transformer::store_floats(av.data(), n, y, offset);
    }
  });
}

std::unique_ptr<Kernel> make_swiglu(const KernelInfo& info) {
  const float alpha = info.node.attr_float("alpha", 1.0f);
  return make_kernel([alpha](KernelContext& ctx) { compute_swiglu(alpha, ctx); });
}

const RegisterOp kSwiGLU{{.op_type = "SwiGLU",
                          .since_version = 28,
                          .last_version = INT_MAX,
                          .factory = make_swiglu,
                          .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

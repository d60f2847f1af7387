// Swish (opset 24): y = x * sigmoid(alpha * x), elementwise over float tensors.
#include <climits>
#include <cmath>

#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace elementwise;

struct SwishOp {
  float alpha;
  float operator()(float x) const { return x * fast_math::sigmoid_f32(alpha * x); }
  double operator()(double x) const {
    const double z = static_cast<double>(alpha) * x;
    // Both branches avoid exp overflow: sigmoid(z) = 1 / (1 + e^-z) = e^z / (1 + e^z).
    const double sigmoid = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
    return x * sigmoid;
  }
};

std::unique_ptr<Kernel> make_swish(const KernelInfo& info) {
  return make_unary_kernel<kFloatTypes>(SwishOp{info.node.attr_float("alpha", 1.0f)}, kTranscendentalGrain);
}

const RegisterOp kSwish{{.op_type = "Swish",
                         .since_version = 24,
                         .last_version = INT_MAX,
                         .factory = make_swish,
                         .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

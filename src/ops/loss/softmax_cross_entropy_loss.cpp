// SoftmaxCrossEntropyLoss, opsets 12 and 13 (adds bfloat16; same semantics): log_softmax of the scores
// along axis 1, then the negative log likelihood loss of NegativeLogLikelihoodLoss; the optional second
// output is the log-probabilities. All types are accepted at every opset.
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

#include "ops/image/element_values.h"
#include "ops/loss/loss_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// log_softmax over the class axis of an (N, C, D) layout, in place.
void log_softmax_classes(std::vector<double>& x, const LossGeometry& g, Parallelism& parallelism) {
  const int64_t c = g.classes, d = g.inner;
  parallelism.parallel_for(g.batch * d, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      double* base = x.data() + (r / d) * c * d + r % d;
      double max_value = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < c; ++j) max_value = std::max(max_value, base[j * d]);
      double sum = 0.0;
      for (int64_t j = 0; j < c; ++j) sum += std::exp(base[j * d] - max_value);
      const double shift = max_value + std::log(sum);
      for (int64_t j = 0; j < c; ++j) base[j * d] -= shift;
    }
  });
}

std::unique_ptr<Kernel> make_softmax_cross_entropy_loss(const KernelInfo& info) {
  const LossAttributes attrs = parse_loss_attributes(info.node);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& scores = ctx.input(0);
    const Tensor& labels = ctx.input(1);
    const Tensor* weight = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const LossGeometry geometry = check_loss_inputs(scores, labels, weight, "scores", "labels");
    std::vector<double> log_prob = tensor_to_doubles(scores, "input 'scores'");
    log_softmax_classes(log_prob, geometry, ctx.parallelism());
    ctx.set_output(0, compute_nll_loss(log_prob, geometry, labels, weight, attrs, scores.dtype()));
    if (ctx.output_wanted(1)) {
      Tensor& out = ctx.allocate_output(1, scores.dtype(), scores.shape());
      store_doubles(log_prob.data(), out);
    }
  });
}

const RegisterOp kSoftmaxCrossEntropyLoss{{.op_type = "SoftmaxCrossEntropyLoss",
                                           .since_version = 12,
                                           .last_version = INT_MAX,
                                           .factory = make_softmax_cross_entropy_loss,
                                           .infer = infer_loss}};

}  // namespace
}  // namespace tessera

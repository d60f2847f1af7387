// NegativeLogLikelihoodLoss, opsets 12, 13 (same semantics) and 22 (adds bfloat16): the loss of
// log-probabilities (N, C, d1..dk) against class targets (N, d1..dk) with optional class weights,
// ignore_index and reduction none/sum/mean. All types are accepted at every opset.
#include <climits>

#include "ops/image/element_values.h"
#include "ops/loss/loss_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_negative_log_likelihood_loss(const KernelInfo& info) {
  const LossAttributes attrs = parse_loss_attributes(info.node);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    const Tensor& target = ctx.input(1);
    const Tensor* weight = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const LossGeometry geometry = check_loss_inputs(input, target, weight, "input", "target");
    const std::vector<double> log_prob = tensor_to_doubles(input, "input 'input'");
    ctx.set_output(0, compute_nll_loss(log_prob, geometry, target, weight, attrs, input.dtype()));
  });
}

const RegisterOp kNegativeLogLikelihoodLoss{{.op_type = "NegativeLogLikelihoodLoss",
                                             .since_version = 12,
                                             .last_version = INT_MAX,
                                             .factory = make_negative_log_likelihood_loss,
                                             .infer = infer_loss}};

}  // namespace
}  // namespace tessera

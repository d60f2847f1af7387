// If: runs the then_branch or else_branch subgraph on a scalar boolean condition.
#include <climits>

#include "base/lazy_text.h"
#include "ops/registry.h"

namespace tessera {
namespace {

bool read_condition(const Tensor& cond) {
  check_argument(cond.element_count() == 1, "the condition must hold one element, got ", tensor_text(cond));
  if (cond.dtype() == DType::kBool) return cond.data<bool>()[0];
  fail(ErrorCode::kInvalidArgument, "the condition must be bool, got ", cond.description());
}

std::unique_ptr<Kernel> make_if(const KernelInfo& info) {
  const auto then_graph = info.node.attr_graph("then_branch");
  const auto else_graph = info.node.attr_graph("else_branch");
  check_model(then_graph && else_graph, info.node.label(), ": If needs then_branch and else_branch graphs");
  std::shared_ptr<CompiledSubgraph> then_branch = info.compile_subgraph(*then_graph);
  std::shared_ptr<CompiledSubgraph> else_branch = info.compile_subgraph(*else_graph);
  return make_kernel([then_branch, else_branch](KernelContext& ctx) {
    const CompiledSubgraph& branch = read_condition(ctx.input(0)) ? *then_branch : *else_branch;
    std::vector<RuntimeValue> outputs = branch.run({}, ctx.outer_scope(), ctx.parallelism(), ctx.guard());
    check_argument(outputs.size() == ctx.output_count(), "the chosen branch produced ", outputs.size(),
                   " outputs, the node has ", ctx.output_count());
    for (size_t i = 0; i < outputs.size(); ++i) ctx.set_output(i, std::move(outputs[i]));
  });
}

const RegisterOp kIf{{.op_type = "If", .since_version = 1, .last_version = INT_MAX, .factory = make_if}};

}  // namespace
}  // namespace tessera

// Loop: runs the body subgraph while the trip count and condition allow, carrying values between
// iterations and stacking the body's scan outputs.
#include <climits>

#include "base/lazy_text.h"
#include "ops/controlflow/slicing.h"
#include "ops/registry.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_loop(const KernelInfo& info) {
  const auto body_graph = info.node.attr_graph("body");
  check_model(body_graph != nullptr, info.node.label(), ": Loop needs a body graph");
  std::shared_ptr<CompiledSubgraph> body = info.compile_subgraph(*body_graph);
  const size_t carried_count = info.node.inputs.size() >= 2 ? info.node.inputs.size() - 2 : 0;
  check_model(body_graph->inputs.size() == carried_count + 2, info.node.label(), ": the body takes ",
              body_graph->inputs.size(), " inputs; expected 2 + ", carried_count, " loop-carried values");
  check_model(body_graph->outputs.size() >= carried_count + 1, info.node.label(), ": the body returns too few outputs");
  const size_t scan_count = body_graph->outputs.size() - 1 - carried_count;
  std::vector<DType> scan_dtypes;
  for (size_t k = 0; k < scan_count; ++k) {
    const size_t out = carried_count + k;
    const DType d = out < info.output_types.size() ? info.output_types[out].elem_type : DType::kUndefined;
    scan_dtypes.push_back(d == DType::kUndefined ? DType::kFloat : d);
  }
  return make_kernel([body, carried_count, scan_count, scan_dtypes](KernelContext& ctx) {
    int64_t max_trips = INT64_MAX;
    if (ctx.has_input(0)) {
      const Tensor& m = ctx.input(0);
      check_argument(m.element_count() == 1 && m.dtype() == DType::kInt64, "M must be an int64 scalar, got ",
                     tensor_text(m));
      max_trips = m.data<int64_t>()[0];
    }
    bool condition = true;
    if (ctx.has_input(1)) {
      const Tensor& c = ctx.input(1);
      check_argument(c.element_count() == 1 && c.dtype() == DType::kBool, "cond must be a bool scalar, got ",
                     tensor_text(c));
      condition = c.data<bool>()[0];
    }
    std::vector<RuntimeValue> carried;
    for (size_t i = 0; i < carried_count; ++i) {
      const RuntimeValue* v = ctx.input_slot(2 + i);
      carried.push_back(v ? *v : RuntimeValue());
    }
    std::vector<std::vector<Tensor>> scans(scan_count);
    for (int64_t iteration = 0; iteration < max_trips && condition; ++iteration) {
      // An endless loop (no trip count, a condition that stays true) ends here: at the iteration limit, when
      // the run is terminated, or at its deadline.
      ctx.guard().check_loop_iteration(ctx.node(), iteration);
      ctx.guard().check(ctx.node());
      std::vector<RuntimeValue> inputs;
      inputs.emplace_back(Tensor::scalar<int64_t>(DType::kInt64, iteration));
      inputs.emplace_back(Tensor::scalar<bool>(DType::kBool, condition));
      for (RuntimeValue& v : carried) inputs.push_back(v);
      std::vector<RuntimeValue> outputs = body->run(inputs, ctx.outer_scope(), ctx.parallelism(), ctx.guard());
      const Tensor& next = outputs[0].tensor();
      check_argument(next.element_count() == 1 && next.dtype() == DType::kBool, "the body's condition output must be a bool scalar");
      condition = next.data<bool>()[0];
      for (size_t i = 0; i < carried_count; ++i) carried[i] = std::move(outputs[1 + i]);
      for (size_t k = 0; k < scan_count; ++k) {
        const RuntimeValue& s = outputs[1 + carried_count + k];
        check_argument(s.is_tensor(), "scan output ", k, " must be a tensor, got ", s.description());
        scans[k].push_back(s.tensor());
      }
    }
    for (size_t i = 0; i < carried_count; ++i) ctx.set_output(i, std::move(carried[i]));
    for (size_t k = 0; k < scan_count; ++k) {
      ctx.set_output(carried_count + k, stack_slices(scans[k], 0, scan_dtypes[k], {}));
    }
  });
}

const RegisterOp kLoop{{.op_type = "Loop", .since_version = 1, .last_version = INT_MAX, .factory = make_loop}};

}  // namespace
}  // namespace tessera

// Scan: runs the body once per slice of the scan inputs, carrying state, and stacks the scan outputs.
// Opset 8 has a leading batch axis on every input and output and an optional sequence_lens input.
#include <algorithm>
#include <climits>

#include "ops/common/op_utils.h"
#include "ops/controlflow/slicing.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct ScanAttributes {
  size_t state_count = 0;
  size_t scan_input_count = 0;
  size_t scan_output_count = 0;
  std::vector<int64_t> input_axes;
  std::vector<int64_t> input_directions;
  std::vector<int64_t> output_axes;
  std::vector<int64_t> output_directions;
};

// One scan over unbatched inputs: returns final states followed by the stacked scan outputs.
std::vector<RuntimeValue> scan_once(const CompiledSubgraph& body, const ScanAttributes& a, std::vector<RuntimeValue> states,
                                    const std::vector<Tensor>& scan_inputs, int64_t length, KernelContext& ctx) {
  std::vector<std::vector<Tensor>> outputs(a.scan_output_count);
  std::vector<int64_t> in_axes(a.scan_input_count);
  for (size_t k = 0; k < a.scan_input_count; ++k) {
    in_axes[k] = normalize_axis(a.input_axes.empty() ? 0 : a.input_axes[k], static_cast<int64_t>(scan_inputs[k].rank()));
  }
  for (int64_t t = 0; t < length; ++t) {
    ctx.guard().check(ctx.node());
    std::vector<RuntimeValue> inputs = states;
    for (size_t k = 0; k < a.scan_input_count; ++k) {
      const bool reverse = !a.input_directions.empty() && a.input_directions[k] == 1;
      inputs.emplace_back(take_slice(scan_inputs[k], in_axes[k], reverse ? length - 1 - t : t));
    }
    std::vector<RuntimeValue> result = body.run(inputs, ctx.outer_scope(), ctx.parallelism(), ctx.guard());
    for (size_t i = 0; i < a.state_count; ++i) states[i] = result[i];
    for (size_t k = 0; k < a.scan_output_count; ++k) outputs[k].push_back(result[a.state_count + k].tensor());
  }
  std::vector<RuntimeValue> final_values = std::move(states);
  for (size_t k = 0; k < a.scan_output_count; ++k) {
    std::vector<Tensor>& slices = outputs[k];
    if (!a.output_directions.empty() && a.output_directions[k] == 1) std::reverse(slices.begin(), slices.end());
    const int64_t rank = slices.empty() ? 1 : static_cast<int64_t>(slices[0].rank()) + 1;
    const int64_t axis = normalize_axis(a.output_axes.empty() ? 0 : a.output_axes[k], rank);
    final_values.emplace_back(stack_slices(slices, axis, DType::kFloat, {}));
  }
  return final_values;
}

int64_t scan_length(const ScanAttributes& a, const std::vector<Tensor>& scan_inputs) {
  int64_t length = -1;
  for (size_t k = 0; k < scan_inputs.size(); ++k) {
    const int64_t axis = normalize_axis(a.input_axes.empty() ? 0 : a.input_axes[k], static_cast<int64_t>(scan_inputs[k].rank()));
    const int64_t n = scan_inputs[k].dim(axis);
    check_argument(length < 0 || length == n, "scan inputs disagree on the sequence length: ", length, " vs ", n);
    length = n;
  }
  return std::max<int64_t>(length, 0);
}

std::unique_ptr<Kernel> make_scan(const KernelInfo& info) {
  const auto body_graph = info.node.attr_graph("body");
  check_model(body_graph != nullptr, info.node.label(), ": Scan needs a body graph");
  std::shared_ptr<CompiledSubgraph> body = info.compile_subgraph(*body_graph);
  ScanAttributes a;
  a.scan_input_count = static_cast<size_t>(info.node.attr_int("num_scan_inputs", 0));
  const bool batched = info.opset < 9;
  const size_t data_inputs = info.node.inputs.size() - (batched ? 1 : 0);
  check_model(a.scan_input_count <= data_inputs, info.node.label(), ": num_scan_inputs exceeds the inputs");
  a.state_count = data_inputs - a.scan_input_count;
  check_model(body_graph->outputs.size() >= a.state_count, info.node.label(), ": the body returns too few outputs");
  a.scan_output_count = body_graph->outputs.size() - a.state_count;
  a.input_axes = info.node.attr_ints("scan_input_axes");
  a.input_directions = info.node.attr_ints(batched ? "directions" : "scan_input_directions");
  a.output_axes = info.node.attr_ints("scan_output_axes");
  a.output_directions = info.node.attr_ints("scan_output_directions");
  return make_kernel([body, a, batched](KernelContext& ctx) {
    const size_t first = batched ? 1 : 0;
    std::vector<RuntimeValue> states;
    for (size_t i = 0; i < a.state_count; ++i) states.push_back(ctx.input_value(first + i));
    std::vector<Tensor> scan_inputs;
    for (size_t k = 0; k < a.scan_input_count; ++k) scan_inputs.push_back(ctx.input(first + a.state_count + k));
    if (!batched) {
      std::vector<RuntimeValue> out = scan_once(*body, a, std::move(states), scan_inputs, scan_length(a, scan_inputs), ctx);
      for (size_t i = 0; i < out.size(); ++i) ctx.set_output(i, std::move(out[i]));
      return;
    }
    const int64_t batch = states.empty() ? scan_inputs.at(0).dim(0) : states[0].tensor().dim(0);
    std::vector<std::vector<Tensor>> per_output(a.state_count + a.scan_output_count);
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<RuntimeValue> batch_states;
      for (const RuntimeValue& s : states) batch_states.emplace_back(take_slice(s.tensor(), 0, b));
      std::vector<Tensor> batch_inputs;
      for (const Tensor& t : scan_inputs) batch_inputs.push_back(take_slice(t, 0, b));
      ScanAttributes inner = a;  // opset 8 axes are all 0 after removing the batch axis
      int64_t length = scan_length(inner, batch_inputs);
      if (ctx.has_input(0)) length = tensor_to_int64s(ctx.input(0)).at(b);
      std::vector<RuntimeValue> out = scan_once(*body, inner, std::move(batch_states), batch_inputs, length, ctx);
      for (size_t i = 0; i < out.size(); ++i) per_output[i].push_back(out[i].tensor());
    }
    for (size_t i = 0; i < per_output.size(); ++i) ctx.set_output(i, stack_slices(per_output[i], 0, DType::kFloat, {}));
  });
}

const RegisterOp kScan{{.op_type = "Scan", .since_version = 8, .last_version = INT_MAX, .factory = make_scan}};

}  // namespace
}  // namespace tessera

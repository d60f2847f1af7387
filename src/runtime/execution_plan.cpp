#include "runtime/execution_plan.h"

#include <new>
#include <unordered_set>

#include "base/error.h"

namespace tessera {

namespace {

// Names read by a node, including outer-scope names read inside its subgraphs.
void collect_reads(const Node& node, std::vector<std::string>& reads);

void collect_subgraph_outer_reads(const Graph& g, std::vector<std::string>& reads) {
  for (const auto& n : g.nodes) {
    std::vector<std::string> inner;
    collect_reads(*n, inner);
    for (std::string& r : inner) if (!r.empty() && !g.defines(r)) reads.push_back(std::move(r));
  }
  for (const ValueInfo& out : g.outputs) if (!g.defines(out.name)) reads.push_back(out.name);
}

void collect_reads(const Node& node, std::vector<std::string>& reads) {
  for (const std::string& in : node.inputs) reads.push_back(in);
  for (const auto& [key, attr] : node.attributes) {
    if (attr.g) collect_subgraph_outer_reads(*attr.g, reads);
    for (const auto& g : attr.graphs) if (g) collect_subgraph_outer_reads(*g, reads);
  }
}

const TypeInfo* find_type_in_scope(const Graph& graph, const std::string& name) {
  for (const Graph* g = &graph; g != nullptr; g = g->parent) {
    if (const TypeInfo* t = g->find_type(name)) return t;
  }
  return nullptr;
}

const Tensor* find_constant_in_scope(const Graph& graph, const std::string& name) {
  for (const Graph* g = &graph; g != nullptr; g = g->parent) {
    auto it = g->initializers.find(name);
    if (it == g->initializers.end()) continue;
    for (const ValueInfo& in : g->inputs) if (in.name == name) return nullptr;  // overridable by a feed
    return &it->second;
  }
  return nullptr;
}

void find_unsupported(const Graph& graph, const std::vector<std::shared_ptr<ExecutionProvider>>& providers,
                      std::vector<std::string>& out) {
  for (const auto& node : graph.nodes) {
    bool supported = false;
    for (const auto& p : providers) supported = supported || p->supports(*node);
    if (!supported) {
      out.push_back(node->op_type + " (domain '" + (node->domain.empty() ? "ai.onnx" : node->domain) + "', opset " +
                    std::to_string(node->opset) + ") at node '" + node->name + "'");
    }
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g) find_unsupported(*attr.g, providers, out);
      for (const auto& g : attr.graphs) if (g) find_unsupported(*g, providers, out);
    }
  }
}

std::string describe_inputs(const std::vector<const RuntimeValue*>& inputs) {
  std::string out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) out += ", ";
    out += inputs[i] ? inputs[i]->description() : "<missing>";
  }
  return out;
}

}  // namespace

std::vector<std::string> find_unsupported_nodes(const Graph& graph,
                                                const std::vector<std::shared_ptr<ExecutionProvider>>& providers) {
  std::vector<std::string> out;
  find_unsupported(graph, providers, out);
  return out;
}

ExecutionPlan::ExecutionPlan(const Graph& graph, const std::vector<std::shared_ptr<ExecutionProvider>>& providers)
    : graph_(graph) {
  for (const ValueInfo& in : graph.inputs) input_slots_.push_back(slot_for(in.name));
  for (const auto& [name, tensor] : graph.initializers) {
    const int slot = slot_for(name);
    constants_[slot] = RuntimeValue(tensor);
  }
  compile_steps(providers);
  for (const ValueInfo& out : graph.outputs) output_slots_.push_back(slot_for(out.name));
  for (size_t slot = 0; slot < slot_names_.size(); ++slot) {
    if (!graph.defines(slot_names_[slot])) outer_slots_.emplace_back(static_cast<int>(slot), slot_names_[slot]);
  }
  plan_releases();
}

int ExecutionPlan::slot_for(const std::string& name) {
  auto it = slot_of_.find(name);
  if (it != slot_of_.end()) return it->second;
  const int slot = static_cast<int>(slot_names_.size());
  slot_of_[name] = slot;
  slot_names_.push_back(name);
  constants_.emplace_back();
  return slot;
}

void ExecutionPlan::compile_steps(const std::vector<std::shared_ptr<ExecutionProvider>>& providers) {
  for (const auto& node_ptr : graph_.nodes) {
    const Node& node = *node_ptr;
    const ExecutionProvider* provider = nullptr;
    for (const auto& p : providers) {
      if (p->supports(node)) { provider = p.get(); break; }
    }
    if (provider == nullptr) {
      fail(ErrorCode::kUnsupported, node.label(), ": operator ", node.op_type, " (domain '",
           node.domain.empty() ? "ai.onnx" : node.domain, "', opset ", node.opset, ") is not supported");
    }
    KernelInfo info{node, node.opset, {}, {}, {}, {}};
    for (const std::string& in : node.inputs) {
      const TypeInfo* t = in.empty() ? nullptr : find_type_in_scope(graph_, in);
      info.input_types.push_back(t ? *t : TypeInfo{});
      info.constant_inputs.push_back(in.empty() ? nullptr : find_constant_in_scope(graph_, in));
    }
    for (const std::string& out : node.outputs) {
      const TypeInfo* t = out.empty() ? nullptr : graph_.find_type(out);
      info.output_types.push_back(t ? *t : TypeInfo{});
    }
    info.compile_subgraph = [providers](const Graph& subgraph) -> std::shared_ptr<CompiledSubgraph> {
      return std::make_shared<ExecutionPlan>(subgraph, providers);
    };
    Step step;
    step.node = &node;
    try {
      step.kernel = provider->create_kernel(info);
    } catch (const Error& e) {
      const std::string message = e.what();
      if (message.rfind(node.label(), 0) == 0) throw;
      throw Error(e.code() == ErrorCode::kInvalidArgument ? ErrorCode::kInvalidModel : e.code(),
                  node.label() + ": " + message);
    }
    for (const std::string& in : node.inputs) step.inputs.push_back(in.empty() ? -1 : slot_for(in));
    for (const std::string& out : node.outputs) step.outputs.push_back(out.empty() ? -1 : slot_for(out));
    node_providers_.push_back(provider->name());
    steps_.push_back(std::move(step));
  }
}

void ExecutionPlan::plan_releases() {
  std::vector<int> last_reader(slot_names_.size(), -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    std::vector<std::string> reads;
    collect_reads(*steps_[i].node, reads);
    for (const std::string& r : reads) {
      auto it = slot_of_.find(r);
      if (!r.empty() && it != slot_of_.end()) last_reader[it->second] = static_cast<int>(i);
    }
    // Outputs nobody reads are released right after they are produced.
    for (int out : steps_[i].outputs) if (out >= 0 && last_reader[out] < static_cast<int>(i)) last_reader[out] = static_cast<int>(i);
  }
  std::unordered_set<int> keep(output_slots_.begin(), output_slots_.end());
  for (size_t slot = 0; slot < last_reader.size(); ++slot) {
    if (last_reader[slot] >= 0 && !keep.count(static_cast<int>(slot))) steps_[last_reader[slot]].release.push_back(static_cast<int>(slot));
  }
}

std::vector<RuntimeValue> ExecutionPlan::run(const std::vector<RuntimeValue>& inputs, const ValueLookup& outer,
                                             Parallelism& parallelism) const {
  std::vector<RuntimeValue> slots = constants_;
  for (size_t i = 0; i < input_slots_.size() && i < inputs.size(); ++i) {
    if (!inputs[i].is_none() || inputs[i].is_optional()) slots[input_slots_[i]] = inputs[i];
  }
  for (const auto& [slot, name] : outer_slots_) {
    const RuntimeValue* v = outer ? outer(name) : nullptr;
    if (v != nullptr) slots[slot] = *v;
  }
  const ValueLookup lookup = [&](const std::string& name) -> const RuntimeValue* {
    auto it = slot_of_.find(name);
    if (it != slot_of_.end() && !(slots[it->second].is_none() && !slots[it->second].is_optional())) return &slots[it->second];
    return outer ? outer(name) : nullptr;
  };
  for (const Step& step : steps_) {
    run_step(step, slots, lookup, parallelism);
    for (int slot : step.release) slots[slot] = RuntimeValue();
  }
  std::vector<RuntimeValue> outputs;
  outputs.reserve(output_slots_.size());
  for (int slot : output_slots_) outputs.push_back(slots[slot]);
  return outputs;
}

void ExecutionPlan::run_step(const Step& step, std::vector<RuntimeValue>& slots, const ValueLookup& lookup,
                             Parallelism& parallelism) const {
  std::vector<const RuntimeValue*> inputs;
  inputs.reserve(step.inputs.size());
  for (size_t i = 0; i < step.inputs.size(); ++i) {
    const int slot = step.inputs[i];
    const RuntimeValue* v = slot < 0 ? nullptr : &slots[slot];
    if (v != nullptr && v->is_none() && !v->is_optional()) {
      fail(ErrorCode::kRuntime, step.node->label(), ": input ", i, " ('", step.node->inputs[i],
           "') has no value (an upstream node did not produce it)");
    }
    inputs.push_back(v);
  }
  std::vector<RuntimeValue> outputs(step.outputs.size());
  KernelContext context(*step.node, inputs, outputs, parallelism, lookup);
  try {
    step.kernel->compute(context);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.rfind("node '", 0) == 0) throw;  // already carries a (nested) node's context
    throw Error(e.code(), step.node->label() + ": " + message + " (inputs: " + describe_inputs(inputs) + ")");
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::kOutOfMemory, step.node->label(), ": out of memory (inputs: ", describe_inputs(inputs), ")");
  } catch (const std::exception& e) {
    fail(ErrorCode::kRuntime, step.node->label(), ": ", e.what(), " (inputs: ", describe_inputs(inputs), ")");
  }
  for (size_t i = 0; i < step.outputs.size(); ++i) {
    if (step.outputs[i] < 0) continue;
    if (outputs[i].is_none() && !outputs[i].is_optional()) {
      fail(ErrorCode::kRuntime, step.node->label(), ": the kernel produced no value for output ", i, " ('",
           step.node->outputs[i], "')");
    }
    slots[step.outputs[i]] = std::move(outputs[i]);
  }
}

}  // namespace tessera

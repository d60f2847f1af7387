#include "runtime/execution_plan.h"

#include <algorithm>
#include <new>
#include <optional>
#include <unordered_set>

#include "base/error.h"
#include "ir/node_subgraphs.h"

namespace tessera {

namespace {

// Names read by a node, including outer-scope names read inside its subgraphs.
void collect_reads(const Node& node, std::vector<std::string>& reads);

void collect_subgraph_outer_reads(const Graph& g, std::vector<std::string>& reads) {
  for (const auto& n : g.nodes) {
    std::vector<std::string> inner;
    collect_reads(*n, inner);
    for (std::string& r : inner)
      if (!r.empty() && !g.defines(r)) reads.push_back(std::move(r));
  }
  for (const ValueInfo& out : g.outputs)
    if (!g.defines(out.name)) reads.push_back(out.name);
}

void collect_reads(const Node& node, std::vector<std::string>& reads) {
  for (const std::string& in : node.inputs) reads.push_back(in);
  for (const auto& [key, attr] : node.attributes) {
    if (attr.g) collect_subgraph_outer_reads(*attr.g, reads);
    for (const auto& g : attr.graphs)
      if (g) collect_subgraph_outer_reads(*g, reads);
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
    if (it == g->initializers.end()) {
      // A subgraph input or node output of that name hides an outer initializer: the value is not constant.
      if (g->parent != nullptr && g->defines(name)) return nullptr;
      continue;
    }
    for (const ValueInfo& in : g->inputs)
      if (in.name == name) return nullptr;                // overridable by a feed
    return it->second.defined() ? &it->second : nullptr;  // undefined: released after its kernels consumed it
  }
  return nullptr;
}

// The names `node` reads, each once.
std::vector<std::string> distinct_reads(const Node& node) {
  std::vector<std::string> reads;
  collect_reads(node, reads);
  std::sort(reads.begin(), reads.end());
  reads.erase(std::unique(reads.begin(), reads.end()), reads.end());
  return reads;
}

// True when the subgraphs of `node` read `name` from the enclosing scope.
bool subgraphs_read(const Node& node, const std::string& name) {
  std::vector<std::string> reads;
  for (const auto& [key, attr] : node.attributes) {
    if (attr.g) collect_subgraph_outer_reads(*attr.g, reads);
    for (const auto& g : attr.graphs)
      if (g) collect_subgraph_outer_reads(*g, reads);
  }
  return std::find(reads.begin(), reads.end(), name) != reads.end();
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
      for (const auto& g : attr.graphs)
        if (g) find_unsupported(*g, providers, out);
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
  build(providers);
}

ExecutionPlan::ExecutionPlan(Graph& graph, const std::vector<std::shared_ptr<ExecutionProvider>>& providers,
                             ConstantRelease release)
    : graph_(graph), releasable_graph_(release == ConstantRelease::kReleaseConsumed ? &graph : nullptr) {
  build(providers);
  releasable_graph_ = nullptr;
}

void ExecutionPlan::build(const std::vector<std::shared_ptr<ExecutionProvider>>& providers) {
  for (const ValueInfo& in : graph_.inputs) input_slots_.push_back(slot_for(in.name));
  for (const auto& [name, tensor] : graph_.initializers) {
    const int slot = slot_for(name);
    if (tensor.defined()) constants_[slot] = RuntimeValue(tensor);
  }
  compile_steps(providers);
  for (const ValueInfo& out : graph_.outputs) output_slots_.push_back(slot_for(out.name));
  for (size_t slot = 0; slot < slot_names_.size(); ++slot) {
    if (!graph_.defines(slot_names_[slot])) outer_slots_.emplace_back(static_cast<int>(slot), slot_names_[slot]);
  }
  plan_releases();
  plan_concat_in_place();
}

// For each initializer the plan may release, the number of nodes that read it (directly or in subgraphs).
std::unordered_map<std::string, int> ExecutionPlan::releasable_constant_readers() const {
  std::unordered_map<std::string, int> readers;
  if (releasable_graph_ == nullptr) return readers;
  for (const auto& [name, tensor] : graph_.initializers)
    if (tensor.defined()) readers.emplace(name, 0);
  for (const ValueInfo& in : graph_.inputs) readers.erase(in.name);  // a feed may override it
  for (const ValueInfo& out : graph_.outputs) readers.erase(out.name);
  for (const auto& node : graph_.nodes) {
    for (const std::string& name : distinct_reads(*node)) {
      auto it = readers.find(name);
      if (it != readers.end()) ++it->second;
    }
  }
  return readers;
}

// Called once `node`'s kernel exists: an initializer that this kernel reads without having consumed it is kept;
// one whose last reader this was, every reader having consumed it, is released now.
void ExecutionPlan::note_compiled_reader(const Node& node, const KernelInfo& info,
                                         std::unordered_map<std::string, int>& readers) {
  if (readers.empty()) return;
  for (const std::string& name : distinct_reads(node)) {
    auto it = readers.find(name);
    if (it == readers.end()) continue;
    bool consumed = !subgraphs_read(node, name);
    for (size_t i = 0; i < node.inputs.size() && consumed; ++i) {
      if (node.inputs[i] == name && !info.consumed_constant_input(i)) consumed = false;
    }
    if (!consumed) {
      readers.erase(it);
      continue;
    }
    if (--it->second > 0) continue;
    readers.erase(it);
    constants_[slot_of_.at(name)] = RuntimeValue();
    releasable_graph_->initializers[name] = Tensor();
  }
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
  std::unordered_map<std::string, int> releasable_readers = releasable_constant_readers();
  for (const auto& node_ptr : graph_.nodes) {
    const Node& node = *node_ptr;
    const ExecutionProvider* provider = nullptr;
    for (const auto& p : providers) {
      if (p->supports(node)) {
        provider = p.get();
        break;
      }
    }
    if (provider == nullptr) {
      fail(ErrorCode::kUnsupported, node.label(), ": operator ", node.op_type, " (domain '",
           node.domain.empty() ? "ai.onnx" : node.domain, "', opset ", node.opset, ") is not supported");
    }
    KernelInfo info{node, node.opset, {}, {}, {}, {}, {}};
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
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      // A consumed constant is not passed: the kernel holds it in its own form.
      const std::string& in = node.inputs[i];
      step.inputs.push_back(in.empty() || info.consumed_constant_input(i) ? -1 : slot_for(in));
    }
    note_compiled_reader(node, info, releasable_readers);
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
    for (int out : steps_[i].outputs)
      if (out >= 0 && last_reader[out] < static_cast<int>(i)) last_reader[out] = static_cast<int>(i);
  }
  std::unordered_set<int> keep(output_slots_.begin(), output_slots_.end());
  for (size_t slot = 0; slot < last_reader.size(); ++slot) {
    if (last_reader[slot] >= 0 && !keep.count(static_cast<int>(slot)))
      steps_[last_reader[slot]].release.push_back(static_cast<int>(slot));
  }
  // Inputs a kernel may write over: intermediates (a step's outputs; never a graph input, initializer or value
  // of the enclosing scope) whose last reader is this step, read through one input of the node only and not by
  // its subgraphs (their reads count as the node's, so such a slot is released here too, but a subgraph may
  // still run after the kernel wrote it).
  std::vector<bool> produced(slot_names_.size(), false);
  for (const Step& step : steps_)
    for (int out : step.outputs)
      if (out >= 0) produced[out] = true;
  for (Step& step : steps_) {
    step.last_use.assign(step.inputs.size(), false);
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const int slot = step.inputs[i];
      if (slot < 0 || !produced[slot] || keep.count(slot)) continue;
      if (subgraphs_read(*step.node, slot_names_[slot])) continue;
      if (std::find(step.release.begin(), step.release.end(), slot) == step.release.end()) continue;
      if (std::count(step.inputs.begin(), step.inputs.end(), slot) != 1) continue;
      step.last_use[i] = true;
    }
  }
}

namespace {

// The shape `type` gives when every dimension is known, else nullopt.
std::optional<std::vector<int64_t>> static_shape(const TypeInfo* type) {
  if (type == nullptr || !type->is_tensor() || !type->shape) return std::nullopt;
  std::vector<int64_t> shape;
  for (const Dim& d : *type->shape) {
    if (!d.is_known() || d.value < 0) return std::nullopt;
    shape.push_back(d.value);
  }
  return shape;
}

}  // namespace

void ExecutionPlan::plan_concat_in_place() {
  std::vector<int> readers(slot_names_.size(), 0);  // steps reading each slot (their subgraphs included)
  std::vector<std::pair<int, size_t>> producer(slot_names_.size(), {-1, 0});  // (step, output index)
  for (size_t s = 0; s < steps_.size(); ++s) {
    for (const std::string& name : distinct_reads(*steps_[s].node)) {
      auto it = slot_of_.find(name);
      if (!name.empty() && it != slot_of_.end()) ++readers[it->second];
    }
    for (size_t o = 0; o < steps_[s].outputs.size(); ++o)
      if (steps_[s].outputs[o] >= 0) producer[steps_[s].outputs[o]] = {static_cast<int>(s), o};
  }
  const std::unordered_set<int> keep(output_slots_.begin(), output_slots_.end());
  for (size_t s = 0; s < steps_.size(); ++s) {
    Step& step = steps_[s];
    const Node& node = *step.node;
    if (node.op_type != "Concat" || !node.domain.empty() || step.outputs.size() != 1 || step.outputs[0] < 0 ||
        step.inputs.size() < 2 || !step.presets.empty()) {
      continue;
    }
    ConcatInPlace group;
    group.axis = node.attr_int("axis", 1);
    std::vector<std::pair<int, size_t>> part_of;  // per input: its producer (step, output) when a candidate
    for (int slot : step.inputs) {
      const auto [from, output] = slot < 0 ? std::pair<int, size_t>{-1, 0} : producer[slot];
      // A producer that is itself a Concat in place (its output preset already) keeps that role.
      const bool candidate = from >= 0 && from < static_cast<int>(s) && readers[slot] == 1 && !keep.count(slot) &&
                             std::count(step.inputs.begin(), step.inputs.end(), slot) == 1 &&
                             steps_[from].presets.empty();
      group.candidates.push_back(candidate);
      part_of.emplace_back(candidate ? from : -1, output);
    }
    if (std::none_of(group.candidates.begin(), group.candidates.end(), [](bool c) { return c; })) continue;
    // Static shapes give the first run its layout; otherwise the first run's shapes do.
    std::vector<std::vector<int64_t>> shapes;
    const TypeInfo* out_type = graph_.find_type(node.outputs[0]);
    for (int slot : step.inputs) {
      const std::optional<std::vector<int64_t>> shape =
          slot < 0 ? std::nullopt : static_shape(find_type_in_scope(graph_, slot_names_[slot]));
      if (!shape) break;
      shapes.push_back(*shape);
    }
    if (shapes.size() == step.inputs.size() && out_type != nullptr)
      group.layout->set(concat_layout(out_type->elem_type, shapes, group.axis, group.candidates));
    const size_t index = concat_groups_.size();
    for (size_t i = 0; i < part_of.size(); ++i) {
      if (part_of[i].first >= 0) steps_[part_of[i].first].presets.push_back({part_of[i].second, index, i, false});
    }
    step.presets.push_back({0, index, 0, true});
    concat_groups_.push_back(std::move(group));
  }
}

std::vector<Tensor> ExecutionPlan::preset_outputs(const Step& step, std::vector<ConcatRun>& concat_runs,
                                                  const RunGuard& guard) const {
  std::vector<Tensor> presets;
  for (const PresetOutput& preset : step.presets) {
    ConcatRun& run = concat_runs[preset.group];
    if (run.load(*concat_groups_[preset.group].layout) == nullptr) continue;
    const ConcatLayout& layout = *run.layout;
    if (!preset.whole && layout.offsets[preset.input] == ConcatLayout::kNotInPlace) continue;
    if (!run.buffer.defined()) {
      if (preset.whole) continue;  // no input was written in place
      guard.check_tensor(layout.dtype, layout.shape);
      run.buffer = Tensor::uninitialized(layout.dtype, layout.shape);
    }
    if (presets.empty()) presets.resize(step.outputs.size());
    presets[preset.output] = preset.whole ? run.buffer
                                          : Tensor(layout.dtype, layout.input_shapes[preset.input],
                                                   run.buffer.storage(), layout.offsets[preset.input]);
  }
  return presets;
}

void ExecutionPlan::note_concat_shapes(const Step& step, const std::vector<const RuntimeValue*>& inputs,
                                       std::vector<ConcatRun>& concat_runs) const {
  for (const PresetOutput& preset : step.presets) {
    if (!preset.whole) continue;
    ConcatRun& run = concat_runs[preset.group];
    run.buffer = Tensor();  // the output slot holds it now, when the Concat took it
    std::vector<std::vector<int64_t>> shapes;
    DType dtype = DType::kUndefined;
    for (const RuntimeValue* v : inputs) {
      if (v == nullptr || !v->is_tensor()) return;
      shapes.push_back(v->tensor().shape());
      dtype = v->tensor().dtype();
    }
    const ConcatInPlace& group = concat_groups_[preset.group];
    if (run.load(*group.layout) != nullptr && concat_layout_matches(*run.layout, dtype, shapes)) continue;
    std::shared_ptr<const ConcatLayout> layout = concat_layout(dtype, shapes, group.axis, group.candidates);
    if (layout != nullptr || run.layout != nullptr) group.layout->set(std::move(layout));
  }
}

namespace {

std::vector<const RuntimeValue*> slot_values(const std::vector<int>& slot_indices,
                                             const std::vector<RuntimeValue>& slots) {
  std::vector<const RuntimeValue*> values;
  values.reserve(slot_indices.size());
  for (int slot : slot_indices) values.push_back(slot < 0 ? nullptr : &slots[slot]);
  return values;
}

// The shapes of the run's feeds, the key of its memory plan ({-1} for a value other than a tensor).
std::vector<std::vector<int64_t>> feed_shapes(const std::vector<RuntimeValue>& slots, const std::vector<int>& inputs) {
  std::vector<std::vector<int64_t>> shapes;
  shapes.reserve(inputs.size());
  for (int slot : inputs) {
    const RuntimeValue& v = slots[slot];
    shapes.push_back(v.is_tensor() ? v.tensor().shape() : std::vector<int64_t>{-1});
  }
  return shapes;
}

// Views of the arena for the outputs step `step` creates by `plan` (empty when it creates none there).
std::vector<Tensor> planned_outputs(const MemoryPlan& plan, size_t step, const std::shared_ptr<Storage>& arena) {
  std::vector<Tensor> views;
  const std::vector<MemoryPlan::Created>& created = plan.created[step];
  for (size_t o = 0; o < created.size(); ++o) {
    if (created[o].region < 0) continue;
    if (views.empty()) views.resize(created.size());
    const MemoryPlan::Region& region = plan.regions[static_cast<size_t>(created[o].region)];
    views[o] = Tensor(created[o].dtype, created[o].shape,
                      Storage::part_of(static_cast<uint8_t*>(arena->data()) + region.offset, region.bytes, arena));
  }
  return views;
}

}  // namespace

std::shared_ptr<const MemoryPlan> ExecutionPlan::memory_plan() const {
  std::lock_guard<std::mutex> lock(memory_plan_mutex_);
  return memory_plans_.empty() ? nullptr : memory_plans_.front();
}

std::shared_ptr<const MemoryPlan> ExecutionPlan::memory_plan_for(
    const std::vector<std::vector<int64_t>>& shapes) const {
  std::lock_guard<std::mutex> lock(memory_plan_mutex_);
  for (size_t i = 0; i < memory_plans_.size(); ++i) {
    if (memory_plans_[i]->feed_shapes != shapes) continue;
    std::rotate(memory_plans_.begin(), memory_plans_.begin() + static_cast<std::ptrdiff_t>(i),
                memory_plans_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    return memory_plans_.front();
  }
  return nullptr;
}

std::vector<RuntimeValue> ExecutionPlan::run(const std::vector<RuntimeValue>& inputs, const ValueLookup& outer,
                                             Parallelism& parallelism, const RunGuard& guard) const {
  return run(inputs, outer, parallelism, guard, nullptr);
}

std::vector<RuntimeValue> ExecutionPlan::run(const std::vector<RuntimeValue>& inputs, const ValueLookup& outer,
                                             Parallelism& parallelism, const RunGuard& guard,
                                             NodeObserver* observer) const {
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
    if (it != slot_of_.end() && !(slots[it->second].is_none() && !slots[it->second].is_optional()))
      return &slots[it->second];
    return outer ? outer(name) : nullptr;
  };
  std::vector<uint64_t> live(slots.size(), 0);  // bytes of each slot's value counted in the guard's live total
  std::vector<ConcatRun> concat_runs(concat_groups_.size());
  // The memory plan for these feed shapes, or a recorder making one (see enable_memory_pattern).
  std::shared_ptr<const MemoryPlan> memory;
  std::unique_ptr<MemoryPlanRecorder> recorder;
  std::vector<std::vector<int64_t>> shapes;
  std::shared_ptr<Storage> arena;  // this run's arena block, when it runs by a plan
  const uint8_t* base = nullptr;
  if (memory_pattern_ && (observer == nullptr || !observer->keeps_values())) {
    shapes = feed_shapes(slots, input_slots_);
    memory = memory_plan_for(shapes);
    if (memory != nullptr) {
      if (memory->usable && memory->arena_bytes > 0) {
        try {
          guard.check_tensor(DType::kUint8, {static_cast<int64_t>(memory->arena_bytes)});
          arena = Tensor::uninitialized(DType::kUint8, {static_cast<int64_t>(memory->arena_bytes)}).storage();
          base = static_cast<const uint8_t*>(arena->data());
        } catch (const Error&) {
          // An arena past the run's largest-tensor limit (or the memory at hand): the run allocates as it goes,
          // where each tensor is checked on its own.
        }
      }
    } else {
      recorder = std::make_unique<MemoryPlanRecorder>(slots.size(), steps_.size());
    }
    if (base == nullptr) memory = nullptr;
  }
  std::vector<Tensor> planned;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    guard.check(*step.node);
    if (observer != nullptr) notify_before(i, slots, *observer);
    if (memory != nullptr) planned = planned_outputs(*memory, i, arena);
    run_step(step, slots, live, concat_runs, planned, lookup, parallelism, guard);
    if (memory != nullptr) {
      // An output in the arena outside the region the plan expects (a kernel wrote over an input the recorded run
      // did not) leaves it before a later step can reuse that memory.
      for (size_t o = 0; o < step.outputs.size(); ++o) {
        if (step.outputs[o] < 0) continue;
        RuntimeValue& value = slots[step.outputs[o]];
        if (value.is_tensor() && !memory->placed_as_planned(i, o, value.tensor(), base))
          value = RuntimeValue(value.tensor().clone());
      }
    }
    if (recorder != nullptr) {
      recorder->after_step(i, step.inputs, slot_values(step.inputs, slots), step.outputs,
                           slot_values(step.outputs, slots), step.presets.empty(), has_subgraphs(*step.node));
    }
    if (observer != nullptr) notify_after(i, slots, *observer);
    for (int slot : step.release) {
      if (recorder != nullptr) recorder->released(i, slot);
      slots[slot] = RuntimeValue();
      guard.remove_live(live[slot]);
      live[slot] = 0;
    }
  }
  if (memory != nullptr) {
    // Nothing planned leaves the run (graph outputs keep memory of their own), but the outputs are checked anyway.
    for (int slot : output_slots_) {
      RuntimeValue& value = slots[slot];
      if (value.is_tensor() && memory->lies_in_arena(value.tensor(), base))
        value = RuntimeValue(value.tensor().clone());
    }
  }
  if (recorder != nullptr) {
    auto made = std::make_shared<const MemoryPlan>(recorder->finish(std::move(shapes), output_slots_));
    std::lock_guard<std::mutex> lock(memory_plan_mutex_);
    // A concurrent first run at the same shapes may have recorded one already: replace it.
    auto same = std::find_if(memory_plans_.begin(), memory_plans_.end(),
                             [&](const auto& plan) { return plan->feed_shapes == made->feed_shapes; });
    if (same != memory_plans_.end()) memory_plans_.erase(same);
    memory_plans_.insert(memory_plans_.begin(), std::move(made));
    if (memory_plans_.size() > kMemoryPlans) memory_plans_.pop_back();
  }
  // The outputs leave this graph: the node that ran it (or the caller) counts them from here.
  for (uint64_t bytes : live) guard.remove_live(bytes);
  // The run's slots end here, so outputs are moved out rather than copied (copying a ZipMap output of 10,000
  // maps copies 20,000 tensors); a slot that a later output also names is copied.
  std::vector<size_t> last_output(slots.size(), 0);
  for (size_t k = 0; k < output_slots_.size(); ++k) last_output[output_slots_[k]] = k;
  std::vector<RuntimeValue> outputs;
  outputs.reserve(output_slots_.size());
  for (size_t k = 0; k < output_slots_.size(); ++k) {
    const int slot = output_slots_[k];
    outputs.push_back(last_output[slot] == k ? std::move(slots[slot]) : slots[slot]);
  }
  return outputs;
}

namespace {

// The input whose memory tensor `output` is (Identity, Reshape and in-place kernels hand their input's storage
// on; a view of part of it, as Slice makes), or -1. A Concat whose first input was written into its output in
// place starts at that input's memory but holds more: not passed through.
int aliased_input(const RuntimeValue& output, const std::vector<const RuntimeValue*>& inputs) {
  if (!output.is_tensor() || output.tensor().byte_size() == 0) return -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] != nullptr && inputs[i]->is_tensor() &&
        inputs[i]->tensor().raw_data() == output.tensor().raw_data() &&
        output.tensor().byte_size() <= inputs[i]->tensor().byte_size())
      return static_cast<int>(i);
  }
  return -1;
}

// The bytes of the tensors `value` holds.
uint64_t value_bytes(const RuntimeValue& value) {
  if (value.is_tensor()) return value.tensor().byte_size();
  uint64_t bytes = 0;
  if (value.is_sequence()) {
    for (const Tensor& tensor : value.sequence_tensors()) bytes += tensor.byte_size();
  }
  for (const MapValue& map : value.maps()) bytes += map.keys.byte_size() + map.values.byte_size();
  return bytes;
}

}  // namespace

void ExecutionPlan::notify_before(size_t index, const std::vector<RuntimeValue>& slots, NodeObserver& observer) const {
  observer.before_node(index, *steps_[index].node, node_providers_[index], slot_values(steps_[index].inputs, slots));
}

void ExecutionPlan::notify_after(size_t index, const std::vector<RuntimeValue>& slots, NodeObserver& observer) const {
  observer.after_node(index, *steps_[index].node, node_providers_[index], slot_values(steps_[index].outputs, slots));
}

void ExecutionPlan::run_step(const Step& step, std::vector<RuntimeValue>& slots, std::vector<uint64_t>& live,
                             std::vector<ConcatRun>& concat_runs, std::vector<Tensor>& planned,
                             const ValueLookup& lookup, Parallelism& parallelism, const RunGuard& guard) const {
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
  KernelContext context(*step.node, inputs, outputs, parallelism, lookup, &guard);
  context.set_last_use_inputs(&step.last_use);
  // Views of Concat outputs allocated ahead (plan_concat_in_place).
  std::vector<Tensor> presets = step.presets.empty() ? std::vector<Tensor>() : preset_outputs(step, concat_runs, guard);
  if (!presets.empty()) context.set_preset_outputs(&presets);
  else if (!planned.empty())
    context.set_preset_outputs(&planned);
  // A subgraph's nodes run inside their parent's compute: keep what the parent allocated so far.
  const uint64_t parent_allocated = guard.node_allocated();
  guard.set_node_allocated(0);
  try {
    step.kernel->compute(context);
    guard.set_node_allocated(parent_allocated);
    presets.clear();
    planned.clear();  // the outputs hold the only handles of their memory (KernelContext::input_overwritable)
    if (!step.presets.empty()) note_concat_shapes(step, inputs, concat_runs);
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
    // Memory passed through is counted once: with the input's value, or with the output when the input's
    // value is released by this step.
    const int alias = aliased_input(outputs[i], inputs);
    if (alias < 0) {
      const uint64_t bytes = value_bytes(outputs[i]);
      guard.add_live(bytes);
      live[step.outputs[i]] += bytes;
    } else if (const int from = step.inputs[alias];
               std::find(step.release.begin(), step.release.end(), from) != step.release.end()) {
      live[step.outputs[i]] += live[from];
      live[from] = 0;
    }
    slots[step.outputs[i]] = std::move(outputs[i]);
  }
}

}  // namespace tessera

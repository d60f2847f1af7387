// ExecutionPlan: a graph compiled for execution — value slots, one kernel per node, and the points where
// intermediates are released after their last use. Used for the main graph and for subgraphs (If/Loop/Scan
// bodies), whose outer-scope names resolve through a ValueLookup at run time.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ops/kernel.h"
#include "runtime/concat_in_place.h"
#include "runtime/execution_provider.h"
#include "runtime/memory_plan.h"
#include "runtime/node_observer.h"

namespace tessera {

// What a plan may do with the initializers that kernels consumed at creation (KernelInfo::consume_constant_input).
enum class ConstantRelease {
  kKeep,             // the graph is not the plan's to change (subgraphs, shared graphs)
  kReleaseConsumed,  // release those nothing else reads (see the ExecutionPlan constructor)
};

class ExecutionPlan final : public CompiledSubgraph {
 public:
  // Compiles `graph` (already sorted and type-inferred). Throws kUnsupported listing every node no
  // provider can run; kernel factories may throw kInvalidModel naming the node.
  ExecutionPlan(const Graph& graph, const std::vector<std::shared_ptr<ExecutionProvider>>& providers);
  // The same, for a graph whose weights the plan may release: with kReleaseConsumed, an initializer of `graph`
  // whose every reader's kernel consumed it (kept its own packed copy) is released as soon as the last of those
  // kernels exists, unless a graph output, a subgraph or a feed (an initializer that is also a graph input)
  // could read it. Its entry stays in graph.initializers as an undefined Tensor (its type stays in
  // value_types); the plan's own reference goes too, so the memory is freed during creation.
  ExecutionPlan(Graph& graph, const std::vector<std::shared_ptr<ExecutionProvider>>& providers,
                ConstantRelease release);

  // Runs the graph. `inputs` follow graph.inputs order (a none value leaves an initializer-backed input at its
  // initializer). `guard` is checked before every node and handed to the kernels (and so to subgraphs).
  // Returns the values of graph.outputs in order.
  std::vector<RuntimeValue> run(const std::vector<RuntimeValue>& inputs, const ValueLookup& outer,
                                Parallelism& parallelism, const RunGuard& guard) const override;
  // The same, calling `observer` (when not null) around every node of this graph (not of its subgraphs).
  std::vector<RuntimeValue> run(const std::vector<RuntimeValue>& inputs, const ValueLookup& outer,
                                Parallelism& parallelism, const RunGuard& guard, NodeObserver* observer) const;
  const Graph& graph() const override { return graph_; }

  // Which provider runs each node (in node order), for reports.
  const std::vector<std::string>& node_providers() const { return node_providers_; }

  // Plans the run's memory (runtime/memory_plan.h; off by default, the Session turns it on for the main graph as
  // SessionOptions::memory_pattern says): a run at feed shapes without a plan is recorded, and the runs after it
  // at the same shapes place their intermediates in one arena block by that plan. The plans of the last
  // kMemoryPlans feed shapes are kept (a server's few batch sizes). Runs with an observer that keeps the values it
  // is shown neither record nor use a plan. Call before the first run.
  void enable_memory_pattern(bool enable) { memory_pattern_ = enable; }
  static constexpr size_t kMemoryPlans = 4;
  // The plan of the most recently run feed shapes (nullptr: none recorded yet), for tests and reports.
  std::shared_ptr<const MemoryPlan> memory_plan() const;

 private:
  // A Concat whose inputs may be written straight into its output (plan_concat_in_place).
  struct ConcatInPlace {
    int64_t axis = 1;              // the attribute
    std::vector<bool> candidates;  // per input: produced by an earlier step for this Concat alone
    // The shapes of the last run (or, before the first, the static ones when all are known).
    std::unique_ptr<ConcatLayoutCache> layout = std::make_unique<ConcatLayoutCache>();
  };
  // An output of a step that is handed a preset tensor (KernelContext::set_preset_outputs): input `input` of the
  // Concat of concat_groups_[group], or with `whole`, that Concat's own output.
  struct PresetOutput {
    size_t output = 0;
    size_t group = 0;
    size_t input = 0;
    bool whole = false;
  };
  // One run's state of a ConcatInPlace: the layout it uses (read once, at its first producer) and the output
  // allocated ahead.
  struct ConcatRun {
    bool loaded = false;
    std::shared_ptr<const ConcatLayout> layout;
    Tensor buffer;
    // The layout this run uses: read from `cache` the first time it is asked for, the same one after.
    const std::shared_ptr<const ConcatLayout>& load(const ConcatLayoutCache& cache) {
      if (!loaded) {
        layout = cache.get();
        loaded = true;
      }
      return layout;
    }
  };
  struct Step {
    const Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> inputs;   // slot per input, -1 for a missing optional input
    std::vector<int> outputs;  // slot per output, -1 for an omitted optional output
    std::vector<int> release;  // slots whose last reader is this step
    // Per input: its slot is an intermediate (written by a step of this plan, not a graph output) released by
    // this step and named by no other input of the node (KernelContext::input_overwritable).
    std::vector<bool> last_use;
    // Outputs written straight into a Concat's output (see plan_concat_in_place).
    std::vector<PresetOutput> presets;
  };

  void build(const std::vector<std::shared_ptr<ExecutionProvider>>& providers);
  int slot_for(const std::string& name);
  void compile_steps(const std::vector<std::shared_ptr<ExecutionProvider>>& providers);
  std::unordered_map<std::string, int> releasable_constant_readers() const;
  void note_compiled_reader(const Node& node, const KernelInfo& info, std::unordered_map<std::string, int>& readers);
  void plan_releases();
  // Finds the Concats whose inputs can be written straight into their output (runtime/concat_in_place.h): among
  // a Concat's inputs those produced by an earlier step, read by nothing else and not graph outputs. At run time,
  // when the shapes of the Concat's last run (or its static shapes) put such an input in one aligned block of the
  // output, its producer is handed a view of that block (the output allocated when the first of them runs) and
  // the Concat copies only the inputs that did not land there. SqueezeNet's Fire modules (two convolutions into
  // one Concat each) then copy nothing.
  void plan_concat_in_place();
  void notify_before(size_t index, const std::vector<RuntimeValue>& slots, NodeObserver& observer) const;
  void notify_after(size_t index, const std::vector<RuntimeValue>& slots, NodeObserver& observer) const;
  // Runs one node; counts the bytes of the outputs it produced (not passed through from an input) in `live`
  // (per slot) and in the guard's live total.
  // `concat_runs` holds the run's state per concat_groups_ entry.
  // `planned`: the step's outputs in the run's memory-plan arena (empty: none), handed to the kernel as presets
  // and dropped once it ran.
  void run_step(const Step& step, std::vector<RuntimeValue>& slots, std::vector<uint64_t>& live,
                std::vector<ConcatRun>& concat_runs, std::vector<Tensor>& planned, const ValueLookup& lookup,
                Parallelism& parallelism, const RunGuard& guard) const;
  // The tensors preset for `step`'s outputs this run (empty: none), allocating Concat outputs ahead as needed.
  std::vector<Tensor> preset_outputs(const Step& step, std::vector<ConcatRun>& concat_runs,
                                     const RunGuard& guard) const;
  // After a Concat of concat_groups_ ran: keeps the shapes it ran with for the next runs, drops the run's buffer.
  void note_concat_shapes(const Step& step, const std::vector<const RuntimeValue*>& inputs,
                          std::vector<ConcatRun>& concat_runs) const;

  const Graph& graph_;
  Graph* releasable_graph_ = nullptr;  // graph_ when its consumed initializers may be released; only during creation
  std::unordered_map<std::string, int> slot_of_;
  std::vector<std::string> slot_names_;
  std::vector<RuntimeValue> constants_;  // per slot: initializer values (none elsewhere)
  std::vector<int> input_slots_;
  std::vector<int> output_slots_;
  std::vector<std::pair<int, std::string>> outer_slots_;  // slots filled from the enclosing scope
  std::vector<Step> steps_;
  std::vector<ConcatInPlace> concat_groups_;
  std::vector<std::string> node_providers_;
  bool memory_pattern_ = false;
  mutable std::mutex memory_plan_mutex_;
  // Recorded plans, the most recently used first (at most kMemoryPlans).
  mutable std::vector<std::shared_ptr<const MemoryPlan>> memory_plans_;
  // The plan for runs at `shapes` (nullptr: none), moved to the front.
  std::shared_ptr<const MemoryPlan> memory_plan_for(const std::vector<std::vector<int64_t>>& shapes) const;
};

// Lists "op_type (domain, opset N) at node 'name'" for every node in `graph` (and its subgraphs) that none of
// `providers` supports.
std::vector<std::string> find_unsupported_nodes(const Graph& graph,
                                                const std::vector<std::shared_ptr<ExecutionProvider>>& providers);

}  // namespace tessera

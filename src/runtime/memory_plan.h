// MemoryPlan: the memory pattern of one run (ONNX Runtime's enable_mem_pattern): every intermediate tensor of a run
// at given feed shapes gets an offset in one arena, from lifetimes measured in execution order, and the runs after
// it at the same shapes hand each node a view of its region as the output (KernelContext::set_preset_outputs), one
// arena block per run instead of one buffer per intermediate.
//
// The plan is recorded from a run (MemoryPlanRecorder), not guessed from the graph: which outputs pass their input's
// memory on (Reshape, Identity, Slice's views, kernels that write over an overwritable input) is the kernels'
// choice at run time, and the recording sees it. A region lives from the step that creates it to the last release
// of any value that shares its memory; a value that leaves the run (a graph output) keeps its memory of its own.
//
// The runs that use a plan check what they were given: an output that lies in the arena outside the region the
// plan expects for it (a kernel that went in place where the recorded run did not) is copied out of the arena
// before any later step could reuse that memory (MemoryPlan::placed_as_planned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/runtime_value.h"

namespace tessera {

struct MemoryPlan {
  // The feed shapes of the recorded run: the plan serves runs whose feeds have exactly these shapes.
  std::vector<std::vector<int64_t>> feed_shapes;
  // False when the recorded run could not be planned (a value other than a tensor, a node with subgraphs): runs
  // at these shapes allocate every output themselves, as without a plan.
  bool usable = false;
  size_t arena_bytes = 0;
  struct Region {
    size_t offset = 0;
    size_t bytes = 0;
  };
  std::vector<Region> regions;
  // An output that a step creates in a region: handed a view of it when the kernel asks for this dtype and shape.
  struct Created {
    int region = -1;  // -1: none
    DType dtype = DType::kUndefined;
    std::vector<int64_t> shape;
  };
  std::vector<std::vector<Created>> created;  // [step][output]
  // The region an output may lie in: the one it was created in, or the one of the input whose memory it passes
  // on; -1 for outputs that must not lie in the arena at all.
  std::vector<std::vector<int>> expected;  // [step][output]

  // Whether `tensor` (output `output` of step `step`) lies outside the arena [base, base + arena_bytes) or inside
  // the region the plan expects for it.
  bool placed_as_planned(size_t step, size_t output, const Tensor& tensor, const uint8_t* base) const;
  // Whether any of `tensor`'s bytes lie in the arena [base, base + arena_bytes).
  bool lies_in_arena(const Tensor& tensor, const uint8_t* base) const;
};

// Regions in execution order as a best-fit arena would place them (the smallest gap among the regions live at
// the creating step, lowest offset on ties, else the top): a region reuses memory just released, still warm in
// cache. `first` / `last` are the steps from which / through which a region is live (inclusive: a step reads its
// inputs while it writes its outputs), `bytes` its size; returns the offsets (64-byte aligned) and sets `arena_bytes`.
std::vector<size_t> place_regions(const std::vector<size_t>& bytes, const std::vector<size_t>& first,
                                  const std::vector<size_t>& last, size_t* arena_bytes);

// Watches one run (after every step, and at every release) and makes its MemoryPlan.
class MemoryPlanRecorder {
 public:
  MemoryPlanRecorder(size_t slots, size_t steps);
  // After step `step` ran: `input_slots` / `inputs` and `output_slots` / `outputs` as the step read and wrote them
  // (slot -1 or nullptr for absent ones). `may_plan` false: the step's outputs are placed by someone else (a Concat
  // written in place) and must not be planned. `has_subgraphs`: the node runs subgraphs (the run is not planned).
  void after_step(size_t step, const std::vector<int>& input_slots, const std::vector<const RuntimeValue*>& inputs,
                  const std::vector<int>& output_slots, const std::vector<const RuntimeValue*>& outputs, bool may_plan,
                  bool has_subgraphs);
  // `slot`'s value was released after step `step`.
  void released(size_t step, int slot);
  // The plan, for runs with these feed shapes; `graph_output_slots` keep their memory.
  MemoryPlan finish(std::vector<std::vector<int64_t>> feed_shapes, const std::vector<int>& graph_output_slots);

 private:
  struct Root {
    size_t bytes = 0;
    size_t first = 0, last = 0;
    bool released = false;
    bool planned = true;
    size_t step = 0, output = 0;
    DType dtype = DType::kUndefined;
    std::vector<int64_t> shape;
  };
  std::vector<int> root_of_slot_;  // -1: memory the run does not plan (feeds, initializers, outer values)
  std::vector<Root> roots_;
  std::vector<std::vector<int>> output_roots_;  // [step][output]
  bool usable_ = true;
};

}  // namespace tessera

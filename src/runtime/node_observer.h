// NodeObserver: a hook the execution plan calls around every node of a run (profiling, cancellation).
// When a run has no observer the plan pays one pointer test per node.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/runtime_value.h"
#include "ir/graph.h"

namespace tessera {

class NodeObserver {
 public:
  virtual ~NodeObserver() = default;
  // Called before node `index` (in execution order) runs, with the values it reads (nullptr for an omitted
  // optional input). May throw Error to stop the run; the error reaches the caller of run unchanged.
  virtual void before_node(size_t index, const Node& node, const std::string& provider,
                           const std::vector<const RuntimeValue*>& inputs) = 0;
  // Called after the node ran, with the values it produced (nullptr for an omitted optional output).
  virtual void after_node(size_t index, const Node& node, const std::string& provider,
                          const std::vector<const RuntimeValue*>& outputs) = 0;
  // Whether the observer may keep (share) the values it is shown past the call. A run with such an observer plans
  // no memory (ExecutionPlan::enable_memory_pattern): a planned intermediate's memory is reused within the run.
  virtual bool keeps_values() const { return true; }
};

}  // namespace tessera

// RunGuard: what bounds one run — a terminate flag, a deadline, and the session's resource limits. The session
// makes one per run; the execution plan checks it before every node (of the main graph and of every subgraph),
// kernels check it inside their loops (Loop, Scan, SequenceMap) and before they allocate an output.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "ir/graph.h"

namespace tessera {

// Resource limits of a session (SessionOptions::limits). The defaults refuse only what no sensible model needs;
// docs/RELIABILITY.md explains each.
struct ResourceLimits {
  // Largest tensor one node may produce, in bytes: refused (kOutOfMemory naming the node) at session creation
  // where inference knows the shape, else before the kernel allocates it.
  uint64_t max_tensor_bytes = uint64_t{16} << 30;
  // Most iterations one Loop node may run in one run (kRuntime naming the node beyond it).
  int64_t max_loop_iterations = 10'000'000;
  // Deepest nesting of subgraphs (If branches, Loop/Scan bodies) under the main graph (depth 0); deeper models
  // are refused at session creation with kInvalidModel.
  int64_t max_graph_depth = 32;
  // Largest model file (or serialized model) a session reads, in bytes; refused with kInvalidModel before
  // parsing. Protobuf cannot parse a message of 2 GiB or more anyway.
  uint64_t max_model_bytes = (uint64_t{2} << 30) - 1;
};

class RunGuard {
 public:
  using Clock = std::chrono::steady_clock;

  // Default limits, no terminate flag, no deadline.
  RunGuard() = default;
  // `terminate` may be null; a `timeout_ms` of 0 means no deadline, else the deadline is now + timeout_ms.
  RunGuard(const ResourceLimits& limits, const std::atomic<bool>* terminate, int64_t timeout_ms);

  // Throws kRuntime naming `node` (about to run, or looping) once the terminate flag is set or the deadline has
  // passed. Costs two tests when there is neither.
  void check(const Node& node) const {
    if (terminate_ != nullptr || timeout_ms_ > 0) check_stop(node);
  }
  // Throws kOutOfMemory when a `dtype` tensor of `shape` would need more than max_tensor_bytes.
  void check_tensor(DType dtype, const std::vector<int64_t>& shape) const;
  // Throws kRuntime naming `node` when a Loop is about to start iteration `iteration` beyond the limit.
  void check_loop_iteration(const Node& node, int64_t iteration) const;

  const ResourceLimits& limits() const { return limits_; }

 private:
  void check_stop(const Node& node) const;

  ResourceLimits limits_;
  const std::atomic<bool>* terminate_ = nullptr;
  int64_t timeout_ms_ = 0;
  Clock::time_point deadline_{};
};

// Bytes a `dtype` tensor of `shape` needs, saturating at UINT64_MAX (negative dims count as 0).
uint64_t tensor_bytes_saturating(DType dtype, const std::vector<int64_t>& shape);

}  // namespace tessera

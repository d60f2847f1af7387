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
  // Most bytes all live intermediates of one run may hold at once (node outputs not yet released, in every graph
  // and subgraph of the run; feeds and initializers not counted): an output that would pass it is refused before
  // the kernel allocates it (kOutOfMemory naming the node).
  uint64_t max_live_bytes = uint64_t{64} << 30;
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
  // Throws kOutOfMemory when a `dtype` tensor of `shape` would need more than max_tensor_bytes, or would bring
  // the run's live intermediates (live_bytes() plus the outputs the current node allocated so far) past
  // max_live_bytes; else counts it as allocated by the current node.
  void check_tensor(DType dtype, const std::vector<int64_t>& shape) const;
  // Throws kRuntime naming `node` when a Loop is about to start iteration `iteration` beyond the limit.
  void check_loop_iteration(const Node& node, int64_t iteration) const;

  const ResourceLimits& limits() const { return limits_; }

  // Live-intermediate accounting, kept by the execution plans of one run (a guard is never shared between
  // runs; the default guard of kernels run outside a session counts nothing). `node_allocated` counts what
  // check_tensor let the running node allocate; the plan saves and restores it around a node (a subgraph's nodes
  // run inside their parent's compute), adds the node's outputs to the live total with add_live and takes
  // released values off with remove_live.
  uint64_t live_bytes() const { return live_bytes_.load(std::memory_order_relaxed); }
  uint64_t node_allocated() const { return node_allocated_.load(std::memory_order_relaxed); }
  void set_node_allocated(uint64_t bytes) const { node_allocated_.store(bytes, std::memory_order_relaxed); }
  void add_live(uint64_t bytes) const {
    if (counts_live_) live_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void remove_live(uint64_t bytes) const {
    if (counts_live_) live_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  }

 private:
  void check_stop(const Node& node) const;

  ResourceLimits limits_;
  const std::atomic<bool>* terminate_ = nullptr;
  int64_t timeout_ms_ = 0;
  Clock::time_point deadline_{};
  bool counts_live_ = false;
  mutable std::atomic<uint64_t> live_bytes_{0};
  mutable std::atomic<uint64_t> node_allocated_{0};
};

// Bytes a `dtype` tensor of `shape` needs, saturating at UINT64_MAX (negative dims count as 0).
uint64_t tensor_bytes_saturating(DType dtype, const std::vector<int64_t>& shape);

}  // namespace tessera

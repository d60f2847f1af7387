#include "ops/run_guard.h"

#include <limits>

#include "base/error.h"
#include "base/tensor.h"

namespace tessera {

RunGuard::RunGuard(const ResourceLimits& limits, const std::atomic<bool>* terminate, int64_t timeout_ms)
    : limits_(limits), terminate_(terminate), timeout_ms_(timeout_ms > 0 ? timeout_ms : 0), counts_live_(true) {
  if (timeout_ms_ == 0) return;
  // A timeout past the clock's range (e.g. 2^63-1 ms from a config or flag) would overflow the nanosecond
  // time_point: it means no deadline that can ever pass.
  const Clock::time_point now = Clock::now();
  const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now).count();
  deadline_ = timeout_ms_ >= room ? Clock::time_point::max() : now + std::chrono::milliseconds(timeout_ms_);
}

void RunGuard::check_stop(const Node& node) const {
  if (terminate_ != nullptr && terminate_->load(std::memory_order_relaxed)) {
    fail(ErrorCode::kRuntime, "the run was terminated (RunOptions.terminate) at ", node.label());
  }
  if (timeout_ms_ > 0 && Clock::now() >= deadline_) {
    fail(ErrorCode::kRuntime, "the run passed its deadline (RunOptions timeout of ", timeout_ms_, " ms) at ",
         node.label());
  }
}

uint64_t tensor_bytes_saturating(DType dtype, const std::vector<int64_t>& shape) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t bytes = dtype_size(dtype);
  for (int64_t d : shape) {
    if (d <= 0) return 0;
    const auto dim = static_cast<uint64_t>(d);
    bytes = bytes > kMax / dim ? kMax : bytes * dim;
  }
  return bytes;
}

void RunGuard::check_tensor(DType dtype, const std::vector<int64_t>& shape) const {
  const uint64_t bytes = tensor_bytes_saturating(dtype, shape);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (bytes > limits_.max_tensor_bytes) {
    fail(ErrorCode::kOutOfMemory, "output ", dtype_name(dtype), shape_to_string(shape), " would need ",
         bytes == kMax ? std::string("more than 2^64") : std::to_string(bytes),
         " bytes, more than the session's max_tensor_bytes (", limits_.max_tensor_bytes, ")");
  }
  if (!counts_live_) return;
  const uint64_t live = live_bytes() + node_allocated();
  if (bytes > limits_.max_live_bytes || live > limits_.max_live_bytes - bytes) {
    fail(ErrorCode::kOutOfMemory, "output ", dtype_name(dtype), shape_to_string(shape), " (", bytes,
         " bytes) would bring the run's live intermediates to ", live, " + ", bytes,
         " bytes, more than the session's max_live_bytes (", limits_.max_live_bytes, ")");
  }
  set_node_allocated(node_allocated() + bytes);
}

void RunGuard::check_loop_iteration(const Node& node, int64_t iteration) const {
  if (iteration >= limits_.max_loop_iterations) {
    fail(ErrorCode::kRuntime, node.label(), ": the loop reached the session's max_loop_iterations (",
         limits_.max_loop_iterations, ") without ending");
  }
}

}  // namespace tessera

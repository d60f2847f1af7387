// Parallelism: the interface through which kernels split work across the session's intra-op thread pool.
// Kernels never spawn threads; the runtime's ThreadPool implements this.
#pragma once

#include <cstdint>
#include <functional>

namespace tessera {

class Parallelism {
 public:
  virtual ~Parallelism() = default;
  // Number of threads work is split over (1 = the caller only).
  virtual int thread_count() const = 0;
  // Calls fn(begin, end) over a static partition of [0, count) into at most thread_count() chunks and
  // returns when all are done. fn must be safe to call concurrently on disjoint ranges.
  virtual void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) = 0;
};

// Runs fn(0, count) on the caller: the Parallelism of a single thread.
class SerialParallelism final : public Parallelism {
 public:
  int thread_count() const override { return 1; }
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) override {
    if (count > 0) fn(0, count);
  }
};

}  // namespace tessera

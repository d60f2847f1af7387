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
  // Calls fn(begin, end) over `pieces` pieces of [0, count) (clamped to [1, count]; piece i is
  // [count * i / pieces, count * (i + 1) / pieces)), each claimed by whichever thread is free, and returns when all
  // are done: more pieces than threads keep both busy when one is slowed (descheduled by the OS, sharing its core).
  // Only for work whose results do not depend on how it is cut. The default is parallel_for.
  virtual void parallel_for_pieces(int64_t count, int64_t pieces, const std::function<void(int64_t, int64_t)>& fn) {
    (void)pieces;
    parallel_for(count, fn);
  }
  // parallel_for_pieces with kPiecesPerThread pieces per thread: the split the kernels use for work whose items
  // cost about the same (channels, rows, tiles).
  void parallel_for_balanced(int64_t count, const std::function<void(int64_t, int64_t)>& fn) {
    parallel_for_pieces(count, kPiecesPerThread * thread_count(), fn);
  }
  // Pieces per thread of parallel_for_balanced (and of the GEMM's column split): enough that a thread slowed by the
  // OS holds up a quarter of its share, few enough that each piece's setup stays small.
  static constexpr int kPiecesPerThread = 4;
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

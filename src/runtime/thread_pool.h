// ThreadPool: the session's one intra-op pool. Workers spin up to ~1 ms, then park; parallel_for cuts the work
// into one fixed chunk per thread (the same boundaries every time; parallel_for_pieces into as many as asked). The
// chunks are dealt into one contiguous home range per thread (the caller's first): each thread runs its own range
// front to back, then takes the unclaimed chunks of the others from their backs, so a worker the OS has descheduled
// delays nothing, and consecutive operators split the same way run each part on the same core as the part before
// (a pointwise convolution's output channels stay in the L2 of the core that the depthwise one after it reads them
// on). The caller, done with its range, leaves the others' alone for up to kStealGrace while their owners have not
// started them: a worker that is merely slow to see a short job keeps its part (and its data stays in its caches). A
// parallel_for issued from inside a worker, or while another run holds the pool, runs on the calling thread (never
// nested pools, never oversubscription).
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/parallel.h"

namespace tessera {

class ThreadPool final : public Parallelism {
 public:
  // `threads` counts the caller: 1 means no worker threads; 0 means one per hardware core. With
  // `denormals_as_zero` the workers flush denormal floats to zero (base/denormals.h).
  explicit ThreadPool(int threads, bool denormals_as_zero = false);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int thread_count() const override { return static_cast<int>(workers_.size()) + 1; }
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) override;
  void parallel_for_pieces(int64_t count, int64_t pieces, const std::function<void(int64_t, int64_t)>& fn) override;

 private:
  // Runs fn over `chunks` fixed chunks of [0, count) on the pool (the caller included).
  void run_job(int64_t count, int chunks, const std::function<void(int64_t, int64_t)>& fn);
  // Runs unclaimed chunks of job `generation` as thread `self` (0 the caller, i + 1 worker i) until none is left:
  // its home range first, then the others' from their backs; true when it ran at least one.
  bool run_chunks(int self, uint64_t generation, const std::function<void(int64_t, int64_t)>& fn, int64_t count,
                  int chunks, bool steal = true);
  // True when every other thread has claimed a chunk of its home range for job `generation` (or has none).
  bool others_started(uint64_t generation) const;
  // Claims one chunk of home range `range` for job `generation`: from its front (the owner) or its back (a thief).
  // -1 when the range is empty or belongs to another job.
  int claim(int range, uint64_t generation, bool front);
  void worker_loop(int self);

  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;  // one parallel_for at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};          // chunks of the current job not finished
  // One word per thread's home range of the current job: (generation mod 2^16) << 48 | first unclaimed chunk << 24 |
  // end of the unclaimed chunks. Cache-line sized, so claims in different ranges do not contend.
  struct alignas(64) HomeRange {
    std::atomic<uint64_t> word{0};
    uint64_t first = 0;  // the range's first chunk in the current job (its front before any claim)
  };
  std::vector<HomeRange> ranges_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_count_ = 0;
  int job_chunks_ = 0;
  bool stopping_ = false;
  std::exception_ptr job_error_;  // the first exception a chunk threw in the current job
};

}  // namespace tessera

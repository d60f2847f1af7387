// ThreadPool: the session's one intra-op pool. Workers spin up to ~1 ms, then park; parallel_for cuts the work
// into one fixed chunk per thread (the same boundaries every time; parallel_for_pieces into as many as asked), and
// whichever thread is free runs the next unclaimed chunk, the caller included, so a worker the OS has descheduled
// delays nothing. A parallel_for issued from inside a worker, or while another run holds the pool, runs on the calling
// thread (never nested pools, never oversubscription).
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
  void worker_loop();
  // Runs unclaimed chunks of job `generation` until none is left; true when it ran at least one.
  bool run_chunks(uint64_t generation, const std::function<void(int64_t, int64_t)>& fn, int64_t count, int chunks);

  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;  // one parallel_for at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};          // chunks of the current job not finished
  std::atomic<uint64_t> next_chunk_{0};  // (generation << 32) | next unclaimed chunk
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_count_ = 0;
  int job_chunks_ = 0;
  bool stopping_ = false;
  std::exception_ptr job_error_;  // the first exception a chunk threw in the current job
};

}  // namespace tessera

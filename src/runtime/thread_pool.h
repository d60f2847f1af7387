// ThreadPool: the session's one intra-op pool. Workers spin briefly, then park; parallel_for partitions work
// statically. A parallel_for issued from inside a worker, or while another run holds the pool, runs on the
// calling thread (never nested pools, never oversubscription).
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
  // `threads` counts the caller: 1 means no worker threads; 0 means one per hardware core.
  explicit ThreadPool(int threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int thread_count() const override { return static_cast<int>(workers_.size()) + 1; }
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) override;

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;  // one parallel_for at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_count_ = 0;
  int job_chunks_ = 0;
  bool stopping_ = false;
  std::exception_ptr worker_error_;  // the first exception a worker threw in the current job
};

}  // namespace tessera

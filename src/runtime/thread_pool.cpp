#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

namespace tessera {

namespace {
thread_local bool tls_in_pool_worker = false;
constexpr std::chrono::microseconds kSpinDuration{1000};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  const int chunks = static_cast<int>(std::min<int64_t>(count, thread_count()));
  if (chunks <= 1 || tls_in_pool_worker) {
    fn(0, count);
    return;
  }
  std::unique_lock<std::mutex> dispatch(dispatch_mutex_, std::try_to_lock);
  if (!dispatch.owns_lock()) {  // another run is using the pool: do the work here rather than wait
    fn(0, count);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_count_ = count;
    job_chunks_ = chunks;
    pending_.store(chunks - 1);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  std::exception_ptr caller_error;
  try {
    fn(0, count / chunks);  // chunk 0 on the caller
  } catch (...) {
    caller_error = std::current_exception();
  }
  while (pending_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  std::exception_ptr worker_error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = nullptr;
    worker_error = std::exchange(worker_error_, nullptr);
  }
  if (caller_error) std::rethrow_exception(caller_error);
  if (worker_error) std::rethrow_exception(worker_error);
}

void ThreadPool::worker_loop(int index) {
  tls_in_pool_worker = true;
  uint64_t seen = 0;
  while (true) {
    // Spin for up to kSpinDuration before parking: the gaps between a run's parallel regions (serial ops, output
    // allocation) are mostly shorter, and waking a parked thread costs ~50 us on these VMs.
    const auto spin_until = std::chrono::steady_clock::now() + kSpinDuration;
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      cpu_relax();
      if ((++spins & 255) == 0 && std::chrono::steady_clock::now() > spin_until) break;
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
    }
    const std::function<void(int64_t, int64_t)>* job;
    int64_t count;
    int chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seen = generation_.load();
      if (stopping_) return;
      job = job_;
      count = job_count_;
      chunks = job_chunks_;
    }
    if (job == nullptr || index >= chunks) continue;
    const int64_t begin = count * index / chunks;
    const int64_t end = count * (index + 1) / chunks;
    try {
      (*job)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!worker_error_) worker_error_ = std::current_exception();
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace tessera

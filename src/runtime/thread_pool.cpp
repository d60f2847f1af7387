#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include "base/denormals.h"

namespace tessera {

namespace {
thread_local bool tls_in_pool_worker = false;
constexpr std::chrono::microseconds kSpinDuration{1000};
// How long the caller, done with its own home range, waits for the workers to start theirs before taking their
// chunks. Measured (Zen 4 VM, two threads, batch-1 MLP of three GEMVs of ~10 us a thread): without it the caller
// ran the worker's chunk too nearly every time (the worker sees a new job a few microseconds late), 0.039 ms a run,
// as one thread; with it 0.024 ms (ONNX Runtime: 0.027).
constexpr std::chrono::microseconds kStealGrace{50};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

constexpr uint64_t kGenerationMask = 0xFFFFu;
constexpr uint64_t kChunkMask = 0xFFFFFFu;
constexpr uint64_t range_word(uint64_t generation, uint64_t begin, uint64_t end) {
  return (generation & kGenerationMask) << 48 | begin << 24 | end;
}
}  // namespace

ThreadPool::ThreadPool(int threads, bool denormals_as_zero) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ranges_ = std::vector<HomeRange>(static_cast<size_t>(threads));
  for (int i = 1; i < threads; ++i) {
    workers_.emplace_back([this, denormals_as_zero, i] {
      if (denormals_as_zero) set_denormals_as_zero(true);
      worker_loop(i);
    });
  }
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

int ThreadPool::claim(int range, uint64_t generation, bool front) {
  std::atomic<uint64_t>& word = ranges_[static_cast<size_t>(range)].word;
  uint64_t current = word.load(std::memory_order_acquire);
  while (true) {
    const uint64_t begin = (current >> 24) & kChunkMask, end = current & kChunkMask;
    if ((current >> 48) != (generation & kGenerationMask) || begin >= end) return -1;
    const uint64_t next = front ? range_word(generation, begin + 1, end) : range_word(generation, begin, end - 1);
    if (word.compare_exchange_weak(current, next, std::memory_order_acq_rel)) {
      return static_cast<int>(front ? begin : end - 1);
    }
  }
}

bool ThreadPool::others_started(uint64_t generation) const {
  for (size_t t = 1; t < ranges_.size(); ++t) {
    const uint64_t word = ranges_[t].word.load(std::memory_order_acquire);
    if ((word >> 48) != (generation & kGenerationMask)) continue;
    const uint64_t begin = (word >> 24) & kChunkMask, end = word & kChunkMask;
    if (begin == ranges_[t].first && begin < end) return false;  // nothing claimed yet, something to claim
  }
  return true;
}

bool ThreadPool::run_chunks(int self, uint64_t generation, const std::function<void(int64_t, int64_t)>& fn,
                            int64_t count, int chunks, bool steal) {
  bool ran_any = false;
  const int ranges = steal ? static_cast<int>(ranges_.size()) : 1;
  for (int step = 0; step < ranges; ++step) {
    const int range = (self + step) % ranges;
    while (true) {
      const int index = claim(range, generation, step == 0);
      if (index < 0) break;
      ran_any = true;
      try {
        fn(count * index / chunks, count * (index + 1) / chunks);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!job_error_) job_error_ = std::current_exception();
      }
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  return ran_any;
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  run_job(count, static_cast<int>(std::min<int64_t>(count, thread_count())), fn);
}

void ThreadPool::parallel_for_pieces(int64_t count, int64_t pieces, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  // At most 2^16 pieces (the home range words hold chunk indices in 24 bits).
  const int64_t chunks = thread_count() <= 1 ? 1 : std::clamp<int64_t>(pieces, 1, std::min<int64_t>(count, 65536));
  run_job(count, static_cast<int>(chunks), fn);
}

void ThreadPool::run_job(int64_t count, int chunks, const std::function<void(int64_t, int64_t)>& fn) {
  if (chunks <= 1 || tls_in_pool_worker) {
    fn(0, count);
    return;
  }
  std::unique_lock<std::mutex> dispatch(dispatch_mutex_, std::try_to_lock);
  if (!dispatch.owns_lock()) {  // another run is using the pool: do the work here rather than wait
    fn(0, count);
    return;
  }
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_count_ = count;
    job_chunks_ = chunks;
    pending_.store(chunks);
    generation = generation_.load() + 1;
    // Home range t: chunks [t chunks / T, (t + 1) chunks / T).
    const int64_t threads = static_cast<int64_t>(ranges_.size());
    for (int64_t t = 0; t < threads; ++t) {
      ranges_[static_cast<size_t>(t)].first = static_cast<uint64_t>(chunks * t / threads);
      ranges_[static_cast<size_t>(t)].word.store(
          range_word(generation, static_cast<uint64_t>(chunks * t / threads),
                     static_cast<uint64_t>(chunks * (t + 1) / threads)),
          std::memory_order_release);
    }
    generation_.store(generation);
  }
  wake_.notify_all();
  // The caller takes chunks too: its own range, then, once the workers have started theirs or kStealGrace has
  // passed, whatever is left of them (a worker the OS has not scheduled yet delays the job by the grace at most).
  run_chunks(0, generation, fn, count, chunks, /*steal=*/false);
  const auto steal_after = std::chrono::steady_clock::now() + kStealGrace;
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) > 0 && !others_started(generation)) {
    cpu_relax();
    if ((++spins & 63) == 0 && std::chrono::steady_clock::now() > steal_after) break;
  }
  run_chunks(0, generation, fn, count, chunks);
  while (pending_.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = nullptr;
    error = std::exchange(job_error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::worker_loop(int self) {
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
    if (job == nullptr) continue;
    run_chunks(self, seen, *job, count, chunks);
  }
}

}  // namespace tessera

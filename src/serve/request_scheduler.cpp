#include "serve/request_scheduler.h"

#include <algorithm>

#include "serve/model_config.h"

namespace tessera::serve {

RequestScheduler::RequestScheduler(const Session& session, const inference::ModelConfig& config, std::string version,
                                   ModelStatistics& statistics, int64_t run_timeout_ms)
    : session_(session),
      config_(config),
      version_(std::move(version)),
      statistics_(statistics),
      run_timeout_ms_(run_timeout_ms) {
  if (config_.has_dynamic_batching()) {
    const auto& preferred = config_.dynamic_batching().preferred_batch_size();
    target_rows_ = preferred.empty() ? config_.max_batch_size() : *std::max_element(preferred.begin(), preferred.end());
  }
  const int instances = instance_count(config_);
  for (int i = 0; i < instances; ++i) workers_.emplace_back([this] { worker_loop(); });
}

RequestScheduler::~RequestScheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

size_t RequestScheduler::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

SteadyClock::time_point RequestScheduler::deadline_for(const InferenceRequest& request,
                                                       SteadyClock::time_point arrival) const {
  const inference::ModelQueuePolicy& policy = config_.dynamic_batching().default_queue_policy();
  if (policy.timeout_action() == inference::ModelQueuePolicy::DELAY) return SteadyClock::time_point::max();
  uint64_t timeout = policy.default_timeout_microseconds();
  if (request.timeout_microseconds > 0 && (policy.allow_timeout_override() || timeout == 0)) {
    timeout = timeout == 0 ? request.timeout_microseconds : std::min(timeout, request.timeout_microseconds);
  }
  if (timeout == 0) return SteadyClock::time_point::max();
  // A timeout past the clock's range (a client may send 2^63-1 us) would overflow the nanosecond time_point: it
  // is a deadline that never comes.
  const auto room =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::time_point::max() - arrival).count();
  if (timeout >= static_cast<uint64_t>(room)) return SteadyClock::time_point::max();
  return arrival + std::chrono::microseconds(timeout);
}

void RequestScheduler::submit(InferenceRequest request, InferenceCallback done) {
  const auto arrival = SteadyClock::now();
  QueuedRequest queued;
  try {
    queued.batch_size = validate_request(request, config_);
  } catch (const ServeError& error) {
    statistics_.record_failure(nanoseconds_since(arrival));
    done(InferenceResult{error, {}});
    return;
  }
  queued.arrival = arrival;
  queued.deadline = deadline_for(request, arrival);
  queued.request = std::move(request);
  queued.done = std::move(done);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint32_t limit = config_.dynamic_batching().default_queue_policy().max_queue_size();
    if (stopping_ || (limit > 0 && queue_.size() >= limit)) {
      const std::string why =
          stopping_ ? " is being unloaded" : " queue is full (" + std::to_string(queue_.size()) + " requests waiting)";
      lock.unlock();
      statistics_.record_failure(nanoseconds_since(arrival));
      queued.done(InferenceResult{
          ServeError(ServeStatus::kUnavailable, "model '" + config_.name() + "' version " + version_ + why), {}});
      return;
    }
    queue_.push_back(std::move(queued));
  }
  arrived_.notify_one();
}

std::pair<size_t, int64_t> RequestScheduler::batchable_prefix() const {
  size_t count = 0;
  int64_t rows = 0;
  for (const QueuedRequest& queued : queue_) {
    if (rows + queued.batch_size > config_.max_batch_size() || !can_batch_together(queue_.front(), queued)) break;
    rows += queued.batch_size;
    ++count;
  }
  return {std::max<size_t>(count, 1), rows};
}

void RequestScheduler::remove_expired(std::vector<QueuedRequest>& expired) {
  const auto now = SteadyClock::now();
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->deadline <= now) {
      expired.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<QueuedRequest> RequestScheduler::take_batch(std::unique_lock<std::mutex>& lock,
                                                        std::vector<QueuedRequest>& expired) {
  std::vector<QueuedRequest> batch;
  size_t count = 0;
  while (count == 0) {  // until a request is taken (or only expired ones are left to answer)
    arrived_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    remove_expired(expired);
    if (queue_.empty()) {
      if (stopping_ || !expired.empty()) return batch;
      continue;
    }
    count = 1;
    if (!config_.has_dynamic_batching()) break;
    const auto delay = std::chrono::microseconds(config_.dynamic_batching().max_queue_delay_microseconds());
    const auto fill_deadline = queue_.front().arrival + delay;
    for (;;) {
      const auto [prefix, rows] = batchable_prefix();
      count = prefix;
      const bool blocked = prefix < queue_.size();  // the next request cannot join this batch
      if (rows >= target_rows_ || blocked || stopping_ || SteadyClock::now() >= fill_deadline) break;
      arrived_.wait_until(lock, std::min(fill_deadline, queue_.front().deadline));
      remove_expired(expired);
      if (queue_.empty()) return batch;  // everything waiting expired: answer those first
    }
  }
  for (size_t i = 0; i < count; ++i) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void RequestScheduler::worker_loop() {
  for (;;) {
    std::vector<QueuedRequest> batch;
    std::vector<QueuedRequest> expired;
    {
      std::lock_guard<std::mutex> former(batch_former_);
      std::unique_lock<std::mutex> lock(mutex_);
      batch = take_batch(lock, expired);
      if (batch.empty() && expired.empty() && stopping_) return;
    }
    // Another instance may take the next batch now.
    arrived_.notify_one();
    for (QueuedRequest& late : expired) {
      statistics_.record_failure(nanoseconds_since(late.arrival));
      late.done(InferenceResult{
          ServeError(ServeStatus::kUnavailable,
                     "model '" + config_.name() + "' version " + version_ + ": request timed out in the queue"),
          {}});
    }
    if (!batch.empty()) execute_batch(session_, config_, version_, batch, statistics_, run_timeout_ms_);
  }
}

}  // namespace tessera::serve

// RequestScheduler: one model version's bounded queue and its instances (worker threads sharing one Session).
// Without dynamic batching each instance runs one request at a time; with it, an instance gathers queued
// requests of compatible shapes up to the largest preferred batch size (or max_batch_size), waiting at most
// max_queue_delay_microseconds after the oldest arrived, and runs them as one batch.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "model_config.pb.h"
#include "runtime/session.h"
#include "serve/batch_execution.h"
#include "serve/model_statistics.h"

namespace tessera::serve {

class RequestScheduler {
 public:
  // Starts instance_count(config) workers. `session`, `config` and `statistics` must outlive the scheduler.
  // Every run gets a deadline of `run_timeout_ms` (0: none).
  RequestScheduler(const Session& session, const inference::ModelConfig& config, std::string version,
                   ModelStatistics& statistics, int64_t run_timeout_ms = 0);
  // Stops taking requests, runs every queued one, then joins the workers.
  ~RequestScheduler();
  RequestScheduler(const RequestScheduler&) = delete;
  RequestScheduler& operator=(const RequestScheduler&) = delete;

  // Validates and queues `request`; `done` is called once, with an error for an invalid request, a full queue
  // (kUnavailable), a request still queued after its timeout (kUnavailable), or with the response.
  void submit(InferenceRequest request, InferenceCallback done);
  // Requests waiting now.
  size_t queued() const;

 private:
  void worker_loop();
  // Takes the next batch (or single request) under `lock`, waiting for the batch to fill when batching;
  // moves requests whose deadline passed into `expired`. Empty only when stopping with nothing queued.
  std::vector<QueuedRequest> take_batch(std::unique_lock<std::mutex>& lock, std::vector<QueuedRequest>& expired);
  // Moves every queued request whose deadline has passed into `expired`.
  void remove_expired(std::vector<QueuedRequest>& expired);
  // The number of leading queued requests that fit in one batch, and their rows.
  std::pair<size_t, int64_t> batchable_prefix() const;
  SteadyClock::time_point deadline_for(const InferenceRequest& request, SteadyClock::time_point arrival) const;

  const Session& session_;
  const inference::ModelConfig& config_;
  const std::string version_;
  ModelStatistics& statistics_;
  const int64_t run_timeout_ms_;
  int64_t target_rows_ = 1;
  mutable std::mutex mutex_;
  std::mutex batch_former_;  // one worker at a time waits for a batch to fill
  std::condition_variable arrived_;
  std::deque<QueuedRequest> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace tessera::serve

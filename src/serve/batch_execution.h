// Checking a request against its model's config, and running one or more requests as one session run
// (inputs stacked along the batch dim, outputs split back).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "model_config.pb.h"
#include "runtime/session.h"
#include "serve/inference_request.h"
#include "serve/model_statistics.h"

namespace tessera::serve {

using SteadyClock = std::chrono::steady_clock;

// A validated request waiting in a model's queue.
struct QueuedRequest {
  InferenceRequest request;
  InferenceCallback done;
  int64_t batch_size = 1;  // rows along the batch dim (1 when the model has none)
  SteadyClock::time_point arrival;
  // The request's deadline (its v2 "timeout" parameter or the queue policy's default): rejected when still
  // queued after it, and its run is stopped at it.
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
};

// Checks input names, datatypes and shapes (with the batch dim when max_batch_size > 0) and requested output
// names against the config; returns the request's batch size. ServeError(kBadRequest) naming the model, the
// input and both shapes or datatypes.
int64_t validate_request(const InferenceRequest& request, const inference::ModelConfig& config);

// True when `candidate` may run in one batch with `leader`: every input has the same dims after the batch dim.
bool can_batch_together(const QueuedRequest& leader, const QueuedRequest& candidate);

// Runs `batch` (one or more requests of one model version) as one session run, with a deadline of
// `timeout_ms` (the server's, 0: none) or the requests' own deadline (the latest in the batch, when every request
// has one) if that comes first, and calls every request's `done` with its response or the error, recording
// statistics. A run stopped at the requests' deadline fails them with kUnavailable ("passed its deadline while
// running"); the model keeps serving.
void execute_batch(const Session& session, const inference::ModelConfig& config, const std::string& version,
                   std::vector<QueuedRequest>& batch, ModelStatistics& statistics, int64_t timeout_ms = 0);

// The RunControl timeout for a run starting at `now`: `server_timeout_ms` (0: none), shortened to `deadline`
// (rounded up to whole ms, at least 1) unless that is SteadyClock::time_point::max().
int64_t run_timeout_ms(SteadyClock::time_point deadline, int64_t server_timeout_ms, SteadyClock::time_point now);

// The nanoseconds from `from` to now.
uint64_t nanoseconds_since(SteadyClock::time_point from);

}  // namespace tessera::serve

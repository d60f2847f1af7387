// Per model version counters and durations: what v2 `.../stats`, gRPC ModelStatistics and the Prometheus
// metrics report. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>

namespace tessera::serve {

// A count of events and their total duration in nanoseconds.
struct DurationStat {
  uint64_t count = 0;
  uint64_t ns = 0;
  void add(uint64_t duration_ns) {
    ++count;
    ns += duration_ns;
  }
};

// The time one batch spent assembling inputs, running the session, and splitting outputs.
struct BatchTimes {
  uint64_t compute_input_ns = 0;
  uint64_t compute_infer_ns = 0;
  uint64_t compute_output_ns = 0;
};

struct BatchSizeStats {
  DurationStat compute_input;
  DurationStat compute_infer;
  DurationStat compute_output;
};

// Upper bounds (microseconds, inclusive) of the request latency histogram's buckets; a last bucket counts
// the rest.
inline constexpr std::array<uint64_t, 12> kLatencyBucketBoundsUs = {100,   250,   500,   1000,   2500,   5000,
                                                                    10000, 25000, 50000, 100000, 250000, 1000000};

// A consistent copy of all counters.
struct StatisticsSnapshot {
  uint64_t last_inference_ms = 0;  // milliseconds since the epoch of the last completed request; 0: none
  uint64_t inference_count = 0;    // requests' batch sizes summed over successful requests
  uint64_t execution_count = 0;    // session runs
  DurationStat success;            // end to end, arrival to response
  DurationStat fail;
  DurationStat queue;
  DurationStat compute_input;
  DurationStat compute_infer;
  DurationStat compute_output;
  std::map<uint64_t, BatchSizeStats> batch_stats;  // by executed batch size
  // Successful requests by end-to-end latency: [i] counts those <= kLatencyBucketBoundsUs[i] (and above the
  // previous bound); the last entry counts those above every bound.
  std::array<uint64_t, kLatencyBucketBoundsUs.size() + 1> latency_buckets{};
};

class ModelStatistics {
 public:
  // One successful request of `batch_size` that waited `queue_ns` and ran in a batch that took `times`.
  void record_success(uint64_t batch_size, uint64_t total_ns, uint64_t queue_ns, const BatchTimes& times);
  // One failed request (validation, queue rejection or run error) after `total_ns`.
  void record_failure(uint64_t total_ns);
  // One session run over `batch_size` rows.
  void record_execution(uint64_t batch_size, const BatchTimes& times);
  StatisticsSnapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  StatisticsSnapshot stats_;
};

}  // namespace tessera::serve

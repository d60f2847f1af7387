#include "serve/model_statistics.h"

#include <chrono>

namespace tessera::serve {

namespace {

uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

void ModelStatistics::record_success(uint64_t batch_size, uint64_t total_ns, uint64_t queue_ns,
                                     const BatchTimes& times) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.last_inference_ms = now_ms();
  stats_.inference_count += batch_size;
  stats_.success.add(total_ns);
  const uint64_t total_us = total_ns / 1000;
  size_t bucket = 0;
  while (bucket < kLatencyBucketBoundsUs.size() && total_us > kLatencyBucketBoundsUs[bucket]) ++bucket;
  ++stats_.latency_buckets[bucket];
  stats_.queue.add(queue_ns);
  stats_.compute_input.add(times.compute_input_ns);
  stats_.compute_infer.add(times.compute_infer_ns);
  stats_.compute_output.add(times.compute_output_ns);
}

void ModelStatistics::record_failure(uint64_t total_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.last_inference_ms = now_ms();
  stats_.fail.add(total_ns);
}

void ModelStatistics::record_execution(uint64_t batch_size, const BatchTimes& times) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.execution_count;
  BatchSizeStats& batch = stats_.batch_stats[batch_size];
  batch.compute_input.add(times.compute_input_ns);
  batch.compute_infer.add(times.compute_infer_ns);
  batch.compute_output.add(times.compute_output_ns);
}

StatisticsSnapshot ModelStatistics::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace tessera::serve

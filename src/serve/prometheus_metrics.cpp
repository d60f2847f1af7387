#include "serve/prometheus_metrics.h"

#include <functional>

namespace tessera::serve {

namespace {

struct MetricFamily {
  const char* name;
  const char* help;
  const char* type;
  std::function<uint64_t(const StatisticsSnapshot&, const ServedModel&)> value;
};

// Label values escaped as the text format asks (backslash, quote, newline).
std::string escape_label(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

const std::vector<MetricFamily>& metric_families() {
  static const std::vector<MetricFamily> families = {
      {"nv_inference_request_success", "Number of successful inference requests, all batch sizes", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return s.success.count; }},
      {"nv_inference_request_failure", "Number of failed inference requests, all batch sizes", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return s.fail.count; }},
      {"nv_inference_count", "Number of inferences performed (batch rows of successful requests)", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return s.inference_count; }},
      {"nv_inference_exec_count", "Number of model executions performed", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return s.execution_count; }},
      {"nv_inference_request_duration_us", "Cumulative inference request duration in microseconds", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return (s.success.ns + s.fail.ns) / 1000; }},
      {"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return s.queue.ns / 1000; }},
      {"nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return s.compute_input.ns / 1000; }},
      {"nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds", "counter",
       [](const StatisticsSnapshot& s, const ServedModel&) { return s.compute_infer.ns / 1000; }},
      {"nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds",
       "counter", [](const StatisticsSnapshot& s, const ServedModel&) { return s.compute_output.ns / 1000; }},
      {"nv_inference_pending_request_count", "Instantaneous number of pending requests awaiting execution", "gauge",
       [](const StatisticsSnapshot&, const ServedModel& m) { return static_cast<uint64_t>(m.scheduler().queued()); }},
  };
  return families;
}

std::string labels(const ServedModel& model) {
  return "model=\"" + escape_label(model.name()) + "\",version=\"" + escape_label(model.version_string()) + "\"";
}

// Successful requests' end-to-end latency as a Prometheus histogram (Triton has no histogram of its own), so
// dashboards can draw percentiles.
void append_latency_histogram(const std::vector<std::shared_ptr<ServedModel>>& models,
                              const std::vector<StatisticsSnapshot>& snapshots, std::string& text) {
  const std::string name = "tessera_inference_request_latency_us";
  text += "# HELP " + name + " End-to-end latency of successful inference requests in microseconds\n";
  text += "# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < models.size(); ++i) {
    const StatisticsSnapshot& s = snapshots[i];
    uint64_t cumulative = 0;
    for (size_t b = 0; b < s.latency_buckets.size(); ++b) {
      cumulative += s.latency_buckets[b];
      const std::string bound = b < kLatencyBucketBoundsUs.size() ? std::to_string(kLatencyBucketBoundsUs[b]) : "+Inf";
      text += name + "_bucket{" + labels(*models[i]) + ",le=\"" + bound + "\"} " + std::to_string(cumulative) + "\n";
    }
    text += name + "_sum{" + labels(*models[i]) + "} " + std::to_string(s.success.ns / 1000) + "\n";
    text += name + "_count{" + labels(*models[i]) + "} " + std::to_string(s.success.count) + "\n";
  }
}

}  // namespace

std::string prometheus_metrics(const ModelRepository& repository) {
  const auto models = repository.loaded();
  std::vector<StatisticsSnapshot> snapshots;
  for (const auto& model : models) snapshots.push_back(model->statistics().snapshot());
  std::string text;
  for (const MetricFamily& family : metric_families()) {
    text += std::string("# HELP ") + family.name + " " + family.help + "\n";
    text += std::string("# TYPE ") + family.name + " " + family.type + "\n";
    for (size_t i = 0; i < models.size(); ++i) {
      text += std::string(family.name) + "{" + labels(*models[i]) + "} " +
              std::to_string(family.value(snapshots[i], *models[i])) + "\n";
    }
  }
  append_latency_histogram(models, snapshots, text);
  return text;
}

}  // namespace tessera::serve

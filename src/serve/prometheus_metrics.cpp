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
      text += std::string(family.name) + "{model=\"" + escape_label(models[i]->name()) + "\",version=\"" +
              escape_label(models[i]->version_string()) + "\"} " +
              std::to_string(family.value(snapshots[i], *models[i])) + "\n";
    }
  }
  return text;
}

}  // namespace tessera::serve

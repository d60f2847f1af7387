#include "bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

namespace tessera::cli {

namespace {

// numpy.percentile's default ("linear"): position q/100 * (n - 1) between the two nearest sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  const double position = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lower = static_cast<size_t>(std::floor(position));
  const size_t upper = std::min(lower + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(lower);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

bool has_flag(const std::string& flags_line, const std::string& flag) {
  std::istringstream words(flags_line);
  std::string word;
  while (words >> word) {
    if (word == flag) return true;
  }
  return false;
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

LatencyStats compute_latency_stats(std::vector<double> times_ms, double total_s) {
  std::sort(times_ms.begin(), times_ms.end());
  LatencyStats stats;
  stats.iters = static_cast<int>(times_ms.size());
  stats.median_ms = percentile(times_ms, 50);
  stats.p90_ms = percentile(times_ms, 90);
  stats.p99_ms = percentile(times_ms, 99);
  stats.mean_ms = std::accumulate(times_ms.begin(), times_ms.end(), 0.0) / static_cast<double>(times_ms.size());
  stats.min_ms = times_ms.front();
  stats.max_ms = times_ms.back();
  stats.total_s = total_s;
  return stats;
}

CpuInfo read_cpu_info() {
  CpuInfo info;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool have_name = false, have_flags = false;
  while (std::getline(cpuinfo, line) && !(have_name && have_flags)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    if (key == "model name" && !have_name) {
      info.model_name = trim(line.substr(colon + 1));
      have_name = true;
    } else if (key == "flags" && !have_flags) {
      info.avx512f = has_flag(line.substr(colon + 1), "avx512f");
      info.avx2 = has_flag(line.substr(colon + 1), "avx2");
      have_flags = true;
    }
  }
  return info;
}

double peak_resident_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      // "VmHWM:     12345 kB"
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    }
  }
  return -1;
}

std::string bench_report_json(const BenchReport& report) {
  const LatencyStats& l = report.latency;
  nlohmann::ordered_json inputs = nlohmann::ordered_json::array();
  for (const BenchInput& in : report.inputs) {
    inputs.push_back({{"name", in.name}, {"dtype", in.dtype}, {"shape", in.shape}, {"source", in.source}});
  }
  const nlohmann::ordered_json json = {
      {"model", report.model},
      {"median_ms", l.median_ms},
      {"p90_ms", l.p90_ms},
      {"p99_ms", l.p99_ms},
      {"mean_ms", l.mean_ms},
      {"min_ms", l.min_ms},
      {"max_ms", l.max_ms},
      {"iters", l.iters},
      {"warmup", report.warmup},
      {"total_s", l.total_s},
      {"session_create_ms", report.session_create_ms},
      {"peak_rss_mb", report.peak_rss_mb},
      {"memory_plan_mb", report.memory_plan_mb},
      {"batch_split",
       report.batch_split.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(report.batch_split)},
      {"batch_split_why", report.batch_split_why},
      {"threads", report.threads},
      {"opt_level", report.opt_level},
      {"precision", report.precision},
      {"cpu", report.cpu.model_name},
      {"avx512f", report.cpu.avx512f},
      {"avx2", report.cpu.avx2},
      {"inputs", inputs},
  };
  // Invalid UTF-8 in a path must not abort the dump: replace it.
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string bench_report_text(const BenchReport& report) {
  const LatencyStats& l = report.latency;
  char buffer[1024];
  std::string out;
  auto line = [&](const char* format, auto... values) {
    std::snprintf(buffer, sizeof buffer, format, values...);
    out += buffer;
  };
  line("model:            %s\n", report.model.c_str());
  line("cpu:              %s (avx512f: %s, avx2: %s)\n", report.cpu.model_name.c_str(),
       report.cpu.avx512f ? "yes" : "no", report.cpu.avx2 ? "yes" : "no");
  line("threads:          %d   opt level: %s   precision: %s\n", report.threads, report.opt_level.c_str(),
       report.precision.c_str());
  for (const BenchInput& in : report.inputs) {
    line("input:            %s %s%s (%s)\n", in.name.c_str(), in.dtype.c_str(), shape_text(in.shape).c_str(),
         in.source.c_str());
  }
  line("session creation: %.2f ms\n", report.session_create_ms);
  line("runs:             %d timed after %d warm-up, %.2f s\n", l.iters, report.warmup, l.total_s);
  line("latency (ms):     median %.3f  p90 %.3f  p99 %.3f  mean %.3f  min %.3f  max %.3f\n", l.median_ms, l.p90_ms,
       l.p99_ms, l.mean_ms, l.min_ms, l.max_ms);
  line("peak memory:      %.1f MB (VmHWM)\n", report.peak_rss_mb);
  if (report.memory_plan_mb > 0) line("memory plan:      %.1f MB arena for the intermediates\n", report.memory_plan_mb);
  if (!report.batch_split.empty()) {
    line("batch split:      runs of a slice of '%s' at a time\n", report.batch_split.c_str());
  } else {
    line("batch split:      no (%s)\n", report.batch_split_why.c_str());
  }
  return out;
}

}  // namespace tessera::cli

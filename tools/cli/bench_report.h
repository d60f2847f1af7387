// What `tessera bench` measures and how it prints it: latency statistics, the machine (CPU, peak memory),
// and the report as text or as one JSON object.
#pragma once

#include <string>
#include <vector>

namespace tessera::cli {

// Latency statistics over the timed runs, in milliseconds. Percentiles interpolate linearly between the
// nearest ranks (as numpy.percentile does by default).
struct LatencyStats {
  int iters = 0;
  double median_ms = 0, p90_ms = 0, p99_ms = 0, mean_ms = 0, min_ms = 0, max_ms = 0;
  double total_s = 0;  // wall time of the timed loop
};

// Computes the statistics of `times_ms` (must not be empty); `total_s` is the timed loop's wall time.
LatencyStats compute_latency_stats(std::vector<double> times_ms, double total_s);

// The processor as /proc/cpuinfo names it, and whether it reports the AVX-512F and AVX2 flags.
struct CpuInfo {
  std::string model_name = "unknown";
  bool avx512f = false;
  bool avx2 = false;
};
CpuInfo read_cpu_info();

// Peak resident memory of this process (VmHWM in /proc/self/status) in MiB; -1 when unavailable.
double peak_resident_mb();

// One input as the benchmark fed it: "float[1,3,224,224] (random)" or "(from FILE)".
struct BenchInput {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string source;  // "random", "ones", "small-ints" or the file path
};

// Everything one `tessera bench` run reports.
struct BenchReport {
  std::string model;
  std::string opt_level;
  std::string precision = "fp32";  // float32 MatMul/Gemm precision (--precision)
  int threads = 0;  // intra-op threads actually used
  int warmup = 0;
  double session_create_ms = 0;
  double peak_rss_mb = 0;
  double memory_plan_mb = 0;  // the memory plan's arena (0: no plan, as with --no-memory-pattern)
  std::string batch_split;    // the batch dimension's symbol when runs split their batch (Session), else ""
  std::string batch_split_why;  // why not, when batch_split is ""
  CpuInfo cpu;
  std::vector<BenchInput> inputs;
  LatencyStats latency;
};

// Exactly one JSON object (keys: median_ms, p90_ms, p99_ms, mean_ms, min_ms, max_ms, iters, warmup, total_s,
// session_create_ms, peak_rss_mb, memory_plan_mb, batch_split (the symbol, or null with batch_split_why), threads,
// cpu, avx512f, avx2, model, opt_level, precision, inputs).
std::string bench_report_json(const BenchReport& report);

// The same for people: a few aligned lines.
std::string bench_report_text(const BenchReport& report);

}  // namespace tessera::cli

// tessera bench: latency of one model as onnxruntime_perf_test measures it — session creation, warm-up runs,
// then timed runs (a count, a duration, or whichever ends first) and their percentiles, peak memory and CPU.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "bench_report.h"
#include "cli_common.h"
#include "commands.h"
#include "profile_option.h"
#include "runtime/memory_plan.h"
#include "runtime/session.h"

namespace tessera::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDefaultIters = 100;
constexpr double kDefaultMaxSeconds = 10.0;
constexpr double kProgressAfterSeconds = 2.0;

struct BenchSettings {
  std::string model;
  SessionOptions options;
  int warmup = 5;
  std::optional<int> iters;                                // --iters
  std::optional<double> duration;                          // --duration (seconds)
  std::optional<int64_t> batch;                            // --batch
  std::map<std::string, int64_t> dims;                     // --dim NAME=VALUE
  std::vector<std::pair<std::string, std::string>> files;  // --input NAME=FILE
  bool json = false;
  std::optional<std::string> profile;  // --profile FILE
  int64_t timeout_ms = 0;              // --timeout-ms
};

double parse_seconds(const std::string& flag, const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(value > 0) || !std::isfinite(value)) {
    throw UsageError{flag + " needs a positive number of seconds, got '" + text + "'"};
  }
  return value;
}

// Splits "NAME=VALUE"; a UsageError naming the flag when either side is empty.
std::pair<std::string, std::string> split_assignment(const std::string& flag, const std::string& spec,
                                                     const char* value_word) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    throw UsageError{flag + " expects NAME=" + value_word + ", got '" + spec + "'"};
  }
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

std::string level_name(OptimizationLevel level) {
  switch (level) {
    case OptimizationLevel::kDisabled:
      return "disabled";
    case OptimizationLevel::kBasic:
      return "basic";
    case OptimizationLevel::kExtended:
      return "extended";
    case OptimizationLevel::kAll:
      return "all";
  }
  return "all";
}

BenchSettings parse_settings(const std::vector<std::string>& args) {
  const Arguments arguments(
      args,
      with_limit_flags({"--input", "--dim", "--batch", "--threads", "--warmup", "--iters", "--duration", "--opt-level",
                        "--disable-pass", "--profile", "--precision"}),
      {"--json", "--denormals-as-zero", "--no-memory-pattern"});
  if (arguments.positional().size() != 1) throw UsageError{"bench needs exactly one MODEL path"};
  BenchSettings s;
  s.model = arguments.positional()[0];
  s.json = arguments.has("--json");
  s.profile = arguments.value("--profile");
  if (auto t = arguments.value("--threads"))
    s.options.intra_op_threads = static_cast<int>(parse_integer("--threads", *t, 0));
  if (auto w = arguments.value("--warmup")) s.warmup = static_cast<int>(parse_integer("--warmup", *w, 0));
  if (auto i = arguments.value("--iters")) s.iters = static_cast<int>(parse_integer("--iters", *i, 1));
  if (auto d = arguments.value("--duration")) s.duration = parse_seconds("--duration", *d);
  if (auto b = arguments.value("--batch")) s.batch = parse_integer("--batch", *b, 1);
  if (auto level = arguments.value("--opt-level")) s.options.optimization_level = opt_level_argument(*level);
  s.options.disabled_passes = arguments.values("--disable-pass");
  apply_limit_flags(arguments, s.options.limits);
  s.options.denormals_as_zero = arguments.has("--denormals-as-zero");
  s.options.memory_pattern = !arguments.has("--no-memory-pattern");
  if (auto p = arguments.value("--precision")) s.options.matmul_precision = precision_argument("--precision", *p);
  s.timeout_ms = timeout_ms_flag(arguments);
  for (const std::string& spec : arguments.values("--dim")) {
    auto [name, value] = split_assignment("--dim", spec, "VALUE");
    s.dims[name] = parse_integer("--dim " + name, value, 1);
  }
  for (const std::string& spec : arguments.values("--input"))
    s.files.push_back(split_assignment("--input", spec, "FILE"));
  return s;
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The concrete shape of a generated input: --dim binds named dims, --batch the first dim when symbolic,
// anything else symbolic is 1 (with a note on stderr, once per dim name).
std::vector<int64_t> concrete_shape(const IoInfo& input, const BenchSettings& s, std::set<std::string>& noted) {
  std::vector<int64_t> shape;
  const std::vector<Dim>& dims = *input.type.shape;
  for (size_t axis = 0; axis < dims.size(); ++axis) {
    const Dim& d = dims[axis];
    if (d.is_known()) {
      shape.push_back(d.value);
    } else if (!d.symbol.empty() && s.dims.count(d.symbol)) {
      shape.push_back(s.dims.at(d.symbol));
    } else if (axis == 0 && s.batch) {
      shape.push_back(*s.batch);
    } else {
      shape.push_back(1);
      const std::string label = d.symbol.empty() ? input.name + "[" + std::to_string(axis) + "]" : d.symbol;
      if (noted.insert(label).second) {
        std::fprintf(stderr, "note: symbolic dim '%s' of input '%s' is unbound; using 1 (set it with --dim %s=N%s)\n",
                     label.c_str(), input.name.c_str(), d.symbol.empty() ? "NAME" : d.symbol.c_str(),
                     axis == 0 ? " or --batch N" : "");
      }
    }
  }
  return shape;
}

// Generated values: floats uniform in [-1, 1]; integers and bools named like a mask are ones, other integers
// small non-negative values in [0, 4) (valid as ids, indices and token types); strings "text".
BenchInput generate_input(const IoInfo& input, const std::vector<int64_t>& shape, std::mt19937& rng, Tensor& out) {
  out = Tensor(input.type.elem_type, shape);
  const bool mask = lowercase(input.name).find("mask") != std::string::npos;
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 3);
  std::string source = "random";
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* data = out.data<T>();
    const int64_t n = out.element_count();
    if constexpr (std::is_same_v<T, std::string>) {
      for (int64_t i = 0; i < n; ++i) data[i] = "text";
    } else if constexpr (std::is_same_v<T, bool>) {
      for (int64_t i = 0; i < n; ++i) data[i] = mask || uniform(rng) > 0;
      if (mask) source = "ones";
    } else if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      for (int64_t i = 0; i < n; ++i) data[i] = element_from_double<T>(uniform(rng));
    } else if constexpr (std::is_integral_v<T> || kIsSubByteInt<T>) {
      for (int64_t i = 0; i < n; ++i) data[i] = element_from_double<T>(mask ? 1.0 : small(rng));
      source = mask ? "ones" : "random ints in [0,4)";
    } else {
      fail(ErrorCode::kInvalidArgument, "cannot generate a value of type ", dtype_name(out.dtype()), " for input '",
           input.name, "'; pass it with --input");
    }
  });
  return BenchInput{input.name, dtype_name(out.dtype()), shape, source};
}

// Checks --input names and --dim names against the model; a UsageError names the offender.
void check_names(const Session& session, const BenchSettings& s) {
  std::set<std::string> names, symbols;
  for (const IoInfo& in : session.inputs()) {
    names.insert(in.name);
    if (in.type.kind == TypeInfo::Kind::kTensor && in.type.shape) {
      for (const Dim& d : *in.type.shape)
        if (!d.symbol.empty()) symbols.insert(d.symbol);
    }
  }
  auto listed = [](const std::set<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
    return text.empty() ? std::string("none") : text;
  };
  for (const auto& [name, file] : s.files) {
    if (!names.count(name)) {
      throw UsageError{"--input " + name + "=" + file + ": the model has no input named '" + name +
                       "' (inputs: " + listed(names) + ")"};
    }
  }
  for (const auto& [symbol, value] : s.dims) {
    if (!symbols.count(symbol)) {
      throw UsageError{"--dim " + symbol + "=" + std::to_string(value) + ": no input has a symbolic dim named '" +
                       symbol + "' (symbolic dims: " + listed(symbols) + ")"};
    }
  }
}

using Feeds = std::vector<std::pair<std::string, RuntimeValue>>;

Feeds gather_feeds(const Session& session, const BenchSettings& s, std::vector<BenchInput>& described) {
  check_names(session, s);
  Feeds feeds;
  for (const auto& [name, file] : s.files) {
    const std::string& wanted = name;  // clang 14 cannot capture a structured binding
    const IoInfo& in = *std::find_if(session.inputs().begin(), session.inputs().end(),
                                     [&](const IoInfo& i) { return i.name == wanted; });
    RuntimeValue value = load_value_file(file, in.type);
    BenchInput info{name, in.type.to_string(), {}, file};
    if (value.is_tensor()) info = BenchInput{name, dtype_name(value.tensor().dtype()), value.tensor().shape(), file};
    described.push_back(info);
    feeds.emplace_back(name, std::move(value));
  }
  std::mt19937 rng(1234);
  std::set<std::string> noted;
  for (const IoInfo& in : session.inputs()) {
    const bool given = std::any_of(feeds.begin(), feeds.end(), [&](const auto& f) { return f.first == in.name; });
    if (given || session.model().graph->initializers.count(in.name)) continue;
    if (in.type.kind != TypeInfo::Kind::kTensor || !in.type.shape) {
      fail(ErrorCode::kInvalidArgument, "cannot generate a value for input '", in.name, "' of type ",
           in.type.to_string(), "; pass it with --input ", in.name, "=FILE");
    }
    Tensor tensor;
    described.push_back(generate_input(in, concrete_shape(in, s, noted), rng, tensor));
    feeds.emplace_back(in.name, RuntimeValue(tensor));
  }
  return feeds;
}

// A "\r"-updated line on stderr, shown only on a terminal and only once the run has taken ~2 s.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)), start_(Clock::now()) {}
  // `total` 0: no count limit; `limit_s` 0: no time limit.
  void update(const char* phase, int done, int total, double elapsed_s, double limit_s = 0) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - start_).count() < kProgressAfterSeconds || now - last_ < kInterval) return;
    last_ = now;
    shown_ = true;
    const std::string count = std::to_string(done) + (total > 0 ? "/" + std::to_string(total) : "");
    char time[64];
    if (limit_s > 0)
      std::snprintf(time, sizeof time, "%.1f/%.1f s", elapsed_s, limit_s);
    else
      std::snprintf(time, sizeof time, "%.1f s", elapsed_s);
    std::fprintf(stderr, "\rbench: %s %s, %s   ", phase, count.c_str(), time);
    std::fflush(stderr);
  }
  void finish() {
    if (shown_) std::fprintf(stderr, "\r%60s\r", "");
  }

 private:
  static constexpr std::chrono::milliseconds kInterval{200};
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_;
  Clock::time_point last_{};
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Warm-up runs, then timed runs until the count or the duration is reached (both: whichever comes first;
// neither: 100 runs or 10 s). Returns each run's milliseconds and the timed loop's seconds.
std::pair<std::vector<double>, double> timed_runs(const Session& session, const Feeds& feeds, const BenchSettings& s,
                                                  const ProfileOption& profile) {
  Progress progress(true);
  const auto warmup_start = Clock::now();
  for (int i = 0; i < s.warmup; ++i) {
    profile.run(session, feeds);
    progress.update("warm-up", i + 1, s.warmup, seconds_since(warmup_start));
  }
  const int max_iters = s.iters.value_or(s.duration ? 0 : kDefaultIters);              // 0: no count limit
  const double max_seconds = s.duration.value_or(s.iters ? 0.0 : kDefaultMaxSeconds);  // 0: no time limit
  std::vector<double> times;
  const auto loop_start = Clock::now();
  while (true) {
    const auto start = Clock::now();
    profile.run(session, feeds);
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    const double elapsed = seconds_since(loop_start);
    progress.update("run", static_cast<int>(times.size()), max_iters, elapsed, max_seconds);
    if (max_iters > 0 && static_cast<int>(times.size()) >= max_iters) break;
    if (max_seconds > 0 && elapsed >= max_seconds) break;
  }
  const double total = seconds_since(loop_start);
  progress.finish();
  return {times, total};
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  const BenchSettings settings = parse_settings(args);
  BenchReport report;
  report.model = settings.model;
  report.opt_level = level_name(settings.options.optimization_level);
  report.precision = settings.options.matmul_precision == MatMulPrecision::kBFloat16 ? "bf16" : "fp32";
  report.warmup = settings.warmup;
  report.threads = settings.options.intra_op_threads > 0
                       ? settings.options.intra_op_threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));  // as ThreadPool does
  report.cpu = read_cpu_info();

  const auto create_start = Clock::now();
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(settings.model, settings.options);
  } catch (const Error& e) {
    return report_load_error(e);
  }
  report.session_create_ms = std::chrono::duration<double, std::milli>(Clock::now() - create_start).count();

  const Feeds feeds = gather_feeds(*session, settings, report.inputs);
  const ProfileOption profile(settings.profile, settings.timeout_ms);
  auto [times, total_s] = timed_runs(*session, feeds, settings, profile);
  profile.write();
  report.latency = compute_latency_stats(std::move(times), total_s);
  report.peak_rss_mb = peak_resident_mb();
  report.batch_split = session->split_batch_symbol();
  report.batch_split_why = session->why_batch_is_not_split();
  if (const std::shared_ptr<const MemoryPlan> plan = session->memory_plan(); plan != nullptr && plan->usable)
    report.memory_plan_mb = static_cast<double>(plan->arena_bytes) / (1024.0 * 1024.0);
  const std::string text = settings.json ? bench_report_json(report) : bench_report_text(report);
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace tessera::cli

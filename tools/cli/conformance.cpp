// tessera conformance: runs ONNX backend test folders (model.onnx + test_data_set_*/input_K.pb, output_K.pb),
// compares like ONNX's backend runner, and checks the result against a reviewed manifest of skipped tests.
// Each test runs in a child process with a time limit, so no test can take the runner down.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "compare/spec_undefined.h"
#include "compare/test_data.h"
#include "compare/value_compare.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "onnx/tensor_proto.h"
#include "runtime/session.h"

namespace fs = std::filesystem;

namespace tessera::cli {

namespace {

constexpr int kTestTimeoutSeconds = 120;

struct TestCase {
  std::string name;   // folder name, e.g. test_abs
  std::string suite;  // parent folder, e.g. node
  std::string path;
};

struct Outcome {
  std::string status;  // passed, failed, skipped
  std::string reason;
};

std::vector<TestCase> find_tests(const std::string& root) {
  std::vector<TestCase> tests;
  if (fs::exists(fs::path(root) / "model.onnx")) {
    const fs::path p = fs::canonical(root);
    tests.push_back({p.filename().string(), p.parent_path().filename().string(), p.string()});
    return tests;
  }
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && fs::exists(it->path() / "model.onnx")) {
      tests.push_back(
          {it->path().filename().string(), it->path().parent_path().filename().string(), it->path().string()});
      it.disable_recursion_pending();
    }
  }
  std::sort(tests.begin(), tests.end(), [](const TestCase& a, const TestCase& b) {
    return a.suite != b.suite ? a.suite < b.suite : a.name < b.name;
  });
  return tests;
}

// Manifest lines: "test_name  reason ..." ; '#' starts a comment line.
std::map<std::string, std::string> read_manifest(const std::string& path) {
  std::map<std::string, std::string> entries;
  std::istringstream lines(read_file(path));
  std::string line;
  while (std::getline(lines, line)) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t end = line.find_first_of(" \t", start);
    const std::string name = line.substr(start, end - start);
    std::string reason = end == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", end));
    if (reason.empty()) fail(ErrorCode::kInvalidArgument, "manifest '", path, "': entry '", name, "' has no reason");
    entries[name] = reason;
  }
  return entries;
}

// Compares like compare_values, leaving out the output elements the spec leaves undefined for these feeds
// (see compare/spec_undefined.h: float -> integer Cast out of range, whose expectations vary by CPU).
std::string compare_defined(const Graph& graph, const std::string& output_name,
                            const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                            const RuntimeValue& expected, const RuntimeValue& actual, const Tolerance& tolerance) {
  if (!expected.is_tensor() || !actual.is_tensor()) return compare_values(expected, actual, tolerance);
  std::map<std::string, const Tensor*> fed_tensors;
  for (const auto& [name, value] : feeds) {
    if (value.is_tensor()) fed_tensors[name] = &value.tensor();
  }
  const std::vector<uint8_t> undefined = spec_undefined_elements(graph, output_name, fed_tensors);
  if (!undefined.empty() && static_cast<int64_t>(undefined.size()) != expected.tensor().element_count()) {
    return "output and Cast input differ in element count";
  }
  return compare_tensors(expected.tensor(), actual.tensor(), tolerance, undefined);
}

// The model file a test runs: the test's own, or with `resave` the model loaded, optimized at the options'
// level and written back by the model writer into a temporary file (the written model is what runs then).
std::string model_to_run(const TestCase& test, const SessionOptions& options, bool resave) {
  const std::string original = test.path + "/model.onnx";
  if (!resave) return original;
  Model model = load_model(original);
  optimize_graph(*model.graph, options.optimization_level, options.disabled_passes);
  const std::string written =
      (fs::temp_directory_path() / ("tessera-resave-" + std::to_string(getpid()) + ".onnx")).string();
  save_model(model, written);
  return written;
}

// Runs one test folder in this process; returns "" on success or the reason it failed.
std::string run_test(const TestCase& test, const SessionOptions& options, bool resave) {
  std::unique_ptr<Session> session;
  try {
    const std::string path = model_to_run(test, options, resave);
    session = std::make_unique<Session>(path, options);
    if (resave) fs::remove(path);
  } catch (const Error& e) {
    return std::string("model rejected at load [") + error_code_name(e.code()) + "]: " + e.what();
  }
  const Graph& graph = *session->model().graph;
  std::vector<const IoInfo*> feedable;
  for (const IoInfo& in : session->inputs())
    if (!graph.initializers.count(in.name)) feedable.push_back(&in);
  const Tolerance tolerance = read_test_tolerance(test.path);
  const std::vector<fs::path> data_sets = test_data_sets(test.path);
  if (data_sets.empty()) return "no test_data_set_* folder";
  for (const fs::path& set : data_sets) {
    std::vector<std::pair<std::string, RuntimeValue>> feeds;
    for (size_t k = 0;; ++k) {
      const fs::path file = set / ("input_" + std::to_string(k) + ".pb");
      if (!fs::exists(file)) break;
      if (k >= feedable.size()) return "test data has more inputs than the model";
      feeds.emplace_back(feedable[k]->name, read_test_value(read_file(file.string()), feedable[k]->type));
    }
    // Twice: the first run at these feed shapes records the session's memory plan, the second runs by it
    // (SessionOptions::memory_pattern), so both ways of placing the intermediates meet every test.
    for (int pass = 0; pass < 2; ++pass) {
      const std::string run_name = set.filename().string() + (pass == 0 ? "" : " (second run)");
      std::vector<RuntimeValue> outputs;
      try {
        outputs = session->run(feeds);
      } catch (const Error& e) {
        return run_name + ": run failed [" + error_code_name(e.code()) + "]: " + e.what();
      }
      for (size_t k = 0;; ++k) {
        const fs::path file = set / ("output_" + std::to_string(k) + ".pb");
        if (!fs::exists(file)) {
          if (k != outputs.size())
            return "model has " + std::to_string(outputs.size()) + " outputs, test data " + std::to_string(k);
          break;
        }
        if (k >= outputs.size()) return "test data has more outputs than the model";
        const TypeInfo& declared = session->outputs()[k].type;
        const RuntimeValue expected = read_test_value(read_file(file.string()), declared);
        const std::string diff =
            compare_defined(graph, session->outputs()[k].name, feeds, expected, outputs[k], tolerance);
        if (!diff.empty())
          return run_name + ": output " + std::to_string(k) + " ('" + session->outputs()[k].name + "'): " + diff;
      }
    }
  }
  return {};
}

// Forks, runs the test in the child with a time limit, and reads its verdict from a pipe.
Outcome run_isolated(const TestCase& test, const SessionOptions& options, bool resave) {
  int fds[2];
  if (pipe(fds) != 0) return {"failed", "cannot create a pipe"};
  const pid_t pid = fork();
  if (pid < 0) return {"failed", "cannot fork"};
  if (pid == 0) {
    close(fds[0]);
    std::string reason;
    try {
      reason = run_test(test, options, resave);
    } catch (const std::exception& e) {
      reason = std::string("error: ") + e.what();
    }
    const std::string message = reason.empty() ? "P" : "F" + reason;
    size_t written = 0;
    while (written < message.size()) {
      const ssize_t n = write(fds[1], message.data() + written, message.size() - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string message;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kTestTimeoutSeconds);
  int status = 0;
  bool timed_out = false;
  fd_set set;
  while (true) {
    FD_ZERO(&set);
    FD_SET(fds[0], &set);
    timeval tv{1, 0};
    const int ready = select(fds[0] + 1, &set, nullptr, nullptr, &tv);
    if (ready > 0) {
      const ssize_t n = read(fds[0], buffer, sizeof buffer);
      if (n <= 0) break;
      message.append(buffer, static_cast<size_t>(n));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      timed_out = true;
      break;
    }
  }
  close(fds[0]);
  waitpid(pid, &status, 0);
  if (timed_out) return {"failed", "timed out after " + std::to_string(kTestTimeoutSeconds) + " s"};
  if (WIFSIGNALED(status)) return {"failed", "crashed with signal " + std::to_string(WTERMSIG(status))};
  if (message.empty()) return {"failed", "the test process ended without a verdict"};
  if (message[0] == 'P') return {"passed", ""};
  return {"failed", message.substr(1)};
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += ' ';
    else
      out += c;
  }
  return out;
}

}  // namespace

int conformance_command(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"--filter", "--manifest", "--report", "--opt-level", "--disable-pass", "--threads"},
                            {"--run-skipped", "--quiet", "--resave"});
  if (arguments.positional().empty()) throw UsageError{"conformance needs at least one DATA_DIR"};
  SessionOptions options;
  options.intra_op_threads = 1;  // more (--threads) only to run the kernels' parallel paths, as the TSan run does
  if (auto t = arguments.value("--threads"))
    options.intra_op_threads = static_cast<int>(parse_integer("--threads", *t, 1));
  if (auto level = arguments.value("--opt-level")) options.optimization_level = opt_level_argument(*level);
  options.disabled_passes = arguments.values("--disable-pass");
  std::map<std::string, std::string> manifest;
  if (auto m = arguments.value("--manifest")) manifest = read_manifest(*m);
  std::regex filter;
  const bool filtered = arguments.value("--filter").has_value();
  try {
    if (filtered) filter = std::regex(*arguments.value("--filter"));
  } catch (const std::regex_error&) {
    throw UsageError{"--filter is not a valid regular expression"};
  }
  std::vector<TestCase> tests;
  for (const std::string& dir : arguments.positional()) {
    if (!fs::is_directory(dir)) fail(ErrorCode::kIo, "'", dir, "' is not a folder");
    for (TestCase& t : find_tests(dir))
      if (!filtered || std::regex_search(t.name, filter)) tests.push_back(std::move(t));
  }
  struct Counts {
    int passed = 0, failed = 0, skipped = 0;
  };
  std::map<std::string, Counts> per_suite;
  Counts total;
  std::vector<std::pair<TestCase, Outcome>> results;
  std::vector<std::string> now_passing;
  const bool quiet = arguments.has("--quiet");
  for (const TestCase& test : tests) {
    auto skip = manifest.find(test.name);
    Outcome outcome;
    if (skip != manifest.end() && !arguments.has("--run-skipped")) {
      outcome = {"skipped", skip->second};
    } else {
      outcome = run_isolated(test, options, arguments.has("--resave"));
      if (skip != manifest.end()) {
        if (outcome.status == "passed") now_passing.push_back(test.name);
        outcome = {"skipped", skip->second};
      }
    }
    Counts& suite = per_suite[test.suite];
    if (outcome.status == "passed")
      ++suite.passed, ++total.passed;
    else if (outcome.status == "failed")
      ++suite.failed, ++total.failed;
    else
      ++suite.skipped, ++total.skipped;
    if (outcome.status == "failed" || (!quiet && outcome.status == "skipped")) {
      std::printf("%s %s/%s: %s\n", outcome.status == "failed" ? "FAIL" : "SKIP", test.suite.c_str(), test.name.c_str(),
                  outcome.reason.c_str());
      std::fflush(stdout);
    }
    results.emplace_back(test, outcome);
  }
  if (auto report = arguments.value("--report")) {
    std::ostringstream json;
    json << "{\n  \"passed\": " << total.passed << ", \"failed\": " << total.failed
         << ", \"skipped\": " << total.skipped << ",\n  \"tests\": [\n";
    for (size_t i = 0; i < results.size(); ++i) {
      json << "    {\"suite\": \"" << json_escape(results[i].first.suite) << "\", \"name\": \""
           << json_escape(results[i].first.name) << "\", \"status\": \"" << results[i].second.status
           << "\", \"reason\": \"" << json_escape(results[i].second.reason) << "\"}"
           << (i + 1 < results.size() ? "," : "") << "\n";
    }
    json << "  ]\n}\n";
    write_file(*report, json.str());
  }
  for (const std::string& name : now_passing)
    std::printf("NOTE %s passes now: remove it from the manifest\n", name.c_str());
  for (const auto& [suite, c] : per_suite) {
    std::printf("  %-20s %d passed, %d failed, %d skipped\n", suite.c_str(), c.passed, c.failed, c.skipped);
  }
  std::printf("%d passed, %d failed, %d skipped\n", total.passed, total.failed, total.skipped);
  return total.failed == 0 ? kExitOk : kExitRunError;
}

}  // namespace tessera::cli

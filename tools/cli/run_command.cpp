// tessera run: one inference (or N timed ones) from test-data folders, .npy/.pb files or random inputs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "cli_common.h"
#include "commands.h"
#include "feeds.h"
#include "map_json.h"
#include "onnx/tensor_proto.h"
#include "profile_option.h"
#include "runtime/session.h"

namespace tessera::cli {

int run_command(const std::vector<std::string>& args) {
  const Arguments arguments(args,
                            with_limit_flags({"--input-dir", "--input", "--output-dir", "--threads", "--opt-level",
                                              "--repeat", "--disable-pass", "--profile", "--precision"}),
                            {"--random-inputs", "--quiet", "--denormals-as-zero", "--no-memory-pattern"});
  if (arguments.positional().size() != 1) throw UsageError{"run needs exactly one MODEL path"};
  SessionOptions options;
  try {
    if (auto t = arguments.value("--threads")) options.intra_op_threads = std::stoi(*t);
  } catch (const std::exception&) {
    throw UsageError{"--threads needs an integer"};
  }
  int repeat = 1;
  try {
    if (auto r = arguments.value("--repeat")) repeat = std::max(1, std::stoi(*r));
  } catch (const std::exception&) {
    throw UsageError{"--repeat needs an integer"};
  }
  if (auto level = arguments.value("--opt-level")) options.optimization_level = opt_level_argument(*level);
  options.disabled_passes = arguments.values("--disable-pass");
  apply_limit_flags(arguments, options.limits);
  options.denormals_as_zero = arguments.has("--denormals-as-zero");
  options.memory_pattern = !arguments.has("--no-memory-pattern");
  if (auto p = arguments.value("--precision")) options.matmul_precision = precision_argument("--precision", *p);

  const auto load_start = std::chrono::steady_clock::now();
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(arguments.positional()[0], options);
  } catch (const Error& e) {
    return report_load_error(e);
  }
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();

  const auto feeds = gather_feeds(*session, arguments);
  const ProfileOption profile(arguments.value("--profile"), timeout_ms_flag(arguments));
  std::vector<RuntimeValue> outputs;
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    outputs = profile.run(*session, feeds);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  profile.write();

  if (auto dir = arguments.value("--output-dir")) {
    std::filesystem::create_directories(*dir);
    for (size_t k = 0; k < outputs.size(); ++k) {
      // Maps have no test-data message Tessera writes; they are saved in the JSON form `run` prints.
      if (outputs[k].is_map() || outputs[k].is_map_sequence()) {
        write_file(*dir + "/output_" + std::to_string(k) + ".json", map_to_json(outputs[k], 2) + "\n");
      } else {
        write_file(*dir + "/output_" + std::to_string(k) + ".pb",
                   value_to_bytes(outputs[k], session->outputs()[k].name));
      }
    }
  }
  if (!arguments.has("--quiet")) {
    for (size_t k = 0; k < outputs.size(); ++k) {
      std::printf("output '%s': %s\n", session->outputs()[k].name.c_str(), summarize_value(outputs[k]).c_str());
    }
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  std::printf("load %.2f ms; first run %.3f ms; median of %d run(s) %.3f ms\n", load_ms, times.front(), repeat,
              sorted[sorted.size() / 2]);
  return kExitOk;
}

}  // namespace tessera::cli

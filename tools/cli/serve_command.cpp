// tessera serve: a model repository on the KServe v2 / Triton HTTP and gRPC protocols.
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "serve/server.h"

namespace tessera::cli {

namespace {

// A whole-string integer in [minimum, maximum], or a UsageError naming the flag.
int integer_flag(const Arguments& arguments, const std::string& flag, int fallback, int minimum, int maximum) {
  const auto text = arguments.value(flag);
  if (!text) return fallback;
  const bool digits =
      !text->empty() && text->size() < 11 && text->find_first_not_of("-0123456789") == std::string::npos;
  const long long value = digits ? std::stoll(*text) : minimum - 1LL;
  if (value < minimum || value > maximum) {
    throw UsageError{flag + " needs an integer in " + std::to_string(minimum) + ".." + std::to_string(maximum) +
                     ", got '" + *text + "'"};
  }
  return static_cast<int>(value);
}

serve::ModelControlMode control_mode(const Arguments& arguments) {
  const std::string mode = arguments.value("--model-control-mode").value_or("none");
  if (mode == "none") return serve::ModelControlMode::kNone;
  if (mode == "poll") return serve::ModelControlMode::kPoll;
  if (mode == "explicit") return serve::ModelControlMode::kExplicit;
  throw UsageError{"--model-control-mode must be none, poll or explicit, got '" + mode + "'"};
}

}  // namespace

int serve_command(const std::vector<std::string>& args) {
  const Arguments arguments(
      args,
      with_limit_flags({"--model-repository", "--model-control-mode", "--load-model", "--address", "--http-port",
                        "--grpc-port", "--metrics-port", "--http-threads", "--max-body-mb", "--repository-poll-secs"}),
      {});
  if (!arguments.positional().empty())
    throw UsageError{"serve takes no positional arguments (use --model-repository DIR)"};
  serve::ServeOptions options;
  const auto repository = arguments.value("--model-repository");
  if (!repository) throw UsageError{"serve needs --model-repository DIR"};
  options.model_repository = *repository;
  options.control_mode = control_mode(arguments);
  options.load_models = arguments.values("--load-model");
  if (!options.load_models.empty() && options.control_mode != serve::ModelControlMode::kExplicit) {
    throw UsageError{"--load-model needs --model-control-mode explicit"};
  }
  options.address = arguments.value("--address").value_or("0.0.0.0");
  options.http_port = integer_flag(arguments, "--http-port", 8000, -1, 65535);
  options.grpc_port = integer_flag(arguments, "--grpc-port", 8001, -1, 65535);
  options.metrics_port = integer_flag(arguments, "--metrics-port", 8002, -1, 65535);
  options.http_threads = integer_flag(arguments, "--http-threads", 0, 0, 1024);
  options.http_max_body_bytes = static_cast<size_t>(integer_flag(arguments, "--max-body-mb", 64, 1, 4096)) << 20;
  options.poll_seconds = integer_flag(arguments, "--repository-poll-secs", 15, 1, 86400);
  apply_limit_flags(arguments, options.limits.session);
  options.limits.run_timeout_ms = timeout_ms_flag(arguments);
  try {
    return serve::run_server(options);
  } catch (const std::runtime_error& e) {
    // Errors of the repository folder and of ports arrive here before any model is served.
    std::fprintf(stderr, "tessera serve: %s\n", e.what());
    return kExitRunError;
  }
}

}  // namespace tessera::cli

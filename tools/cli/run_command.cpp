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
#include "onnx/tensor_proto.h"
#include "profile_option.h"
#include "runtime/session.h"

namespace tessera::cli {

namespace {

// Fills a tensor of the input's declared type (symbolic dims taken as 1) with seeded random values.
RuntimeValue random_input(const IoInfo& input, std::mt19937& rng) {
  if (input.type.kind != TypeInfo::Kind::kTensor || !input.type.shape) {
    fail(ErrorCode::kInvalidArgument, "cannot make a random value for input '", input.name, "' of type ",
         input.type.to_string(), "; pass it with --input");
  }
  std::vector<int64_t> shape;
  for (const Dim& d : *input.type.shape) shape.push_back(d.is_known() ? d.value : 1);
  Tensor t(input.type.elem_type, shape);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string>) {
      for (int64_t i = 0; i < t.element_count(); ++i) t.data<T>()[i] = "text";
    } else if constexpr (std::is_same_v<T, bool>) {
      for (int64_t i = 0; i < t.element_count(); ++i) t.data<T>()[i] = uniform(rng) > 0;
    } else if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      for (int64_t i = 0; i < t.element_count(); ++i) t.data<T>()[i] = element_from_double<T>(uniform(rng));
    } else if constexpr (std::is_integral_v<T> || kIsSubByteInt<T>) {
      for (int64_t i = 0; i < t.element_count(); ++i) t.data<T>()[i] = element_from_double<T>(std::floor((uniform(rng) + 1) * 2));
    }
  });
  return RuntimeValue(t);
}

std::vector<std::pair<std::string, RuntimeValue>> gather_feeds(const Session& session, const Arguments& arguments) {
  std::vector<std::pair<std::string, RuntimeValue>> feeds;
  const auto& inputs = session.inputs();
  auto find_input = [&](const std::string& name) -> const IoInfo& {
    for (const IoInfo& in : inputs) if (in.name == name) return in;
    fail(ErrorCode::kInvalidArgument, "the model has no input named '", name, "'");
  };
  std::vector<const IoInfo*> required;
  for (const IoInfo& in : inputs) {
    if (!session.model().graph->initializers.count(in.name)) required.push_back(&in);
  }
  if (auto dir = arguments.value("--input-dir")) {
    for (size_t k = 0; k < required.size(); ++k) {
      const std::string path = *dir + "/input_" + std::to_string(k) + ".pb";
      if (!std::filesystem::exists(path)) {
        if (required[k]->type.kind == TypeInfo::Kind::kOptional) continue;
        fail(ErrorCode::kIo, "missing '", path, "' for input '", required[k]->name, "'");
      }
      feeds.emplace_back(required[k]->name, load_value_file(path, required[k]->type));
    }
  }
  for (const std::string& spec : arguments.values("--input")) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) throw UsageError{"--input expects NAME=FILE, got '" + spec + "'"};
    const IoInfo& in = find_input(spec.substr(0, eq));
    feeds.emplace_back(in.name, load_value_file(spec.substr(eq + 1), in.type));
  }
  if (arguments.has("--random-inputs")) {
    std::mt19937 rng(1234);
    for (const IoInfo* in : required) {
      const bool given = std::any_of(feeds.begin(), feeds.end(), [&](const auto& f) { return f.first == in->name; });
      if (!given) feeds.emplace_back(in->name, random_input(*in, rng));
    }
  }
  return feeds;
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"--input-dir", "--input", "--output-dir", "--threads", "--opt-level", "--repeat",
                                   "--profile"},
                            {"--random-inputs", "--quiet"});
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

  const auto load_start = std::chrono::steady_clock::now();
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(arguments.positional()[0], options);
  } catch (const Error& e) {
    std::fprintf(stderr, "tessera: cannot load model [%s]: %s\n", error_code_name(e.code()), e.what());
    return exit_code_for_load_error(static_cast<int>(e.code()));
  }
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();

  const auto feeds = gather_feeds(*session, arguments);
  const ProfileOption profile(arguments.value("--profile"));
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
      write_file(*dir + "/output_" + std::to_string(k) + ".pb", value_to_bytes(outputs[k], session->outputs()[k].name));
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

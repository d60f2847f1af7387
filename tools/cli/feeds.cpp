// Feeds for a model from the command line: --input-dir (test-data .pb files), --input NAME=FILE, --random-inputs.
#include "feeds.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "base/dtype_dispatch.h"
#include "base/error.h"

namespace tessera::cli {

namespace {

// Fills a tensor of the input's declared type (symbolic dims taken as 1) with seeded random values: floats in
// [-1, 1), integers in [0, 4), masks ones.
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
      // Masks (inputs named "...mask...") are ones, as `bench` makes them; other integers (ids) in [0, 4).
      const bool mask = input.name.find("mask") != std::string::npos;
      for (int64_t i = 0; i < t.element_count(); ++i) {
        t.data<T>()[i] = element_from_double<T>(mask ? 1.0 : std::floor((uniform(rng) + 1) * 2));
      }
    }
  });
  return RuntimeValue(t);
}

}  // namespace

std::vector<std::pair<std::string, RuntimeValue>> gather_feeds(const Session& session, const Arguments& arguments) {
  std::vector<std::string> defaulted;
  for (const IoInfo& in : session.inputs()) {
    if (session.model().graph->initializers.count(in.name)) defaulted.push_back(in.name);
  }
  return gather_feeds(session.inputs(), defaulted, arguments, arguments.has("--random-inputs"));
}

std::vector<std::pair<std::string, RuntimeValue>> gather_feeds(const std::vector<IoInfo>& inputs,
                                                               const std::vector<std::string>& defaulted,
                                                               const Arguments& arguments, bool randomize_missing) {
  std::vector<std::pair<std::string, RuntimeValue>> feeds;
  auto find_input = [&](const std::string& name) -> const IoInfo& {
    for (const IoInfo& in : inputs)
      if (in.name == name) return in;
    fail(ErrorCode::kInvalidArgument, "the model has no input named '", name, "'");
  };
  std::vector<const IoInfo*> required;
  for (const IoInfo& in : inputs) {
    if (std::find(defaulted.begin(), defaulted.end(), in.name) == defaulted.end()) required.push_back(&in);
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
  if (randomize_missing) {
    std::mt19937 rng(1234);
    for (const IoInfo* in : required) {
      const bool given = std::any_of(feeds.begin(), feeds.end(), [&](const auto& f) { return f.first == in->name; });
      if (!given) feeds.emplace_back(in->name, random_input(*in, rng));
    }
  }
  return feeds;
}

std::vector<std::vector<std::pair<std::string, RuntimeValue>>> read_sample_folders(
    const std::string& dir, const std::vector<IoInfo>& inputs, const std::vector<std::string>& defaulted) {
  if (!std::filesystem::is_directory(dir)) fail(ErrorCode::kIo, "'", dir, "' is not a folder");
  std::vector<std::string> folders;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_directory()) folders.push_back(entry.path().string());
  }
  std::sort(folders.begin(), folders.end());
  if (folders.empty()) folders.push_back(dir);
  std::vector<std::vector<std::pair<std::string, RuntimeValue>>> samples;
  for (const std::string& folder : folders) {
    std::vector<std::pair<std::string, RuntimeValue>> feeds;
    size_t k = 0;
    for (const IoInfo& in : inputs) {
      if (std::find(defaulted.begin(), defaulted.end(), in.name) != defaulted.end()) continue;
      std::string found;
      for (const std::string& name : {in.name + ".npy", in.name + ".pb", "input_" + std::to_string(k) + ".pb"}) {
        if (found.empty() && std::filesystem::exists(folder + "/" + name)) found = folder + "/" + name;
      }
      if (found.empty()) {
        fail(ErrorCode::kIo, "sample folder '", folder, "' has no ", in.name, ".npy, ", in.name, ".pb or input_", k,
             ".pb for input '", in.name, "'");
      }
      feeds.emplace_back(in.name, load_value_file(found, in.type));
      ++k;
    }
    samples.push_back(std::move(feeds));
  }
  return samples;
}

}  // namespace tessera::cli

#include "serve/model_repository.h"

#include <algorithm>
#include <cstdio>

#include "base/error.h"
#include "serve/model_config.h"

namespace tessera::serve {

namespace fs = std::filesystem;

namespace {

constexpr const char* kReady = "READY";
constexpr const char* kUnavailable = "UNAVAILABLE";
constexpr const char* kLoading = "LOADING";

bool is_version_name(const std::string& text) {
  return !text.empty() && text.size() < 19 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

ModelRepository::ModelRepository(fs::path root, ModelControlMode mode, ServingLimits limits)
    : root_(std::move(root)), mode_(mode), limits_(std::move(limits)) {
  if (!fs::is_directory(root_)) fail(ErrorCode::kIo, "model repository '", root_.string(), "' is not a folder");
}

std::vector<std::string> ModelRepository::model_folders() const {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && !name.empty() && name[0] != '.') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ModelRepository::fingerprint(const std::string& name) const {
  std::vector<std::string> rows;
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(root_ / name, error)) {
    if (!entry.is_regular_file()) continue;
    const auto stamp = entry.last_write_time().time_since_epoch().count();
    rows.push_back(entry.path().string() + ":" + std::to_string(entry.file_size()) + ":" + std::to_string(stamp));
  }
  std::sort(rows.begin(), rows.end());
  std::string joined;
  for (const std::string& row : rows) joined += row + "\n";
  return joined;
}

std::vector<std::shared_ptr<ServedModel>> ModelRepository::load_versions(const std::string& name) const {
  const fs::path model_dir = root_ / name;
  const ModelConfigFile file = read_model_config(model_dir);
  std::vector<int64_t> available;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(model_dir, error)) {
    const std::string folder = entry.path().filename().string();
    if (entry.is_directory() && is_version_name(folder)) available.push_back(std::stoll(folder));
  }
  const std::vector<int64_t> chosen = select_versions(file.config, available);
  check_model(!chosen.empty(), "model '", name, "': no version folder matches the version policy (found ",
              available.size(), " numeric folders)");
  std::vector<std::shared_ptr<ServedModel>> versions;
  for (int64_t version : chosen) {
    versions.push_back(std::make_shared<ServedModel>(model_dir, name, version, file.config, file.from_file, limits_));
  }
  return versions;
}

bool ModelRepository::is_model_folder(const std::string& name) const {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." && name[0] != '.' &&
         fs::is_directory(root_ / name);
}

void ModelRepository::load_locked(const std::string& name) {
  if (!is_model_folder(name)) {
    throw ServeError(ServeStatus::kNotFound, "model '" + name + "' is not in the repository");
  }
  const std::string stamp = fingerprint(name);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ModelEntry& entry = models_[name];
    entry.wanted = true;
    if (entry.versions.empty()) entry.state = kLoading;
  }
  std::vector<std::shared_ptr<ServedModel>> fresh;
  try {
    fresh = load_versions(name);
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    ModelEntry& entry = models_[name];
    entry.fingerprint = stamp;
    if (entry.versions.empty()) {
      entry.state = kUnavailable;
      entry.reason = e.what();
    }
    throw ServeError(ServeStatus::kBadRequest, std::string("failed to load '") + name + "': " + e.what());
  }
  std::vector<std::shared_ptr<ServedModel>> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ModelEntry& entry = models_[name];
    old.swap(entry.versions);
    entry.versions = std::move(fresh);
    entry.state = kReady;
    entry.reason.clear();
    entry.fingerprint = stamp;
  }
  // `old` goes here, outside the lock: its queued requests finish first.
}

void ModelRepository::load_initial(const std::vector<std::string>& explicit_names) {
  std::lock_guard<std::mutex> guard(load_mutex_);
  const std::vector<std::string> names = mode_ == ModelControlMode::kExplicit ? explicit_names : model_folders();
  for (const std::string& name : names) {
    try {
      load_locked(name);
      std::fprintf(stderr, "tessera serve: loaded model '%s'\n", name.c_str());
    } catch (const ServeError& e) {
      std::fprintf(stderr, "tessera serve: %s\n", e.what());
    }
  }
}

void ModelRepository::require_explicit_mode() const {
  if (mode_ != ModelControlMode::kExplicit) {
    throw ServeError(ServeStatus::kBadRequest,
                     "explicit model load/unload is not allowed: the server runs with --model-control-mode " +
                         std::string(mode_ == ModelControlMode::kPoll ? "poll" : "none"));
  }
}

void ModelRepository::load(const std::string& name) {
  require_explicit_mode();
  std::lock_guard<std::mutex> guard(load_mutex_);
  load_locked(name);
}

void ModelRepository::unload(const std::string& name) {
  require_explicit_mode();
  std::lock_guard<std::mutex> guard(load_mutex_);
  std::vector<std::shared_ptr<ServedModel>> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = models_.find(name);
    if (found == models_.end())
      throw ServeError(ServeStatus::kNotFound, "model '" + name + "' is not in the repository");
    old.swap(found->second.versions);
    found->second.state = kUnavailable;
    found->second.reason = "unloaded";
    found->second.wanted = false;
  }
}

void ModelRepository::poll() {
  std::lock_guard<std::mutex> guard(load_mutex_);
  const std::vector<std::string> folders = model_folders();
  std::vector<std::string> removed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, entry] : models_) {
      if (!std::binary_search(folders.begin(), folders.end(), name)) removed.push_back(name);
    }
  }
  for (const std::string& name : removed) {
    std::vector<std::shared_ptr<ServedModel>> old;
    std::lock_guard<std::mutex> lock(mutex_);
    old.swap(models_[name].versions);
    models_.erase(name);
    std::fprintf(stderr, "tessera serve: unloaded removed model '%s'\n", name.c_str());
  }
  for (const std::string& name : folders) {
    std::string known;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto found = models_.find(name);
      if (found != models_.end()) known = found->second.fingerprint;
    }
    if (known == fingerprint(name)) continue;
    try {
      load_locked(name);
      std::fprintf(stderr, "tessera serve: loaded model '%s'\n", name.c_str());
    } catch (const ServeError& e) {
      std::fprintf(stderr, "tessera serve: %s\n", e.what());
    }
  }
}

void ModelRepository::unload_all() {
  std::lock_guard<std::mutex> guard(load_mutex_);
  std::map<std::string, ModelEntry> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old.swap(models_);
  }
}

std::shared_ptr<ServedModel> ModelRepository::find(const std::string& name, const std::string& version) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = models_.find(name);
  if (found == models_.end()) {
    if (is_model_folder(name)) throw ServeError(ServeStatus::kUnavailable, "model '" + name + "' is not loaded");
    throw ServeError(ServeStatus::kNotFound, "unknown model '" + name + "'");
  }
  const ModelEntry& entry = found->second;
  if (entry.versions.empty()) {
    throw ServeError(ServeStatus::kUnavailable, "model '" + name + "' is not ready (" + entry.state +
                                                    (entry.reason.empty() ? "" : ": " + entry.reason) + ")");
  }
  if (version.empty()) return entry.versions.back();
  for (const auto& served : entry.versions) {
    if (served->version_string() == version) return served;
  }
  std::string loaded;
  for (const auto& served : entry.versions) loaded += (loaded.empty() ? "" : ", ") + served->version_string();
  throw ServeError(ServeStatus::kNotFound,
                   "model '" + name + "' has no version '" + version + "' (loaded: " + loaded + ")");
}

std::vector<std::shared_ptr<ServedModel>> ModelRepository::loaded(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<ServedModel>> result;
  for (const auto& [model_name, entry] : models_) {
    if (name.empty() || model_name == name) result.insert(result.end(), entry.versions.begin(), entry.versions.end());
  }
  return result;
}

std::vector<ModelIndexEntry> ModelRepository::index() const {
  std::vector<ModelIndexEntry> rows;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const std::string& name : model_folders()) {
    const auto found = models_.find(name);
    if (found == models_.end()) {
      rows.push_back({name, "", kUnavailable, "not loaded"});
      continue;
    }
    for (const auto& served : found->second.versions) rows.push_back({name, served->version_string(), kReady, ""});
    if (found->second.versions.empty()) rows.push_back({name, "", found->second.state, found->second.reason});
  }
  return rows;
}

bool ModelRepository::ready() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::all_of(models_.begin(), models_.end(),
                     [](const auto& item) { return !item.second.wanted || item.second.state == kReady; });
}

}  // namespace tessera::serve

// ModelRepository: the models of a Triton-style repository folder (`<root>/<model>/config.pbtxt` and numeric
// version folders `<root>/<model>/<version>/model.onnx`), which of them are loaded, and loading, unloading,
// reloading and polling under the three control modes. Thread-safe; loads run one at a time, and a reload
// swaps the new versions in only once they are ready, so requests keep being served throughout.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "serve/served_model.h"

namespace tessera::serve {

// none: every model loaded at start, never changed. poll: every model at start, then poll() follows the
// folder. explicit: only the models named at start; load/unload by request.
enum class ModelControlMode { kNone, kPoll, kExplicit };

// One row of the repository index.
struct ModelIndexEntry {
  std::string name;
  std::string version;  // empty for a model with no loaded version
  std::string state;    // READY, UNAVAILABLE, LOADING
  std::string reason;   // why it is unavailable
};

class ModelRepository {
 public:
  // Refuses (Error kIo) a root that is not a folder. Every model is loaded and run within `limits`, or the limits
  // its config.pbtxt sets (model_limits).
  ModelRepository(std::filesystem::path root, ModelControlMode mode, ServingLimits limits = {});

  // Loads every model folder (none, poll) or the named ones (explicit); a failing model is reported on
  // stderr and in the index, and leaves the server not ready.
  void load_initial(const std::vector<std::string>& explicit_names);
  // Loads or reloads one model. ServeError: kBadRequest when the mode forbids it or the load fails,
  // kNotFound when the repository has no such folder.
  void load(const std::string& name);
  // Unloads one model; in-flight and queued requests still complete. Same errors as load.
  void unload(const std::string& name);
  // (poll mode) loads new model folders, reloads changed ones, unloads removed ones.
  void poll();
  // Unloads everything, waiting for queued requests to finish.
  void unload_all();

  // The loaded model version for a request: `version` empty means the highest loaded one. ServeError
  // kNotFound for an unknown model or version, kUnavailable for a model that is not loaded.
  std::shared_ptr<ServedModel> find(const std::string& name, const std::string& version) const;
  // Every loaded version of `name` (ascending); of every model when `name` is empty.
  std::vector<std::shared_ptr<ServedModel>> loaded(const std::string& name = {}) const;
  // One row per model folder (per loaded version when loaded).
  std::vector<ModelIndexEntry> index() const;
  // True when every model that should be loaded is.
  bool ready() const;
  ModelControlMode mode() const { return mode_; }

 private:
  struct ModelEntry {
    std::vector<std::shared_ptr<ServedModel>> versions;
    std::string state;  // READY, UNAVAILABLE, LOADING
    std::string reason;
    std::string fingerprint;  // of the folder's files when loaded (poll mode compares it)
    bool wanted = false;      // should be loaded
  };
  // Loads `name` from its folder into fresh versions; throws Error or ServeError.
  std::vector<std::shared_ptr<ServedModel>> load_versions(const std::string& name) const;
  void load_locked(const std::string& name);  // with load_mutex_ held
  void require_explicit_mode() const;         // ServeError(kBadRequest) in none and poll modes
  std::vector<std::string> model_folders() const;
  // True when `name` is a plain folder name (no '/', not hidden) of a folder in the repository.
  bool is_model_folder(const std::string& name) const;
  std::string fingerprint(const std::string& name) const;

  std::filesystem::path root_;
  ModelControlMode mode_;
  ServingLimits limits_;
  std::mutex load_mutex_;     // one load or unload at a time
  mutable std::mutex mutex_;  // guards models_
  std::map<std::string, ModelEntry> models_;
};

}  // namespace tessera::serve

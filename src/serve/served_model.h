// ServedModel: one loaded version of a repository model — its completed config, Session, statistics and
// request scheduler. Shared by pointer: requests that found it keep it alive through an unload or reload.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "model_config.pb.h"
#include "runtime/session.h"
#include "serve/model_limits.h"
#include "serve/model_statistics.h"
#include "serve/request_scheduler.h"

namespace tessera::serve {

class ServedModel {
 public:
  // Loads `<model_dir>/<version>/<default_model_filename>` with the session options of `config`, completes
  // and checks the config against it, runs the config's warmup requests, and starts the instances. Throws
  // Error (the model's own load errors, or kInvalidModel for config problems) naming the model. `limits` (the
  // server's) with the config's limit parameters applied (model_limits) bound the session and every run.
  ServedModel(const std::filesystem::path& model_dir, const std::string& name, int64_t version,
              inference::ModelConfig config, bool config_from_file, const ServingLimits& limits = {});
  // Runs every queued request before it goes.
  ~ServedModel();

  const std::string& name() const { return name_; }
  int64_t version() const { return version_; }
  const std::string& version_string() const { return version_string_; }
  const inference::ModelConfig& config() const { return config_; }
  const Session& session() const { return *session_; }
  const ModelStatistics& statistics() const { return statistics_; }
  // Runs `decode` (a front end's body decoder) and returns its request; a ServeError it throws (malformed
  // body, unknown datatype, data that does not fit the shape) counts as a failed request of this model
  // version, then propagates.
  template <typename Decode>
  InferenceRequest decode_request(Decode&& decode) {
    const auto started = SteadyClock::now();
    try {
      return decode();
    } catch (const ServeError&) {
      statistics_.record_failure(nanoseconds_since(started));
      throw;
    }
  }
  RequestScheduler& scheduler() { return *scheduler_; }
  const RequestScheduler& scheduler() const { return *scheduler_; }

 private:
  std::string name_;
  int64_t version_;
  std::string version_string_;
  inference::ModelConfig config_;
  std::unique_ptr<Session> session_;
  ModelStatistics statistics_;
  std::unique_ptr<RequestScheduler> scheduler_;  // last: stopped first
};

// Runs the config's model_warmup entries (zero_data or random_data inputs; input_data_file is refused) on
// `session` synchronously, each run within `timeout_ms` (0: no deadline). Throws Error(kInvalidModel) naming the
// warmup and input, or the run's error (a passed deadline names the node reached).
void run_model_warmup(const Session& session, const inference::ModelConfig& config, int64_t timeout_ms = 0);

}  // namespace tessera::serve

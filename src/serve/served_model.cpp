#include "serve/served_model.h"

#include "base/error.h"
#include "serve/model_config.h"

namespace tessera::serve {

ServedModel::ServedModel(const std::filesystem::path& model_dir, const std::string& name, int64_t version,
                         inference::ModelConfig config, bool config_from_file, const ServingLimits& limits)
    : name_(name), version_(version), version_string_(std::to_string(version)), config_(std::move(config)) {
  config_.set_name(name);
  const std::string filename =
      config_.default_model_filename().empty() ? "model.onnx" : config_.default_model_filename();
  const std::filesystem::path path = model_dir / version_string_ / filename;
  if (!std::filesystem::is_regular_file(path)) {
    fail(ErrorCode::kIo, "model '", name, "' version ", version, ": no model file ", path.string());
  }
  const ServingLimits bounds = model_limits(config_, limits);
  SessionOptions options = session_options_from_config(config_);
  options.limits = bounds.session;
  session_ = std::make_unique<Session>(path.string(), std::move(options));
  complete_model_config(config_, config_from_file, name, *session_);
  run_model_warmup(*session_, config_, bounds.run_timeout_ms);  // an endless warmup fails the load, not hangs it
  scheduler_ =
      std::make_unique<RequestScheduler>(*session_, config_, version_string_, statistics_, bounds.run_timeout_ms);
}

ServedModel::~ServedModel() { scheduler_.reset(); }

}  // namespace tessera::serve

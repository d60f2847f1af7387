// config.pbtxt: read with protobuf's text format against the project's subset of Triton's model_config.proto,
// completed from the model (inputs, outputs, batching) and checked against it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "model_config.pb.h"
#include "runtime/session.h"

namespace tessera::serve {

// The config in `<model_dir>/config.pbtxt`, or an empty one (marked by `from_file == false`) when there is
// none. Fields Tessera does not know are skipped with a warning on stderr naming them; a malformed file is
// an Error(kInvalidModel) naming the file, line and column.
struct ModelConfigFile {
  inference::ModelConfig config;
  bool from_file = false;
};
ModelConfigFile read_model_config(const std::filesystem::path& model_dir);

// Parses config.pbtxt `text` (protobuf text format; unknown fields skipped with a warning on stderr). Throws
// Error(kInvalidModel) naming `file`, line and column for malformed text.
inference::ModelConfig parse_model_config(const std::string& text, const std::string& file);

// Fills what the config leaves out from the model (name, platform/backend, inputs, outputs, their types and
// dims, max_batch_size when there was no file, one CPU instance) and checks the rest against it: names,
// datatypes, ranks and known dims, batching fields, instance kinds. Throws Error(kInvalidModel) naming the
// model and the field.
void complete_model_config(inference::ModelConfig& config, bool from_file, const std::string& model_name,
                           const Session& session);

// Session options from config `parameters`: "intra_op_thread_count" (integer) and "optimization_level"
// (disabled, basic, extended, all). Throws Error(kInvalidModel) for values it cannot read. Warns on stderr about
// parameters that are neither these nor limit parameters (serve/model_limits.h), naming them.
SessionOptions session_options_from_config(const inference::ModelConfig& config);

// The versions of `available` (numeric folder names) that the config's version_policy selects, ascending.
std::vector<int64_t> select_versions(const inference::ModelConfig& config, std::vector<int64_t> available);

// The number of instances (worker threads) the config's instance groups ask for, at least 1.
int instance_count(const inference::ModelConfig& config);

// The config as the protocol's JSON (field names as in config.pbtxt, defaults printed).
std::string model_config_to_json(const inference::ModelConfig& config);

}  // namespace tessera::serve

// Per-model resource limits: what `tessera serve` bounds for a model — the server's flags, overridden by the
// model's own config.pbtxt `parameters` (docs/SERVING.md, "Per-model limits").
#pragma once

#include <cstdint>
#include <string>

#include "model_config.pb.h"
#include "ops/run_guard.h"

namespace tessera::serve {

// What `tessera serve` bounds for one model: its session's limits and each batch's run deadline.
struct ServingLimits {
  ResourceLimits session;      // SessionOptions::limits of the model's session
  int64_t run_timeout_ms = 0;  // each batch's run deadline (0: none)
};

// `server` (the command line's limits) with the config's limit parameters applied on top: "max_tensor_bytes",
// "max_live_bytes", "max_loop_iterations", "max_graph_depth", "max_model_bytes" (the ResourceLimits fields)
// and "timeout_ms" (the run deadline, 0: none), each a decimal integer in 0..2^63-1 in `string_value`. A value
// in the config replaces the server's for this model only. Throws Error(kInvalidModel) naming the model, the
// parameter and the value when a value is not such an integer.
ServingLimits model_limits(const inference::ModelConfig& config, const ServingLimits& server);

// Whether `key` is one of the limit parameters model_limits reads.
bool is_limit_parameter(const std::string& key);

}  // namespace tessera::serve

// tessera_session_options: the SessionOptions a C caller may set.
#include "c_api_guard.h"

using tessera::c_api::guarded;
using tessera::c_api::require;

extern "C" {

tessera_status tessera_session_options_create(tessera_session_options** out) {
  return guarded([&] {
    require(out, "out");
    *out = new tessera_session_options{};
  });
}

void tessera_session_options_destroy(tessera_session_options* options) { delete options; }

tessera_status tessera_session_options_set_intra_op_threads(tessera_session_options* options, int32_t threads) {
  return guarded([&] {
    require(options, "options");
    tessera::check_argument(threads >= 0, "intra-op threads must be >= 0, got ", threads);
    options->options.intra_op_threads = threads;
  });
}

tessera_status tessera_session_options_set_optimization_level(tessera_session_options* options,
                                                              tessera_optimization_level level) {
  return guarded([&] {
    require(options, "options");
    const int value = static_cast<int>(level);
    tessera::check_argument(value >= 0 && value <= 3, "optimization level must be 0..3, got ", value);
    options->options.optimization_level = static_cast<tessera::OptimizationLevel>(value);
  });
}

tessera_status tessera_session_options_add_free_dimension_override(tessera_session_options* options,
                                                                   const char* dim_name, int64_t value) {
  return guarded([&] {
    require(options, "options");
    require(dim_name, "dim_name");
    tessera::check_argument(value >= 0, "free dimension '", dim_name, "' must be >= 0, got ", value);
    options->options.free_dimension_overrides[dim_name] = value;
  });
}

tessera_status tessera_session_options_set_optimized_model_filepath(tessera_session_options* options,
                                                                    const char* path) {
  return guarded([&] {
    require(options, "options");
    options->options.optimized_model_filepath = path != nullptr ? path : "";
  });
}

}  // extern "C"

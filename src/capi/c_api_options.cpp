// tessera_session_options: the SessionOptions a C caller may set.
#include <cstdint>

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

tessera_status tessera_session_options_set_denormals_as_zero(tessera_session_options* options, int on) {
  return guarded([&] {
    require(options, "options");
    options->options.denormals_as_zero = on != 0;
  });
}

tessera_status tessera_session_options_set_matmul_precision(tessera_session_options* options,
                                                            tessera_matmul_precision precision) {
  return guarded([&] {
    require(options, "options");
    const int value = static_cast<int>(precision);
    tessera::check_argument(value == 0 || value == 1, "matmul precision must be 0 (FP32) or 1 (BF16), got ", value);
    options->options.matmul_precision =
        value == 1 ? tessera::MatMulPrecision::kBFloat16 : tessera::MatMulPrecision::kFloat32;
  });
}

tessera_status tessera_session_options_set_limit(tessera_session_options* options, tessera_limit limit,
                                                 uint64_t value) {
  return guarded([&] {
    require(options, "options");
    tessera::ResourceLimits& limits = options->options.limits;
    const auto count = [&](const char* name) {
      tessera::check_argument(value <= static_cast<uint64_t>(INT64_MAX), name, " must be at most INT64_MAX, got ",
                              value);
      return static_cast<int64_t>(value);
    };
    switch (limit) {
      case TESSERA_LIMIT_MAX_TENSOR_BYTES:
        limits.max_tensor_bytes = value;
        return;
      case TESSERA_LIMIT_MAX_LOOP_ITERATIONS:
        limits.max_loop_iterations = count("max_loop_iterations");
        return;
      case TESSERA_LIMIT_MAX_GRAPH_DEPTH:
        limits.max_graph_depth = count("max_graph_depth");
        return;
      case TESSERA_LIMIT_MAX_MODEL_BYTES:
        limits.max_model_bytes = value;
        return;
      case TESSERA_LIMIT_MAX_LIVE_BYTES:
        limits.max_live_bytes = value;
        return;
    }
    tessera::fail(tessera::ErrorCode::kInvalidArgument, "unknown limit ", static_cast<int>(limit));
  });
}

tessera_status tessera_run_options_create(tessera_run_options** out) {
  return guarded([&] {
    require(out, "out");
    *out = new tessera_run_options{};
  });
}

void tessera_run_options_destroy(tessera_run_options* options) { delete options; }

tessera_status tessera_run_options_set_timeout_ms(tessera_run_options* options, int64_t timeout_ms) {
  return guarded([&] {
    require(options, "options");
    tessera::check_argument(timeout_ms >= 0, "timeout_ms must be >= 0, got ", timeout_ms);
    options->timeout_ms = timeout_ms;
  });
}

tessera_status tessera_run_options_set_terminate(tessera_run_options* options, int32_t terminate) {
  return guarded([&] {
    require(options, "options");
    options->terminate.store(terminate != 0);
  });
}

}  // extern "C"

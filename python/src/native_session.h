// NativeSession: the compiled half of tessera.InferenceSession. It owns a Session (and a Profiler when
// profiling is on), describes inputs and outputs in onnxruntime's terms, and runs with the GIL released.
#pragma once

#include <nanobind/nanobind.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "runtime/profiler.h"
#include "runtime/session.h"

namespace tessera::python {

// A flag another Python thread may set while a run is in flight (RunOptions.terminate).
struct TerminateFlag {
  std::atomic<bool> value{false};
};

class NativeSession {
 public:
  // `source` is a path (str) or serialized model bytes (bytes). `options` keys (all optional):
  // intra_op_num_threads (int), optimization_level ("disabled"|"basic"|"extended"|"all"),
  // free_dimension_overrides (dict str -> int), disabled_passes (list of str), enable_profiling (bool),
  // optimized_model_filepath (str: write the optimized model there at creation).
  NativeSession(nanobind::handle source, const nanobind::dict& options);

  // (name, type string such as "tensor(float)", shape list of int / str (symbolic) / None (unknown)) for the
  // inputs a caller must feed (not backed by an initializer), the overridable initializers, and the outputs.
  nanobind::list inputs() const;
  nanobind::list overridable_initializers() const;
  nanobind::list outputs() const;
  // producer_name, graph_name, domain, description, graph_description, version, custom_metadata_map.
  nanobind::dict metadata() const;

  // Runs with feeds (names[i] fed arrays[i] converted to dtypes[i], ONNX element type numbers). Returns one
  // object per requested output (all when `output_names` is empty), see value_to_python. `terminate` may be
  // null; `timeout_ms` > 0 sets the run's deadline (RunControl::timeout_ms).
  nanobind::list run(const std::vector<std::string>& names, const nanobind::list& arrays,
                     const std::vector<int32_t>& dtypes, const std::vector<std::string>& output_names,
                     const TerminateFlag* terminate, int64_t timeout_ms) const;

  // True from creation (with enable_profiling) until end_profiling.
  bool profiling_enabled() const { return profiling_.load(); }
  // Writes the profile (Chrome-trace JSON) to `path` and stops recording: later runs are not profiled.
  void end_profiling(const std::string& path);

 private:
  nanobind::list describe(const std::vector<IoInfo>& infos, bool initializers) const;

  std::unique_ptr<Session> session_;
  std::unique_ptr<Profiler> profiler_;  // kept after end_profiling: runs in flight may still record into it
  std::atomic<bool> profiling_{false};
};

}  // namespace tessera::python

// Profiler: per-node and per-run timings of a session's runs, written as Chrome-trace JSON (the "Trace Event
// Format" that chrome://tracing and Perfetto open). Safe to use from concurrent runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/node_observer.h"

namespace tessera {

// One complete ("ph": "X") trace event.
struct ProfileEvent {
  std::string name;      // node name (or its label), or "model_run"
  std::string category;  // "Node" or "Session"
  int64_t start_us = 0;  // since the profiler was created
  int64_t duration_us = 0;
  uint64_t thread_id = 0;
  std::string op_type;                     // nodes only
  std::string provider;                    // nodes only
  std::vector<std::string> input_shapes;   // nodes only: "float[1,3]" per input ("" for an omitted one)
  std::vector<std::string> output_shapes;  // nodes only
};

class Profiler {
 public:
  using Clock = std::chrono::steady_clock;

  Profiler();

  // Records one run: pass it as RunControl::observer, then hand it back with Profiler::finish_run.
  class RunRecorder final : public NodeObserver {
   public:
    explicit RunRecorder(const Profiler& profiler);
    void before_node(size_t index, const Node& node, const std::string& provider,
                     const std::vector<const RuntimeValue*>& inputs) override;
    void after_node(size_t index, const Node& node, const std::string& provider,
                    const std::vector<const RuntimeValue*>& outputs) override;
    bool keeps_values() const override { return false; }  // only their shapes, as text

   private:
    friend class Profiler;
    const Profiler& profiler_;
    Clock::time_point run_start_;
    Clock::time_point node_start_;
    std::vector<std::string> pending_inputs_;
    std::vector<ProfileEvent> events_;
  };

  // A recorder whose run starts now.
  RunRecorder start_run() const { return RunRecorder(*this); }
  // Adds the recorder's node events and a "model_run" event spanning its run (ending now).
  void finish_run(RunRecorder&& recorder);

  // All events so far, in the order runs finished.
  std::vector<ProfileEvent> events() const;
  // The events as a Chrome-trace JSON document ({"traceEvents": [...]}).
  std::string to_chrome_trace() const;
  // Writes to_chrome_trace() to `path`; throws Error(kIo) naming the path when it cannot.
  void write(const std::string& path) const;

 private:
  int64_t micros_since_start(Clock::time_point t) const;

  Clock::time_point start_;
  mutable std::mutex mutex_;
  std::vector<ProfileEvent> events_;
};

}  // namespace tessera

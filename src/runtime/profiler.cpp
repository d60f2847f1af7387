#include "runtime/profiler.h"

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/error.h"

namespace tessera {

namespace {

uint64_t current_thread_id() {
  return static_cast<uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()) & 0xffffffff);
}

std::vector<std::string> describe_values(const std::vector<const RuntimeValue*>& values) {
  std::vector<std::string> out;
  out.reserve(values.size());
  for (const RuntimeValue* v : values) out.push_back(v == nullptr ? std::string() : v->description());
  return out;
}

nlohmann::json event_json(const ProfileEvent& e) {
  nlohmann::json j = {{"name", e.name},       {"cat", e.category}, {"ph", "X"},         {"ts", e.start_us},
                      {"dur", e.duration_us}, {"pid", 0},          {"tid", e.thread_id}};
  if (e.category == "Node") {
    j["args"] = {{"op_name", e.op_type},
                 {"provider", e.provider},
                 {"input_shapes", e.input_shapes},
                 {"output_shapes", e.output_shapes}};
  }
  return j;
}

}  // namespace

Profiler::Profiler() : start_(Clock::now()) {}

int64_t Profiler::micros_since_start(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(t - start_).count();
}

Profiler::RunRecorder::RunRecorder(const Profiler& profiler) : profiler_(profiler), run_start_(Clock::now()) {}

void Profiler::RunRecorder::before_node(size_t, const Node&, const std::string&,
                                        const std::vector<const RuntimeValue*>& inputs) {
  pending_inputs_ = describe_values(inputs);
  node_start_ = Clock::now();
}

void Profiler::RunRecorder::after_node(size_t, const Node& node, const std::string& provider,
                                       const std::vector<const RuntimeValue*>& outputs) {
  const Clock::time_point end = Clock::now();
  ProfileEvent e;
  e.name = node.name.empty() ? node.label() : node.name;
  e.category = "Node";
  e.start_us = profiler_.micros_since_start(node_start_);
  e.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(end - node_start_).count();
  e.thread_id = current_thread_id();
  e.op_type = node.op_type;
  e.provider = provider;
  e.input_shapes = std::move(pending_inputs_);
  e.output_shapes = describe_values(outputs);
  events_.push_back(std::move(e));
}

void Profiler::finish_run(RunRecorder&& recorder) {
  const Clock::time_point end = Clock::now();
  ProfileEvent run;
  run.name = "model_run";
  run.category = "Session";
  run.start_us = micros_since_start(recorder.run_start_);
  run.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(end - recorder.run_start_).count();
  run.thread_id = current_thread_id();
  std::lock_guard<std::mutex> lock(mutex_);
  for (ProfileEvent& e : recorder.events_) events_.push_back(std::move(e));
  events_.push_back(std::move(run));
}

std::vector<ProfileEvent> Profiler::events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

std::string Profiler::to_chrome_trace() const {
  nlohmann::json trace_events = nlohmann::json::array();
  for (const ProfileEvent& e : events()) trace_events.push_back(event_json(e));
  return nlohmann::json{{"traceEvents", trace_events}, {"displayTimeUnit", "ms"}}.dump();
}

void Profiler::write(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(ErrorCode::kIo, "cannot write the profile to '", path, "'");
  out << to_chrome_trace();
  if (!out.flush()) fail(ErrorCode::kIo, "cannot write the profile to '", path, "'");
}

}  // namespace tessera

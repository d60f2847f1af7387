#include "profile_option.h"

#include <cstdio>

namespace tessera::cli {

ProfileOption::ProfileOption(std::optional<std::string> path, int64_t timeout_ms)
    : path_(std::move(path)), timeout_ms_(timeout_ms) {
  if (path_) profiler_ = std::make_unique<Profiler>();
}

std::vector<RuntimeValue> ProfileOption::run(const Session& session,
                                             const std::vector<std::pair<std::string, RuntimeValue>>& feeds) const {
  if (!profiler_) return session.run(feeds, {}, RunControl{.timeout_ms = timeout_ms_});
  Profiler::RunRecorder recorder = profiler_->start_run();
  std::vector<RuntimeValue> outputs =
      session.run(feeds, {}, RunControl{.timeout_ms = timeout_ms_, .observer = &recorder});
  profiler_->finish_run(std::move(recorder));
  return outputs;
}

void ProfileOption::write() const {
  if (!profiler_) return;
  profiler_->write(*path_);
  std::fprintf(stderr, "profile written to %s\n", path_->c_str());
}

}  // namespace tessera::cli

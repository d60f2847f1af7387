// `--profile FILE` for `tessera run` and `tessera bench`: records every run's per-node timings and writes them
// as Chrome-trace JSON (chrome://tracing, Perfetto) when the command ends.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/profiler.h"
#include "runtime/session.h"

namespace tessera::cli {

class ProfileOption {
 public:
  // Profiling is on when `path` holds a file name. Every run gets a deadline of `timeout_ms` (0: none).
  explicit ProfileOption(std::optional<std::string> path, int64_t timeout_ms = 0);

  // session.run(feeds) with the timeout, recorded when profiling is on.
  std::vector<RuntimeValue> run(const Session& session,
                                const std::vector<std::pair<std::string, RuntimeValue>>& feeds) const;
  // Writes the profile (when on) and notes the file on stderr; throws Error(kIo) naming the path.
  void write() const;

 private:
  std::optional<std::string> path_;
  int64_t timeout_ms_;
  std::unique_ptr<Profiler> profiler_;
};

}  // namespace tessera::cli

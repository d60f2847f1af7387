#include "serve/model_limits.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "base/error.h"

namespace tessera::serve {

namespace {

// One limit parameter: its config key and where its value goes.
struct LimitParameter {
  const char* key;
  void (*apply)(ServingLimits& limits, int64_t value);
};

constexpr LimitParameter kLimitParameters[] = {
    {"max_tensor_bytes", [](ServingLimits& l, int64_t v) { l.session.max_tensor_bytes = static_cast<uint64_t>(v); }},
    {"max_live_bytes", [](ServingLimits& l, int64_t v) { l.session.max_live_bytes = static_cast<uint64_t>(v); }},
    {"max_loop_iterations", [](ServingLimits& l, int64_t v) { l.session.max_loop_iterations = v; }},
    {"max_graph_depth", [](ServingLimits& l, int64_t v) { l.session.max_graph_depth = v; }},
    {"max_model_bytes", [](ServingLimits& l, int64_t v) { l.session.max_model_bytes = static_cast<uint64_t>(v); }},
    {"timeout_ms", [](ServingLimits& l, int64_t v) { l.run_timeout_ms = v; }},
};

// The value of limit parameter `key` of `model`: only decimal digits (no sign, no spaces, no unit), at most
// 2^63-1.
int64_t parse_limit(const std::string& model, const std::string& key, const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  const bool digits_only =
      !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits_only || error != std::errc() || stop != end) {
    fail(ErrorCode::kInvalidModel, "model '", model, "': parameter ", key, " '", text, "' is not an integer in 0..",
         std::numeric_limits<int64_t>::max(), " (a plain decimal number: no sign, unit or spaces)");
  }
  return value;
}

}  // namespace

ServingLimits model_limits(const inference::ModelConfig& config, const ServingLimits& server) {
  ServingLimits limits = server;
  for (const LimitParameter& parameter : kLimitParameters) {
    const auto found = config.parameters().find(parameter.key);
    if (found == config.parameters().end()) continue;
    parameter.apply(limits, parse_limit(config.name(), parameter.key, found->second.string_value()));
  }
  return limits;
}

bool is_limit_parameter(const std::string& key) {
  return std::any_of(std::begin(kLimitParameters), std::end(kLimitParameters),
                     [&](const LimitParameter& parameter) { return key == parameter.key; });
}

}  // namespace tessera::serve

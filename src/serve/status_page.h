// The status page at `/` of the HTTP port: every model folder with its versions and state, request counts
// and rates, and a latency histogram per loaded version. The HTML is rendered on the server (so it shows the
// models without scripts) and refreshes itself every two seconds from `/status.json`.
#pragma once

#include <string>

#include "serve/model_repository.h"

namespace tessera::serve {

// The page (text/html).
std::string status_page_html(const ModelRepository& repository);
// What the page polls: {"models": [{"name", "version", "state", "reason", "success", "failure",
// "inference_count", "execution_count", "latency_bounds_us", "latency_counts"}], "time_ms"}.
std::string status_json(const ModelRepository& repository);

}  // namespace tessera::serve

// The Prometheus text exposition of every loaded model version's counters, under Triton's metric names
// (nv_inference_*) with `model` and `version` labels, so existing dashboards work.
#pragma once

#include <string>

#include "serve/model_repository.h"

namespace tessera::serve {

// The body of GET /metrics (content type "text/plain; version=0.0.4").
std::string prometheus_metrics(const ModelRepository& repository);

}  // namespace tessera::serve

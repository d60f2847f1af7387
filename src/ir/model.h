// Model: a loaded ONNX model — its metadata, opset imports and main graph (model-local functions inlined).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace tessera {

struct Model {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opset_imports;  // canonical domain -> version
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> function_names;  // model-local functions that were inlined ("domain:name")
  std::unique_ptr<Graph> graph;
};

}  // namespace tessera

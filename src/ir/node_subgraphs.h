// Whether a node runs subgraphs: for passes and the runtime, which treat such nodes apart.
#pragma once

#include "ir/graph.h"

namespace tessera {

// True when one of `node`'s attributes holds a graph or graphs (If, Loop, Scan, ...).
inline bool has_subgraphs(const Node& node) {
  for (const auto& [key, attr] : node.attributes) {
    if (attr.g || !attr.graphs.empty()) return true;
  }
  return false;
}

}  // namespace tessera

// What the quantizers share for rewriting a graph: fresh names, node construction, and the node-list filters of
// their options.
#pragma once

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"

namespace tessera::quantize {

// Fresh value and node names for `graph`: `base` when unused, else base_1, base_2, ...
class NameSource {
 public:
  explicit NameSource(const Graph& graph);
  std::string fresh(const std::string& base);

 private:
  std::unordered_set<std::string> used_;
};

// Appends an ai.onnx node of `opset` named fresh from `name` to `out` and returns it.
Node& append_node(std::vector<std::unique_ptr<Node>>& out, NameSource& names, const std::string& op_type,
                  std::vector<std::string> inputs, std::vector<std::string> outputs, const std::string& name,
                  int64_t opset);

// Removes the initializers named in `names` that nothing reads any more (node inputs, subgraphs, graph outputs)
// and that are not graph inputs.
void drop_unread_initializers(Graph& graph, const std::vector<std::string>& names);

// A node's name, or its first output when unnamed (how reports and include/exclude lists name nodes).
std::string node_key(const Node& node);

// True when `name` is in `list`.
bool listed(const std::vector<std::string>& list, const std::string& name);

// Why `node` is not to be quantized under the include/exclude lists ("" when it may be).
std::string list_exclusion(const Node& node, const std::vector<std::string>& include,
                           const std::vector<std::string>& exclude);

// The tensor filled with `values` converted to `dtype` (int8, uint8 or int32), shaped [n] when per_channel, else a
// scalar.
Tensor integer_parameter(DType dtype, const std::vector<int32_t>& values, bool per_channel);

}  // namespace tessera::quantize

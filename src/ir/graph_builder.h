// GraphBuilder: a small fluent way to build a Model in code, for tests and passes.
//
//   Model model = GraphBuilder(13)
//                     .input("x", DType::kFloat, {2, 3})
//                     .node("Relu", {"x"}, {"y"})
//                     .output("y")
//                     .build();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"

namespace tessera {

class GraphBuilder {
 public:
  // A model importing `opset` of ai.onnx (IR version 8).
  explicit GraphBuilder(int64_t opset);

  // Declares a graph input; a dim of -1 is unknown, and `symbols` (same length, "" for none) names dims.
  GraphBuilder& input(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                      const std::vector<std::string>& symbols = {});
  GraphBuilder& initializer(const std::string& name, Tensor value);
  // Appends a node; attributes are added with attr_* right after.
  GraphBuilder& node(const std::string& op_type, const std::vector<std::string>& inputs,
                     const std::vector<std::string>& outputs, const std::string& domain = "");
  GraphBuilder& attr_int(const std::string& name, int64_t value);
  GraphBuilder& attr_float(const std::string& name, float value);
  GraphBuilder& attr_ints(const std::string& name, const std::vector<int64_t>& values);
  GraphBuilder& attr_string(const std::string& name, const std::string& value);
  GraphBuilder& attr_strings(const std::string& name, const std::vector<std::string>& values);
  GraphBuilder& attr_tensor(const std::string& name, Tensor value);
  // Declares a graph output (type unknown unless given).
  GraphBuilder& output(const std::string& name, DType dtype = DType::kUndefined);
  // Imports another domain's opset.
  GraphBuilder& opset(const std::string& domain, int64_t version);

  // Finishes the model: assigns node opsets and sorts the graph (throws like the loader on bad graphs).
  Model build();

 private:
  Node& last_node();
  Model model_;
  int node_counter_ = 0;
};

}  // namespace tessera

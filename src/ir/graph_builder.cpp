#include "ir/graph_builder.h"

#include "base/error.h"

namespace tessera {

GraphBuilder::GraphBuilder(int64_t opset) {
  model_.ir_version = 8;
  model_.opset_imports[""] = opset;
  model_.graph = std::make_unique<Graph>();
  model_.graph->name = "built";
}

GraphBuilder& GraphBuilder::input(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                                  const std::vector<std::string>& symbols) {
  std::vector<Dim> dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < symbols.size() && !symbols[i].empty())
      dims.push_back(Dim::named(symbols[i]));
    else
      dims.push_back(shape[i] >= 0 ? Dim::known(shape[i]) : Dim{});
  }
  model_.graph->inputs.push_back({name, TypeInfo::tensor(dtype, dims)});
  return *this;
}

GraphBuilder& GraphBuilder::initializer(const std::string& name, Tensor value) {
  model_.graph->initializers[name] = std::move(value);
  return *this;
}

GraphBuilder& GraphBuilder::node(const std::string& op_type, const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& outputs, const std::string& domain) {
  model_.graph->add_node(op_type, inputs, outputs, op_type + "_" + std::to_string(node_counter_++), domain);
  return *this;
}

Node& GraphBuilder::last_node() {
  if (model_.graph->nodes.empty()) fail(ErrorCode::kInvalidArgument, "GraphBuilder: attribute before any node");
  return *model_.graph->nodes.back();
}

GraphBuilder& GraphBuilder::attr_int(const std::string& name, int64_t value) {
  last_node().set_attr_int(name, value);
  return *this;
}

GraphBuilder& GraphBuilder::attr_float(const std::string& name, float value) {
  last_node().set_attr_float(name, value);
  return *this;
}

GraphBuilder& GraphBuilder::attr_ints(const std::string& name, const std::vector<int64_t>& values) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInts;
  a.ints = values;
  last_node().attributes[name] = a;
  return *this;
}

GraphBuilder& GraphBuilder::attr_string(const std::string& name, const std::string& value) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kString;
  a.s = value;
  last_node().attributes[name] = a;
  return *this;
}

GraphBuilder& GraphBuilder::attr_strings(const std::string& name, const std::vector<std::string>& values) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kStrings;
  a.strings = values;
  last_node().attributes[name] = a;
  return *this;
}

GraphBuilder& GraphBuilder::attr_tensor(const std::string& name, Tensor value) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kTensor;
  a.t = std::move(value);
  last_node().attributes[name] = a;
  return *this;
}

GraphBuilder& GraphBuilder::output(const std::string& name, DType dtype) {
  model_.graph->outputs.push_back({name, dtype == DType::kUndefined ? TypeInfo{} : TypeInfo::tensor(dtype)});
  return *this;
}

GraphBuilder& GraphBuilder::opset(const std::string& domain, int64_t version) {
  model_.opset_imports[canonical_domain(domain)] = version;
  return *this;
}

Model GraphBuilder::build() {
  for (auto& n : model_.graph->nodes) {
    auto it = model_.opset_imports.find(n->domain);
    n->opset = it == model_.opset_imports.end() ? 0 : it->second;
  }
  model_.graph->sort_topologically();
  Model out = std::move(model_);
  model_ = Model{};
  return out;
}

}  // namespace tessera

#include "onnx/model_writer.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "base/error.h"
#include "onnx/tensor_proto.h"

namespace tessera {

namespace {

// Writes the large initializers' bytes into one external data file as the graphs are converted.
class ExternalDataWriter {
 public:
  ExternalDataWriter(uint64_t threshold, std::string location, std::string path)
      : threshold_(threshold), location_(std::move(location)), path_(std::move(path)) {}

  // Moves `proto`'s raw_data to the file when it is at least the threshold.
  void maybe_move_out(onnx::TensorProto* proto) {
    if (threshold_ == 0 || !proto->has_raw_data() || proto->raw_data().size() < threshold_) return;
    if (!file_.is_open()) {
      file_.open(path_, std::ios::binary | std::ios::trunc);
      if (!file_) fail(ErrorCode::kIo, "cannot write external data file '", path_, "'");
    }
    constexpr uint64_t kAlignment = 64;
    const uint64_t padding = (kAlignment - offset_ % kAlignment) % kAlignment;
    static const char kZeros[kAlignment] = {};
    file_.write(kZeros, static_cast<std::streamsize>(padding));
    offset_ += padding;
    const std::string& bytes = proto->raw_data();
    file_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file_) fail(ErrorCode::kIo, "cannot write external data file '", path_, "'");
    auto add_entry = [&](const char* key, const std::string& value) {
      auto* entry = proto->add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    };
    add_entry("location", location_);
    add_entry("offset", std::to_string(offset_));
    add_entry("length", std::to_string(bytes.size()));
    offset_ += bytes.size();
    proto->clear_raw_data();
    proto->set_data_location(onnx::TensorProto::EXTERNAL);
  }

  void close() {
    if (!file_.is_open()) return;
    file_.close();
    if (!file_) fail(ErrorCode::kIo, "cannot write external data file '", path_, "'");
  }

 private:
  uint64_t threshold_;
  std::string location_;
  std::string path_;
  std::ofstream file_;
  uint64_t offset_ = 0;
};

void graph_to_proto(const Graph& graph, onnx::GraphProto* proto, ExternalDataWriter* external);

// A densified sparse attribute goes back out in coordinate form: the non-zero elements and their linear indices.
void sparse_to_proto(const Tensor& dense, onnx::SparseTensorProto* proto) {
  for (int64_t d : dense.shape()) proto->add_dims(d);
  const size_t element_bytes = dtype_size(dense.dtype());
  const auto* bytes = static_cast<const uint8_t*>(dense.raw_data());
  std::vector<int64_t> nonzero;
  for (int64_t i = 0; i < dense.element_count(); ++i) {
    const uint8_t* element = bytes + static_cast<size_t>(i) * element_bytes;
    for (size_t b = 0; b < element_bytes; ++b) {
      if (element[b] != 0) {
        nonzero.push_back(i);
        break;
      }
    }
  }
  Tensor values(dense.dtype(), {static_cast<int64_t>(nonzero.size())});
  Tensor indices(DType::kInt64, {static_cast<int64_t>(nonzero.size())});
  for (size_t k = 0; k < nonzero.size(); ++k) {
    std::memcpy(static_cast<uint8_t*>(values.raw_data()) + k * element_bytes,
                bytes + static_cast<size_t>(nonzero[k]) * element_bytes, element_bytes);
    indices.data<int64_t>()[k] = nonzero[k];
  }
  tensor_to_proto(values, "", proto->mutable_values());
  tensor_to_proto(indices, "", proto->mutable_indices());
}

void attribute_to_proto(const Attribute& attr, onnx::AttributeProto* proto, ExternalDataWriter* external) {
  proto->set_name(attr.name);
  proto->set_type(static_cast<onnx::AttributeProto::AttributeType>(attr.type));
  switch (attr.type) {
    case Attribute::Type::kFloat:
      proto->set_f(attr.f);
      break;
    case Attribute::Type::kInt:
      proto->set_i(attr.i);
      break;
    case Attribute::Type::kString:
      proto->set_s(attr.s);
      break;
    case Attribute::Type::kTensor:
      tensor_to_proto(attr.t, "", proto->mutable_t());
      break;
    case Attribute::Type::kGraph:
      graph_to_proto(*attr.g, proto->mutable_g(), external);
      break;
    case Attribute::Type::kFloats:
      for (float v : attr.floats) proto->add_floats(v);
      break;
    case Attribute::Type::kInts:
      for (int64_t v : attr.ints) proto->add_ints(v);
      break;
    case Attribute::Type::kStrings:
      for (const auto& v : attr.strings) proto->add_strings(v);
      break;
    case Attribute::Type::kTensors:
      for (const auto& t : attr.tensors) tensor_to_proto(t, "", proto->add_tensors());
      break;
    case Attribute::Type::kGraphs:
      for (const auto& g : attr.graphs) graph_to_proto(*g, proto->add_graphs(), external);
      break;
    case Attribute::Type::kSparseTensor:
      sparse_to_proto(attr.t, proto->mutable_sparse_tensor());
      break;
    case Attribute::Type::kSparseTensors:
      for (const auto& t : attr.tensors) sparse_to_proto(t, proto->add_sparse_tensors());
      break;
    case Attribute::Type::kTypeProto:
      type_to_proto(attr.tp, proto->mutable_tp());
      break;
    case Attribute::Type::kTypeProtos:
      for (const auto& t : attr.type_protos) type_to_proto(t, proto->add_type_protos());
      break;
    case Attribute::Type::kUndefined:
      break;
  }
}

void value_info_to_proto(const std::string& name, const TypeInfo& type, onnx::ValueInfoProto* proto) {
  proto->set_name(name);
  if (type.kind != TypeInfo::Kind::kUnknown) type_to_proto(type, proto->mutable_type());
}

void graph_to_proto(const Graph& graph, onnx::GraphProto* proto, ExternalDataWriter* external) {
  proto->set_name(graph.name);
  for (const auto& node : graph.nodes) {
    auto* n = proto->add_node();
    n->set_name(node->name);
    n->set_op_type(node->op_type);
    n->set_domain(node->domain);
    for (const auto& in : node->inputs) n->add_input(in);
    for (const auto& out : node->outputs) n->add_output(out);
    for (const auto& [key, attr] : node->attributes) attribute_to_proto(attr, n->add_attribute(), external);
  }
  // Initializers in name order, so the same model always writes the same bytes.
  std::map<std::string, const Tensor*> sorted;
  for (const auto& [name, tensor] : graph.initializers) sorted[name] = &tensor;
  for (const auto& [name, tensor] : sorted) {
    if (!tensor->defined()) {
      fail(ErrorCode::kInvalidArgument, "initializer '", name,
           "' was released after a kernel packed it; save the model before the session compiles it");
    }
    auto* t = proto->add_initializer();
    tensor_to_proto(*tensor, name, t);
    if (external != nullptr) external->maybe_move_out(t);
  }
  for (const ValueInfo& in : graph.inputs) value_info_to_proto(in.name, in.type, proto->add_input());
  for (const ValueInfo& out : graph.outputs) value_info_to_proto(out.name, out.type, proto->add_output());
  std::map<std::string, const TypeInfo*> types;
  for (const auto& [name, type] : graph.value_types) types[name] = &type;
  for (const auto& entry : types) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture those in lambdas.
    const std::string& name = entry.first;
    const TypeInfo* type = entry.second;
    const bool is_io =
        std::any_of(graph.inputs.begin(), graph.inputs.end(), [&](const ValueInfo& v) { return v.name == name; }) ||
        std::any_of(graph.outputs.begin(), graph.outputs.end(), [&](const ValueInfo& v) { return v.name == name; });
    if (!is_io && type->kind != TypeInfo::Kind::kUnknown) value_info_to_proto(name, *type, proto->add_value_info());
  }
}

// Adds the domains that nodes use but the model does not import (fused contrib ops a pass introduced), at 1.
void collect_node_domains(const Graph& graph, std::map<std::string, int64_t>& imports) {
  for (const auto& node : graph.nodes) {
    imports.emplace(node->domain, 1);
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g) collect_node_domains(*attr.g, imports);
      for (const auto& g : attr.graphs)
        if (g) collect_node_domains(*g, imports);
    }
  }
}

void fill_model_proto(const Model& model, onnx::ModelProto* proto, ExternalDataWriter* external) {
  proto->set_ir_version(model.ir_version);
  proto->set_producer_name(model.producer_name);
  proto->set_producer_version(model.producer_version);
  proto->set_domain(model.domain);
  proto->set_model_version(model.model_version);
  proto->set_doc_string(model.doc_string);
  std::map<std::string, int64_t> imports = model.opset_imports;
  collect_node_domains(*model.graph, imports);
  for (const auto& [domain, version] : imports) {
    auto* opset = proto->add_opset_import();
    opset->set_domain(domain);
    opset->set_version(version);
  }
  for (const auto& [key, value] : model.metadata) {
    auto* entry = proto->add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  graph_to_proto(*model.graph, proto->mutable_graph(), external);
}

uint64_t initializer_bytes(const Graph& graph) {
  uint64_t total = 0;
  for (const auto& [name, tensor] : graph.initializers) total += tensor.byte_size();
  for (const auto& node : graph.nodes) {
    for (const auto& [key, attr] : node->attributes) {
      total += attr.t.byte_size();
      if (attr.g) total += initializer_bytes(*attr.g);
      for (const auto& g : attr.graphs)
        if (g) total += initializer_bytes(*g);
    }
  }
  return total;
}

}  // namespace

void model_to_proto(const Model& model, onnx::ModelProto* proto) { fill_model_proto(model, proto, nullptr); }

void save_model(const Model& model, const std::string& path, const ModelWriteOptions& options) {
  // Protobuf refuses messages of 2 GiB and more; leave room for the graph itself.
  constexpr uint64_t kInlineLimit = (uint64_t{1} << 31) - (uint64_t{64} << 20);
  uint64_t threshold = options.external_data_threshold;
  if (threshold == 0 && initializer_bytes(*model.graph) >= kInlineLimit) threshold = 1024;
  const std::filesystem::path target(path);
  const std::string location = target.filename().string() + ".data";
  const std::string data_path = (target.parent_path() / location).string();
  ExternalDataWriter external(threshold, location, data_path);
  onnx::ModelProto proto;
  fill_model_proto(model, &proto, &external);
  external.close();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(ErrorCode::kIo, "cannot write model file '", path, "'");
  if (!proto.SerializeToOstream(&out)) fail(ErrorCode::kIo, "cannot write model file '", path, "'");
  out.close();
  if (!out) fail(ErrorCode::kIo, "cannot write model file '", path, "'");
}

}  // namespace tessera

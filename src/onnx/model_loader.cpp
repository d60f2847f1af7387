#include "onnx/model_loader.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>

#include "base/error.h"
#include "onnx/external_data.h"
#include "ir/opset.h"
#include "onnx/tensor_proto.h"

namespace tessera {

namespace {

// Deepest message nesting accepted (graphs in attributes in graphs, types in types): ample for real models,
// and it keeps the parser's and the converter's recursion bounded.
constexpr int kMaxNestingDepth = 64;
// Most nodes that inlining model-local functions may create: a function calling another twice, forty deep,
// would otherwise expand to 2^40 nodes.
constexpr int64_t kMaxInlinedNodes = int64_t{1} << 20;
// The mapped model file is handed to the parser in windows this large; windows it has passed are dropped from
// the process's resident memory, so the parsed message is resident, never a second copy of the file.
constexpr int64_t kParseWindowBytes = int64_t{4} << 20;
// Protobuf reserves at most 50 MB for a string that does not lie in the buffer it is parsing and grows the rest
// by doubling (a 154 MB GPT-2 embedding was copied at 50 and 100 MB on the way). A window that reaches into an
// initializer this large is stretched to cover it whole, so its raw_data is copied once, at its exact size.
constexpr int64_t kWholeInitializerBytes = int64_t{32} << 20;

struct ConvertContext {
  ExternalDataResolver* resolver;
  int depth = 0;
};

std::unique_ptr<Graph> convert_graph(const onnx::GraphProto& proto, ConvertContext& context, Graph* parent,
                                     onnx::GraphProto* owned = nullptr);

Attribute convert_attribute(const onnx::AttributeProto& proto, ConvertContext& context, Graph* owner,
                            const std::string& node_label) {
  Attribute a;
  a.name = proto.name();
  a.ref_attr_name = proto.ref_attr_name();
  a.type = static_cast<Attribute::Type>(proto.type());
  if (proto.type() < 0 || proto.type() > 14) {
    fail(ErrorCode::kInvalidModel, node_label, ": attribute '", a.name, "' has unknown type ", proto.type());
  }
  if (a.type == Attribute::Type::kUndefined) {
    // IR < 3 models may omit the type: infer it from the populated field.
    if (proto.has_f()) a.type = Attribute::Type::kFloat;
    else if (proto.has_i()) a.type = Attribute::Type::kInt;
    else if (proto.has_s()) a.type = Attribute::Type::kString;
    else if (proto.has_t()) a.type = Attribute::Type::kTensor;
    else if (proto.has_g()) a.type = Attribute::Type::kGraph;
    else if (proto.floats_size()) a.type = Attribute::Type::kFloats;
    else if (proto.ints_size()) a.type = Attribute::Type::kInts;
    else if (proto.strings_size()) a.type = Attribute::Type::kStrings;
    else if (proto.tensors_size()) a.type = Attribute::Type::kTensors;
    else if (proto.graphs_size()) a.type = Attribute::Type::kGraphs;
  }
  a.f = proto.f();
  a.i = proto.i();
  a.s = proto.s();
  if (proto.has_t()) a.t = tensor_from_proto(proto.t(), context.resolver);
  if (proto.has_sparse_tensor()) a.t = tensor_from_sparse_proto(proto.sparse_tensor(), context.resolver);
  if (proto.has_g()) a.g = convert_graph(proto.g(), context, owner);
  a.floats.assign(proto.floats().begin(), proto.floats().end());
  a.ints.assign(proto.ints().begin(), proto.ints().end());
  a.strings.assign(proto.strings().begin(), proto.strings().end());
  for (const auto& t : proto.tensors()) a.tensors.push_back(tensor_from_proto(t, context.resolver));
  for (const auto& t : proto.sparse_tensors()) a.tensors.push_back(tensor_from_sparse_proto(t, context.resolver));
  for (const auto& g : proto.graphs()) a.graphs.push_back(convert_graph(g, context, owner));
  if (proto.has_tp()) a.tp = type_from_proto(proto.tp());
  for (const auto& tp : proto.type_protos()) a.type_protos.push_back(type_from_proto(tp));
  return a;
}

std::unique_ptr<Node> convert_node(const onnx::NodeProto& proto, ConvertContext& context, Graph* owner) {
  auto node = std::make_unique<Node>();
  node->name = proto.name();
  node->op_type = proto.op_type();
  node->domain = canonical_domain(proto.domain());
  node->inputs.assign(proto.input().begin(), proto.input().end());
  node->outputs.assign(proto.output().begin(), proto.output().end());
  if (node->op_type.empty()) fail(ErrorCode::kInvalidModel, node->label(), ": node has no op_type");
  for (const auto& attr : proto.attribute()) {
    Attribute a = convert_attribute(attr, context, owner, node->label());
    const std::string key = a.name;
    if (!node->attributes.emplace(key, std::move(a)).second) {
      fail(ErrorCode::kInvalidModel, node->label(), ": attribute '", key, "' appears twice");
    }
  }
  return node;
}

// `owned`, when given, is `proto` itself, which the caller no longer needs: initializers then take over their
// raw_data buffers instead of copying them.
std::unique_ptr<Graph> convert_graph(const onnx::GraphProto& proto, ConvertContext& context, Graph* parent,
                                     onnx::GraphProto* owned) {
  if (++context.depth > kMaxNestingDepth) {
    fail(ErrorCode::kInvalidModel, "subgraphs are nested more than ", kMaxNestingDepth, " deep");
  }
  auto graph = std::make_unique<Graph>();
  graph->name = proto.name();
  graph->parent = parent;
  auto add_initializer = [&](const std::string& name, auto convert) {
    if (name.empty()) fail(ErrorCode::kInvalidModel, "graph '", proto.name(), "' has an initializer without a name");
    if (graph->initializers.count(name)) {
      fail(ErrorCode::kInvalidModel, "graph '", proto.name(), "': initializer '", name, "' is declared twice");
    }
    graph->initializers[name] = convert();
  };
  for (int i = 0; i < proto.initializer_size(); ++i) {
    add_initializer(proto.initializer(i).name(), [&] {
      return owned != nullptr ? tensor_from_proto_taking_data(*owned->mutable_initializer(i), context.resolver)
                              : tensor_from_proto(proto.initializer(i), context.resolver);
    });
  }
  for (const auto& s : proto.sparse_initializer()) {
    add_initializer(s.values().name(), [&] { return tensor_from_sparse_proto(s, context.resolver); });
  }
  for (const auto& in : proto.input()) {
    for (const ValueInfo& seen : graph->inputs) {
      if (seen.name == in.name()) {
        fail(ErrorCode::kInvalidModel, "graph '", proto.name(), "': input '", in.name(), "' is declared twice");
      }
    }
    graph->inputs.push_back({in.name(), type_from_proto(in.type())});
  }
  for (const auto& out : proto.output()) graph->outputs.push_back({out.name(), type_from_proto(out.type())});
  for (const auto& vi : proto.value_info()) graph->value_types[vi.name()] = type_from_proto(vi.type());
  for (const auto& n : proto.node()) graph->nodes.push_back(convert_node(n, context, graph.get()));
  --context.depth;
  return graph;
}

// Model-local functions (FunctionProto) are expanded in place of the nodes that call them, so the runtime
// only ever sees primitive operators.
class FunctionInliner {
 public:
  FunctionInliner(const onnx::ModelProto& proto, Model& model, ConvertContext& context)
      : proto_(proto), model_(model), context_(context) {
    for (const auto& f : proto.functions()) {
      functions_[{canonical_domain(f.domain()), f.name()}] = &f;
      model.function_names.push_back(f.domain() + ":" + f.name());
    }
  }

  void inline_graph(Graph& graph, int depth) {
    if (functions_.empty()) return;
    if (depth > kMaxNestingDepth) fail(ErrorCode::kInvalidModel, "model-local functions call each other more than ", kMaxNestingDepth, " deep");
    std::vector<std::unique_ptr<Node>> expanded;
    bool changed = false;
    for (auto& node : graph.nodes) {
      for (auto& [key, attr] : node->attributes) {
        if (attr.g) inline_graph(*attr.g, depth + 1);
        for (auto& g : attr.graphs) if (g) inline_graph(*g, depth + 1);
      }
      auto it = functions_.find({node->domain, node->op_type});
      if (it == functions_.end()) {
        expanded.push_back(std::move(node));
        continue;
      }
      changed = true;
      for (auto& body_node : expand(*node, *it->second, graph)) expanded.push_back(std::move(body_node));
    }
    graph.nodes = std::move(expanded);
    if (changed) inline_graph(graph, depth + 1);  // bodies may call other functions
  }

 private:
  std::vector<std::unique_ptr<Node>> expand(const Node& call, const onnx::FunctionProto& f, Graph& graph) {
    const std::string prefix = "__" + f.name() + "_" + std::to_string(counter_++) + "__";
    std::map<std::string, std::string> rename;
    for (int i = 0; i < f.input_size(); ++i) rename[f.input(i)] = i < static_cast<int>(call.inputs.size()) ? call.inputs[i] : "";
    for (int i = 0; i < f.output_size(); ++i) rename[f.output(i)] = i < static_cast<int>(call.outputs.size()) ? call.outputs[i] : "";
    std::map<std::string, int64_t> opsets = model_.opset_imports;
    for (const auto& o : f.opset_import()) opsets[canonical_domain(o.domain())] = o.version();
    std::map<std::string, Attribute> defaults;
    for (const auto& a : f.attribute_proto()) defaults[a.name()] = convert_attribute(a, context_, &graph, call.label());

    inlined_nodes_ += f.node_size();
    if (inlined_nodes_ > kMaxInlinedNodes) {
      fail(ErrorCode::kInvalidModel, "inlining model-local function '", f.domain(), ":", f.name(), "' (called by ",
           call.label(), ") would create more than ", kMaxInlinedNodes,
           " nodes; the functions call each other too often or recursively");
    }
    std::vector<std::unique_ptr<Node>> body;
    for (const auto& n : f.node()) {
      auto node = convert_node(n, context_, &graph);
      for (std::string& name : node->inputs) name = renamed(name, prefix, rename);
      for (std::string& name : node->outputs) name = renamed(name, prefix, rename);
      resolve_attribute_refs(*node, call, defaults);
      for (auto& [key, attr] : node->attributes) {
        if (attr.g) rename_subgraph(*attr.g, prefix, rename);
        for (auto& g : attr.graphs) if (g) rename_subgraph(*g, prefix, rename);
      }
      auto op = opsets.find(node->domain);
      node->opset = op == opsets.end() ? 0 : op->second;
      if (node->name.empty()) node->name = prefix + node->op_type;
      else node->name = prefix + node->name;
      body.push_back(std::move(node));
    }
    return body;
  }

  static std::string renamed(const std::string& name, const std::string& prefix,
                             std::map<std::string, std::string>& rename) {
    if (name.empty()) return name;
    auto it = rename.find(name);
    if (it != rename.end()) return it->second;
    return rename[name] = prefix + name;
  }

  static void rename_subgraph(Graph& g, const std::string& prefix, std::map<std::string, std::string>& rename) {
    auto maybe = [&](std::string& name) {
      auto it = rename.find(name);
      if (it != rename.end()) name = it->second;
    };
    for (auto& node : g.nodes) {
      for (std::string& name : node->inputs) maybe(name);
      for (auto& [key, attr] : node->attributes) {
        if (attr.g) rename_subgraph(*attr.g, prefix, rename);
        for (auto& sub : attr.graphs) if (sub) rename_subgraph(*sub, prefix, rename);
      }
    }
    for (ValueInfo& out : g.outputs) if (!g.defines(out.name)) maybe(out.name);
  }

  static void resolve_attribute_refs(Node& node, const Node& call, const std::map<std::string, Attribute>& defaults) {
    for (auto it = node.attributes.begin(); it != node.attributes.end();) {
      Attribute& attr = it->second;
      if (attr.ref_attr_name.empty()) { ++it; continue; }
      const Attribute* source = call.find_attribute(attr.ref_attr_name);
      if (source == nullptr) {
        auto d = defaults.find(attr.ref_attr_name);
        if (d != defaults.end()) source = &d->second;
      }
      if (source == nullptr) { it = node.attributes.erase(it); continue; }
      const std::string name = attr.name;
      attr = *source;
      attr.name = name;
      attr.ref_attr_name.clear();
      ++it;
    }
  }

  const onnx::ModelProto& proto_;
  Model& model_;
  ConvertContext& context_;
  std::map<std::pair<std::string, std::string>, const onnx::FunctionProto*> functions_;
  int counter_ = 0;
  int64_t inlined_nodes_ = 0;
};

void check_opsets(const onnx::ModelProto& proto, Model& model) {
  for (const auto& opset : proto.opset_import()) {
    const std::string domain = canonical_domain(opset.domain());
    if (opset.version() < 1) {
      fail(ErrorCode::kInvalidModel, "opset import of domain '", opset.domain(), "' has invalid version ", opset.version());
    }
    const int64_t newest = max_known_opset(domain);
    if (newest > 0 && opset.version() > newest) {
      fail(ErrorCode::kUnsupported, "the model imports opset ", opset.version(), " of domain '",
           domain.empty() ? "ai.onnx" : domain, "', newer than the newest Tessera knows (", newest, ")");
    }
    model.opset_imports[domain] = opset.version();
  }
  if (proto.opset_import_size() == 0) {
    // The IR spec requires opset_import from IR 3 on; only older models may omit it (they mean ai.onnx 1).
    if (proto.ir_version() >= 3) {
      fail(ErrorCode::kInvalidModel, "the model (IR version ", proto.ir_version(),
           ") has no opset_import; IR version 3 and later must import the opsets its nodes use");
    }
    model.opset_imports[""] = 1;
  }
}

// Sets every node's opset from the imports of the graph that holds it (recursing into subgraphs).
void assign_opsets(Graph& graph, const std::map<std::string, int64_t>& imports) {
  for (auto& node : graph.nodes) {
    if (node->opset == 0) {
      auto it = imports.find(node->domain);
      node->opset = it == imports.end() ? 0 : it->second;
    }
    for (auto& [key, attr] : node->attributes) {
      if (attr.g) assign_opsets(*attr.g, imports);
      for (auto& g : attr.graphs) if (g) assign_opsets(*g, imports);
    }
  }
}

void sort_all(Graph& graph) {
  graph.sort_topologically();
  for (auto& node : graph.nodes) {
    for (auto& [key, attr] : node->attributes) {
      if (attr.g) sort_all(*attr.g);
      for (auto& g : attr.graphs) if (g) sort_all(*g);
    }
  }
}

// Converts `proto`, taking over the initializers' raw data (the message is left without it).
Model convert_model(onnx::ModelProto& proto, const std::string& model_dir) {
  Model model;
  model.ir_version = proto.ir_version();
  if (model.ir_version < 1) fail(ErrorCode::kInvalidModel, "the model has no valid ir_version (", model.ir_version, ")");
  if (model.ir_version > kMaxIrVersion) {
    fail(ErrorCode::kUnsupported, "the model has IR version ", model.ir_version, ", newer than the newest Tessera reads (",
         kMaxIrVersion, ")");
  }
  if (!proto.has_graph()) fail(ErrorCode::kInvalidModel, "the model has no graph");
  model.producer_name = proto.producer_name();
  model.producer_version = proto.producer_version();
  model.domain = proto.domain();
  model.model_version = proto.model_version();
  model.doc_string = proto.doc_string();
  for (const auto& entry : proto.metadata_props()) model.metadata[entry.key()] = entry.value();
  check_opsets(proto, model);

  ExternalDataResolver resolver(model_dir);
  ConvertContext context{&resolver};
  model.graph = convert_graph(proto.graph(), context, nullptr, proto.mutable_graph());
  FunctionInliner(proto, model, context).inline_graph(*model.graph, 0);
  assign_opsets(*model.graph, model.opset_imports);
  sort_all(*model.graph);
  return model;
}

// Parses a whole ModelProto from `stream`; false when the bytes are not one valid message.
bool parse_model_stream(google::protobuf::io::ZeroCopyInputStream& stream, onnx::ModelProto& proto) {
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetRecursionLimit(kMaxNestingDepth * 3);
  return proto.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

[[noreturn]] void fail_not_protobuf() {
  fail(ErrorCode::kInvalidModel, "the model is not a valid ONNX protobuf (truncated, corrupt, or nested too deeply)");
}

// Closes a file descriptor when it goes out of scope.
struct FileCloser {
  int fd;
  ~FileCloser() { ::close(fd); }
};

// The [begin, end) offsets of the main graph's initializer messages of kWholeInitializerBytes or more in a
// serialized ModelProto, in file order, found by reading field headers only (payloads are skipped, not read).
// Advisory: it stops at the first malformed header and leaves reporting it to the parser.
std::vector<std::pair<int64_t, int64_t>> find_large_initializers(const char* data, int64_t size) {
  using google::protobuf::internal::WireFormatLite;
  constexpr uint32_t kGraphTag = (7 << 3) | WireFormatLite::WIRETYPE_LENGTH_DELIMITED;        // ModelProto.graph
  constexpr uint32_t kInitializerTag = (5 << 3) | WireFormatLite::WIRETYPE_LENGTH_DELIMITED;  // GraphProto.initializer
  std::vector<std::pair<int64_t, int64_t>> ranges;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data), static_cast<int>(size));
  while (const uint32_t tag = in.ReadTag()) {
    if (tag != kGraphTag) {
      if (!WireFormatLite::SkipField(&in, tag)) break;
      continue;
    }
    uint32_t graph_bytes = 0;
    if (!in.ReadVarint32(&graph_bytes)) break;
    const auto limit = in.PushLimit(static_cast<int>(graph_bytes));
    while (const uint32_t graph_tag = in.ReadTag()) {
      if (graph_tag != kInitializerTag) {
        if (!WireFormatLite::SkipField(&in, graph_tag)) break;
        continue;
      }
      uint32_t bytes = 0;
      if (!in.ReadVarint32(&bytes)) break;
      const int64_t begin = in.CurrentPosition();
      if (bytes >= kWholeInitializerBytes) ranges.emplace_back(begin, begin + bytes);
      if (!in.Skip(static_cast<int>(bytes))) break;
    }
    in.PopLimit(limit);
  }
  return ranges;
}

// A read-only mapping of a whole model file, handed to the parser window by window. Reading through read()
// copied every byte twice (kernel to buffer, buffer to message); from the mapping it is copied once. Once the
// parser asks for the next window it no longer points into earlier ones (the ZeroCopyInputStream contract), so
// their pages are dropped from the process (they stay in the page cache; touching them again would just map
// them back).
class MappedModelStream final : public google::protobuf::io::ZeroCopyInputStream {
 public:
  MappedModelStream(int fd, int64_t size, const std::string& path) : size_(size) {
    void* mapping = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) fail(ErrorCode::kIo, "cannot map model file '", path, "': ", std::strerror(errno));
    data_ = static_cast<const char*>(mapping);
    ::madvise(mapping, static_cast<size_t>(size), MADV_SEQUENTIAL);
    large_initializers_ = find_large_initializers(data_, size_);
  }
  ~MappedModelStream() override { ::munmap(const_cast<char*>(data_), static_cast<size_t>(size_)); }
  MappedModelStream(const MappedModelStream&) = delete;
  MappedModelStream& operator=(const MappedModelStream&) = delete;

  bool Next(const void** data, int* size) override {
    drop_pages_before(position_);
    if (position_ >= size_) return false;
    int64_t length = std::min(kParseWindowBytes, size_ - position_);
    while (next_large_ < large_initializers_.size() && large_initializers_[next_large_].second <= position_) {
      ++next_large_;
    }
    while (next_large_ < large_initializers_.size() && large_initializers_[next_large_].first < position_ + length) {
      length = std::max(length, std::min(large_initializers_[next_large_].second, size_) - position_);
      ++next_large_;
    }
    *data = data_ + position_;
    *size = static_cast<int>(length);
    position_ += length;
    return true;
  }
  void BackUp(int count) override { position_ -= count; }
  bool Skip(int count) override {
    const int64_t target = position_ + count;
    position_ = std::min(target, size_);
    return target <= size_;
  }
  int64_t ByteCount() const override { return position_; }

 private:
  void drop_pages_before(int64_t offset) {
    const int64_t page = ::sysconf(_SC_PAGESIZE);
    const int64_t end = offset / page * page;
    if (end <= dropped_) return;
    ::madvise(const_cast<char*>(data_) + dropped_, static_cast<size_t>(end - dropped_), MADV_DONTNEED);
    dropped_ = end;
  }

  const char* data_ = nullptr;
  int64_t size_ = 0;
  int64_t position_ = 0;
  int64_t dropped_ = 0;
  std::vector<std::pair<int64_t, int64_t>> large_initializers_;
  size_t next_large_ = 0;  // the first of large_initializers_ that may still lie ahead
};

}  // namespace

Model load_model_from_bytes(const std::string& bytes, const std::string& model_dir) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    fail(ErrorCode::kInvalidModel, "the model file is ", bytes.size(),
         " bytes; protobuf models must be under 2 GiB (store large weights as external data)");
  }
  if (bytes.empty()) fail(ErrorCode::kInvalidModel, "the model file is empty");
  google::protobuf::io::ArrayInputStream array(bytes.data(), static_cast<int>(bytes.size()));
  onnx::ModelProto proto;
  if (!parse_model_stream(array, proto)) fail_not_protobuf();
  return convert_model(proto, model_dir);
}

Model load_model(const std::string& path) {
  // Checked before reading: a folder, a device such as /dev/zero or a FIFO would otherwise be read without end.
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!error && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    fail(ErrorCode::kIo, "model file '", path, "' is not a regular file");
  }
  if (!error && std::filesystem::is_regular_file(status)) {
    const uintmax_t size = std::filesystem::file_size(path, error);
    if (!error && size > static_cast<uintmax_t>(INT32_MAX)) {
      fail(ErrorCode::kInvalidModel, "the model file is ", size,
           " bytes; protobuf models must be under 2 GiB (store large weights as external data)");
    }
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::kIo, "cannot open model file '", path, "'");
  const FileCloser closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) fail(ErrorCode::kIo, "cannot read model file '", path, "'");
  if (info.st_size == 0) fail(ErrorCode::kInvalidModel, "the model file is empty");
  if (info.st_size > INT32_MAX) {  // grown since the check above
    fail(ErrorCode::kInvalidModel, "the model file is ", info.st_size,
         " bytes; protobuf models must be under 2 GiB (store large weights as external data)");
  }
  // Parsed straight from the mapped file: holding the file's bytes and the message parsed from them at once
  // doubled the peak memory of loading (and copying the bytes around cost more time than parsing them).
  onnx::ModelProto proto;
  {
    MappedModelStream stream(fd, info.st_size, path);
    if (!parse_model_stream(stream, proto)) fail_not_protobuf();
  }
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  return convert_model(proto, dir);
}

}  // namespace tessera

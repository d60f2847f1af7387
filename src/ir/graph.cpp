#include "ir/graph.h"

#include <deque>
#include <unordered_set>

#include "base/error.h"
#include "ir/opset.h"

namespace tessera {

std::string canonical_domain(const std::string& domain) { return domain == "ai.onnx" ? std::string() : domain; }

int64_t max_known_opset(const std::string& domain) {
  const std::string d = canonical_domain(domain);
  if (d.empty()) return kMaxOnnxOpset;
  if (d == kOnnxMlDomain) return kMaxOnnxMlOpset;
  if (d == kMicrosoftDomain) return kMaxMicrosoftOpset;
  if (d == kTrainingDomain) return 1;
  if (d == "ai.onnx.preview") return 1;  // FlexAttention
  return 0;
}


const char* attribute_type_name(Attribute::Type type) {
  switch (type) {
    case Attribute::Type::kUndefined: return "UNDEFINED";
    case Attribute::Type::kFloat: return "FLOAT";
    case Attribute::Type::kInt: return "INT";
    case Attribute::Type::kString: return "STRING";
    case Attribute::Type::kTensor: return "TENSOR";
    case Attribute::Type::kGraph: return "GRAPH";
    case Attribute::Type::kFloats: return "FLOATS";
    case Attribute::Type::kInts: return "INTS";
    case Attribute::Type::kStrings: return "STRINGS";
    case Attribute::Type::kTensors: return "TENSORS";
    case Attribute::Type::kGraphs: return "GRAPHS";
    case Attribute::Type::kSparseTensor: return "SPARSE_TENSOR";
    case Attribute::Type::kSparseTensors: return "SPARSE_TENSORS";
    case Attribute::Type::kTypeProto: return "TYPE_PROTO";
    case Attribute::Type::kTypeProtos: return "TYPE_PROTOS";
  }
  return "?";
}

std::string Node::label() const {
  std::string op = domain.empty() ? op_type : domain + "." + op_type;
  return "node '" + name + "' (" + op + ")";
}

const Attribute* Node::find_attribute(const std::string& key) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? nullptr : &it->second;
}

namespace {
const Attribute* typed(const Node& node, const std::string& key, Attribute::Type type) {
  const Attribute* a = node.find_attribute(key);
  if (a == nullptr) return nullptr;
  if (a->type != type) {
    fail(ErrorCode::kInvalidModel, node.label(), ": attribute '", key, "' is ", attribute_type_name(a->type),
         ", expected ", attribute_type_name(type));
  }
  return a;
}
}  // namespace

int64_t Node::attr_int(const std::string& key, int64_t default_value) const {
  const Attribute* a = typed(*this, key, Attribute::Type::kInt);
  return a ? a->i : default_value;
}

float Node::attr_float(const std::string& key, float default_value) const {
  const Attribute* a = find_attribute(key);
  if (a && a->type == Attribute::Type::kInt) return static_cast<float>(a->i);  // lenient, as ONNX Runtime
  a = typed(*this, key, Attribute::Type::kFloat);
  return a ? a->f : default_value;
}

std::string Node::attr_string(const std::string& key, const std::string& default_value) const {
  const Attribute* a = typed(*this, key, Attribute::Type::kString);
  return a ? a->s : default_value;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, const std::vector<int64_t>& default_value) const {
  const Attribute* a = typed(*this, key, Attribute::Type::kInts);
  return a ? a->ints : default_value;
}

std::vector<float> Node::attr_floats(const std::string& key, const std::vector<float>& default_value) const {
  const Attribute* a = typed(*this, key, Attribute::Type::kFloats);
  return a ? a->floats : default_value;
}

std::vector<std::string> Node::attr_strings(const std::string& key) const {
  const Attribute* a = typed(*this, key, Attribute::Type::kStrings);
  return a ? a->strings : std::vector<std::string>{};
}

const Tensor* Node::attr_tensor(const std::string& key) const {
  const Attribute* a = typed(*this, key, Attribute::Type::kTensor);
  return a ? &a->t : nullptr;
}

std::shared_ptr<Graph> Node::attr_graph(const std::string& key) const {
  const Attribute* a = typed(*this, key, Attribute::Type::kGraph);
  return a ? a->g : nullptr;
}

void Node::set_attr_int(const std::string& key, int64_t value) {
  Attribute a;
  a.name = key;
  a.type = Attribute::Type::kInt;
  a.i = value;
  attributes[key] = std::move(a);
}

void Node::set_attr_float(const std::string& key, float value) {
  Attribute a;
  a.name = key;
  a.type = Attribute::Type::kFloat;
  a.f = value;
  attributes[key] = std::move(a);
}

void Node::set_attr_string(const std::string& key, const std::string& value) {
  Attribute a;
  a.name = key;
  a.type = Attribute::Type::kString;
  a.s = value;
  attributes[key] = std::move(a);
}

const Attribute& Node::required_attribute(const std::string& key) const {
  const Attribute* a = find_attribute(key);
  if (a == nullptr) fail(ErrorCode::kInvalidModel, label(), ": required attribute '", key, "' is missing");
  return *a;
}

Node& Graph::add_node(std::string op_type, std::vector<std::string> node_inputs,
                      std::vector<std::string> node_outputs, std::string node_name, std::string domain) {
  auto node = std::make_unique<Node>();
  node->op_type = std::move(op_type);
  node->inputs = std::move(node_inputs);
  node->outputs = std::move(node_outputs);
  node->name = std::move(node_name);
  node->domain = canonical_domain(domain);
  nodes.push_back(std::move(node));
  return *nodes.back();
}

bool Graph::defines(const std::string& value) const {
  if (initializers.count(value)) return true;
  for (const ValueInfo& in : inputs) if (in.name == value) return true;
  for (const auto& node : nodes) for (const std::string& out : node->outputs) if (out == value) return true;
  return false;
}

bool Graph::defines_in_scope(const std::string& value) const {
  for (const Graph* g = this; g != nullptr; g = g->parent) if (g->defines(value)) return true;
  return false;
}

const TypeInfo* Graph::find_type(const std::string& value) const {
  for (const ValueInfo& in : inputs) if (in.name == value && in.type.kind != TypeInfo::Kind::kUnknown) return &in.type;
  auto it = value_types.find(value);
  if (it != value_types.end()) return &it->second;
  for (const ValueInfo& out : outputs) if (out.name == value && out.type.kind != TypeInfo::Kind::kUnknown) return &out.type;
  return nullptr;
}

namespace {
// Names a node reads, including the outer-scope names its subgraphs read.
void collect_reads(const Node& node, std::vector<std::string>& reads);

void collect_subgraph_reads(const Graph& g, std::vector<std::string>& reads) {
  std::unordered_set<std::string> local;
  for (const ValueInfo& in : g.inputs) local.insert(in.name);
  for (const auto& [name, tensor] : g.initializers) local.insert(name);
  for (const auto& n : g.nodes) for (const std::string& o : n->outputs) local.insert(o);
  for (const auto& n : g.nodes) {
    std::vector<std::string> inner;
    collect_reads(*n, inner);
    for (std::string& r : inner) if (!r.empty() && !local.count(r)) reads.push_back(std::move(r));
  }
  for (const ValueInfo& out : g.outputs) if (!local.count(out.name)) reads.push_back(out.name);
}

void collect_reads(const Node& node, std::vector<std::string>& reads) {
  for (const std::string& in : node.inputs) reads.push_back(in);
  for (const auto& [key, attr] : node.attributes) {
    if (attr.g) collect_subgraph_reads(*attr.g, reads);
    for (const auto& sub : attr.graphs) if (sub) collect_subgraph_reads(*sub, reads);
  }
}
}  // namespace

void Graph::sort_topologically() {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& out : nodes[i]->outputs) {
      if (out.empty()) continue;
      if (!producer.emplace(out, i).second) {
        fail(ErrorCode::kInvalidModel, nodes[i]->label(), ": output '", out, "' is already produced by ",
             nodes[producer[out]]->label());
      }
    }
  }
  std::unordered_set<std::string> available;
  for (const ValueInfo& in : inputs) available.insert(in.name);
  for (const auto& [name, tensor] : initializers) available.insert(name);
  for (const auto& [name, index] : producer) {
    if (available.count(name)) fail(ErrorCode::kInvalidModel, nodes[index]->label(), ": output '", name,
                                    "' is also a graph input or initializer");
  }

  std::vector<std::vector<size_t>> dependents(nodes.size());
  std::vector<size_t> missing(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::vector<std::string> reads;
    collect_reads(*nodes[i], reads);
    std::unordered_set<size_t> waits_on;
    for (const std::string& r : reads) {
      if (r.empty() || available.count(r)) continue;
      auto it = producer.find(r);
      if (it == producer.end()) {
        if (parent != nullptr && parent->defines_in_scope(r)) continue;
        fail(ErrorCode::kInvalidModel, nodes[i]->label(), ": input '", r,
             "' is not a graph input, an initializer, or the output of any node");
      }
      if (waits_on.insert(it->second).second) dependents[it->second].push_back(i);
    }
    missing[i] = waits_on.size();
  }
  std::deque<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i) if (missing[i] == 0) ready.push_back(i);
  std::vector<std::unique_ptr<Node>> ordered;
  ordered.reserve(nodes.size());
  std::vector<bool> placed(nodes.size(), false);
  while (!ready.empty()) {
    size_t i = ready.front();
    ready.pop_front();
    placed[i] = true;
    for (size_t d : dependents[i]) if (--missing[d] == 0) ready.push_back(d);
    ordered.push_back(std::move(nodes[i]));
  }
  if (ordered.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!placed[i]) fail(ErrorCode::kInvalidModel, nodes[i]->label(), ": the graph has a cycle through this node");
    }
  }
  nodes = std::move(ordered);
  for (const ValueInfo& out : outputs) {
    if (!available.count(out.name) && !producer.count(out.name) && !(parent && parent->defines_in_scope(out.name))) {
      fail(ErrorCode::kInvalidModel, "graph output '", out.name, "' is produced by no node");
    }
  }
}

std::string TypeInfo::to_string() const {
  switch (kind) {
    case Kind::kUnknown: return "?";
    case Kind::kTensor:
    case Kind::kSparseTensor: {
      std::string out = (kind == Kind::kSparseTensor ? "sparse(" : "") + dtype_name(elem_type);
      if (!shape) out += "[...]";
      else {
        out += "[";
        for (size_t i = 0; i < shape->size(); ++i) out += (i ? "," : "") + (*shape)[i].to_string();
        out += "]";
      }
      return kind == Kind::kSparseTensor ? out + ")" : out;
    }
    case Kind::kSequence: return "seq(" + (element ? element->to_string() : "?") + ")";
    case Kind::kOptional: return "optional(" + (element ? element->to_string() : "?") + ")";
    case Kind::kMap: return "map(" + dtype_name(elem_type) + "," + (element ? element->to_string() : "?") + ")";
  }
  return "?";
}

}  // namespace tessera

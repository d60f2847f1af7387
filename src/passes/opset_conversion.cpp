#include "passes/opset_conversion.h"

#include <algorithm>
#include <optional>
#include <set>

#include "base/error.h"
#include "base/lazy_text.h"
#include "ir/op_versions.h"
#include "ir/opset_semantics.h"
#include "ops/registry.h"

namespace tessera {
namespace {

constexpr int64_t kNewestOpset = 28;  // the newest in ONNX 1.23's changelog

// How an attribute that became an input is written as a constant.
enum class ValueKind {
  kInts,        // INTS attribute <-> 1-D int64 tensor
  kInt,         // INT attribute <-> int64 scalar (DFT's axis)
  kIntAsList,   // INT attribute <-> 1-D int64 tensor of one element (TopK's k)
  kDataScalar,  // FLOAT attribute <-> scalar of input 0's element type (Clip's min/max, Pad's value)
  kFloat,       // FLOAT attribute <-> float scalar (Dropout's ratio)
};

struct MovedAttribute {
  const char* attribute;
  size_t input;
  ValueKind kind;
  std::optional<int64_t> old_default;  // written out when absent: the input's default differs (DFT's axis)
};

// Operators whose attributes became inputs at `version`.
struct AttributesToInputs {
  const char* op;
  int64_t version;
  std::vector<MovedAttribute> moved;
};

const std::vector<AttributesToInputs>& moved_attributes() {
  static const std::vector<AttributesToInputs> table = {
      {"Reshape", 5, {{"shape", 1, ValueKind::kInts}}},
      {"Slice", 10, {{"starts", 1, ValueKind::kInts}, {"ends", 2, ValueKind::kInts}, {"axes", 3, ValueKind::kInts}}},
      {"TopK", 10, {{"k", 1, ValueKind::kIntAsList}}},
      {"Clip", 11, {{"min", 1, ValueKind::kDataScalar}, {"max", 2, ValueKind::kDataScalar}}},
      {"Pad", 11, {{"pads", 1, ValueKind::kInts}, {"value", 2, ValueKind::kDataScalar}}},
      {"Dropout", 12, {{"ratio", 1, ValueKind::kFloat}}},
      {"Squeeze", 13, {{"axes", 1, ValueKind::kInts}}},
      {"Unsqueeze", 13, {{"axes", 1, ValueKind::kInts}}},
      {"Split", 13, {{"split", 1, ValueKind::kInts}}},
      {"ReduceSum", 13, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceMean", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceMax", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceMin", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceProd", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceL1", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceL2", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceLogSum", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceLogSumExp", 18, {{"axes", 1, ValueKind::kInts}}},
      {"ReduceSumSquare", 18, {{"axes", 1, ValueKind::kInts}}},
      {"DFT", 20, {{"axis", 2, ValueKind::kInt, 1}}},
  };
  return table;
}

// Changes in the opset table that leave a model written for the older version computing the same when upgraded
// (an attribute or mode added with the old behaviour as its default, types added, an op added).
const std::set<std::pair<std::string, int64_t>>& additive_changes() {
  static const std::set<std::pair<std::string, int64_t>> changes = {
      {"Reshape", 14},
      {"Split", 18},
      {"TopK", 11},
      {"Pad", 18},
      {"Pad", 19},
      {"Resize", 13},
      {"Resize", 18},
      {"Resize", 19},
      {"ReduceMax", 20},
      {"ArgMax", 12},
      {"ArgMin", 12},
      {"BatchNormalization", 14},
      {"MaxPool", 10},
      {"MaxPool", 11},
      {"AveragePool", 10},
      {"AveragePool", 19},
      {"Gemm", 11},
      {"Flatten", 11},
      {"ScatterElements", 16},
      {"ScatterND", 16},
      {"GatherND", 12},
      {"Cast", 19},
      {"DequantizeLinear", 13},
      {"DequantizeLinear", 21},
      {"QuantizeLinear", 13},
      {"QuantizeLinear", 21},
      {"If", 13},
      {"Loop", 13},
      {"Loop", 16},
      {"Range", 27},
      {"Shape", 15},
      {"Mod", 10},
      {"LayerNormalization", 17},
      {"Trilu", 14},
      {"Gelu", 20},
      {"Attention", 23},
  };
  return changes;
}

const std::set<std::string>& legacy_broadcast_ops() {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul",   "Div",     "Pow",  "And",
                                            "Or",  "Xor", "Equal", "Greater", "Less", "PRelu"};
  return ops;
}

class Converter {
 public:
  Converter(Model& model, int64_t from, int64_t to) : model_(model), from_(from), to_(to) {}

  OpsetConversionReport run() {
    OpsetConversionReport report;
    report.from = from_;
    report.to = to_;
    convert_graph(*model_.graph);
    report.rewritten = std::move(rewritten_);
    model_.opset_imports[kOnnxDomain] = to_;
    return report;
  }

 private:
  void convert_graph(Graph& graph) {
    // Nodes added by a rewrite go to the end of graph.nodes; they are already at the target's form.
    const size_t count = graph.nodes.size();
    for (size_t i = 0; i < count; ++i) {
      Node& node = *graph.nodes[i];
      for (auto& [name, attribute] : node.attributes) {
        if (attribute.g) convert_graph(*attribute.g);
        for (const auto& g : attribute.graphs) convert_graph(*g);
      }
      if (node.domain != kOnnxDomain) continue;
      if (to_ > from_) {
        upgrade(graph, node);
      } else {
        downgrade(graph, node);
      }
      node.opset = to_;
      if (OpRegistry::instance().find(kOnnxDomain, node.op_type, to_) == nullptr) {
        fail(ErrorCode::kUnsupported, node.label(), ": ", node.op_type, " does not exist at opset ", to_,
             " (or Tessera does not run it there)");
      }
    }
    graph.sort_topologically();
  }

  void note(const Node& node, const std::string& what) { rewritten_.push_back(node.label() + ": " + what); }

  std::string fresh_name(const Graph& graph, const std::string& base) {
    std::string name = base;
    for (int k = 1; graph.defines(name) || used_names_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_names_.insert(name);
    return name;
  }

  // The element type of the node's input 0, float when unknown.
  static DType data_type(const Graph& graph, const Node& node) {
    const TypeInfo* t = node.inputs.empty() ? nullptr : graph.find_type(node.inputs[0]);
    return t != nullptr && t->is_tensor() && t->elem_type != DType::kUndefined ? t->elem_type : DType::kFloat;
  }

  static int64_t known_rank(const Graph& graph, const std::string& value) {
    const TypeInfo* t = graph.find_type(value);
    return t != nullptr && t->is_tensor() && t->shape ? static_cast<int64_t>(t->shape->size()) : -1;
  }

  void set_input(Node& node, size_t index, const std::string& name) {
    if (node.inputs.size() <= index) node.inputs.resize(index + 1);
    node.inputs[index] = name;
  }

  // ---- upgrade ---------------------------------------------------------------------------------------------------

  void upgrade(Graph& graph, Node& node) {
    for (int64_t v = from_ + 1; v <= to_; ++v) upgrade_step(graph, node, v);
  }

  void upgrade_step(Graph& graph, Node& node, int64_t v) {
    if (v == 2 && node.op_type == "Pad" && node.has_attribute("paddings")) {
      Attribute a = node.attributes.at("paddings");
      a.name = "pads";
      node.attributes.erase("paddings");
      node.attributes["pads"] = a;
      note(node, "paddings attribute -> pads (opset 2)");
    }
    if (v == 4 && node.op_type == "Concat" && !node.has_attribute("axis")) {
      node.set_attr_int("axis", 1);
      note(node, "default axis 1 written out (opset 4)");
    }
    if (v == 6 && node.attributes.erase("consumed_inputs") > 0) note(node, "consumed_inputs removed (opset 6)");
    if (v == 7) upgrade_to_7(graph, node);
    if (v == 9 && node.op_type == "BatchNormalization" && node.has_attribute("spatial")) {
      if (node.attr_int("spatial", 1) != 1) {
        fail(ErrorCode::kUnsupported, node.label(), ": spatial = 0 (per-element statistics) has no opset 9 form");
      }
      node.attributes.erase("spatial");
      note(node, "spatial = 1 removed (opset 9)");
    }
    if (v == 10 && node.op_type == "Upsample") {
      node.op_type = "Resize";
      if (node.has_attribute("scales")) {
        const std::vector<float> scales = node.attr_floats("scales");
        const std::string name = fresh_name(graph, node.name + "_scales");
        graph.initializers[name] = Tensor::from_vector(DType::kFloat, scales);
        set_input(node, 1, name);
        node.attributes.erase("scales");
      }
      note(node, "Upsample -> Resize (opset 10)");
    }
    if (v == 11 && node.op_type == "Resize" && from_ < 11 && !node.has_attribute("coordinate_transformation_mode")) {
      // Resize-10 computed with asymmetric coordinates and floor rounding for nearest.
      const std::string roi = fresh_name(graph, node.name + "_roi");
      graph.initializers[roi] = Tensor(DType::kFloat, {0});
      node.inputs.insert(node.inputs.begin() + 1, roi);
      node.set_attr_string("coordinate_transformation_mode", "asymmetric");
      if (node.attr_string("mode", "nearest") == "nearest") node.set_attr_string("nearest_mode", "floor");
      note(node, "Resize-10 -> 11: roi input, asymmetric coordinates (floor for nearest)");
    }
    if (v == 20 && node.op_type == "GridSample")
      rename_grid_sample_mode(node, {{"bilinear", "linear"}, {"bicubic", "cubic"}}, 20);
    if (v == 16 && node.op_type == "RoiAlign" && !node.has_attribute("coordinate_transformation_mode")) {
      // The behaviour before 16; the default became half_pixel.
      node.set_attr_string("coordinate_transformation_mode", "output_half_pixel");
      note(node, "coordinate_transformation_mode output_half_pixel written out (opset 16 changed the default)");
    }
    if (v == 11 && node.op_type == "Scatter") {
      node.op_type = "ScatterElements";
      note(node, "Scatter -> ScatterElements (opset 11)");
    }
    if (v == 13 && (node.op_type == "Softmax" || node.op_type == "LogSoftmax" || node.op_type == "Hardmax")) {
      upgrade_softmax(graph, node);
    }
    for (const AttributesToInputs& entry : moved_attributes()) {
      if (entry.op == node.op_type && entry.version == v) attributes_to_inputs(graph, node, entry);
    }
    // Any other change of meaning at v that is not an addition is not carried over.
    for (const OpsetSemanticsChange& change : opset_semantics_changes(node.op_type, v - 1, v)) {
      if (handled(node.op_type, v) || additive_changes().count({node.op_type, v})) continue;
      fail(ErrorCode::kUnsupported, node.label(), ": cannot convert across opset ", v, ": ", change.change);
    }
  }

  void rename_grid_sample_mode(Node& node, const std::vector<std::pair<std::string, std::string>>& names, int64_t v) {
    Attribute* mode = node.attributes.count("mode") ? &node.attributes.at("mode") : nullptr;
    if (mode == nullptr) {
      // The default was bilinear before 20 and linear after: the same mode, nothing to write.
      return;
    }
    for (const auto& [from, to] : names) {
      if (mode->s == from) {
        mode->s = to;
        note(node, "mode " + from + " -> " + to + " (opset " + std::to_string(v) + ")");
        return;
      }
    }
  }

  static bool handled(const std::string& op, int64_t v) {
    for (const AttributesToInputs& entry : moved_attributes()) {
      if (entry.op == op && entry.version == v) return true;
    }
    if (v == 13 && (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax")) return true;
    return (v == 11 && (op == "Resize" || op == "Scatter")) || (v == 10 && op == "Upsample") ||
           (v == 20 && op == "GridSample") || (v == 16 && op == "RoiAlign") || (v == 9 && op == "BatchNormalization") ||
           (v == 4 && op == "Concat");
  }

  void upgrade_to_7(Graph& graph, Node& node) {
    if (node.attributes.erase("is_test") > 0) note(node, "is_test removed (opset 7)");
    if (!legacy_broadcast_ops().count(node.op_type)) return;
    const bool broadcast = node.attr_int("broadcast", 0) != 0;
    if (broadcast && node.has_attribute("axis")) {
      // Legacy broadcasting aligned B at `axis`; NumPy's aligns it with the trailing dims.
      const int64_t a = known_rank(graph, node.inputs[0]), b = known_rank(graph, node.inputs[1]);
      if (a < 0 || b < 0 || node.attr_int("axis", 0) != a - b) {
        fail(ErrorCode::kUnsupported, node.label(), ": legacy broadcast at axis ", node.attr_int("axis", 0),
             " does not line up with the trailing dims (ranks ", a, ", ", b, ")");
      }
    }
    if (node.attributes.erase("broadcast") + node.attributes.erase("axis") > 0) {
      note(node, "legacy broadcast attributes removed (opset 7, NumPy broadcasting)");
    }
  }

  void attributes_to_inputs(Graph& graph, Node& node, const AttributesToInputs& entry) {
    for (const MovedAttribute& m : entry.moved) {
      Attribute defaulted;
      const Attribute* a = node.find_attribute(m.attribute);
      if (a == nullptr && m.old_default) {
        defaulted.type = Attribute::Type::kInt;
        defaulted.i = *m.old_default;
        a = &defaulted;
      }
      if (a == nullptr) continue;
      Tensor value;
      switch (m.kind) {
        case ValueKind::kInts:
          value = Tensor::from_vector(DType::kInt64, a->ints);
          break;
        case ValueKind::kInt:
          value = Tensor::scalar(DType::kInt64, a->i);
          break;
        case ValueKind::kIntAsList:
          value = Tensor::from_vector(DType::kInt64, std::vector<int64_t>{a->i});
          break;
        case ValueKind::kFloat:
          value = Tensor::scalar(DType::kFloat, a->f);
          break;
        case ValueKind::kDataScalar: {
          const DType dtype = data_type(graph, node);
          check_argument(dtype == DType::kFloat || dtype == DType::kDouble, node.label(), ": ", m.attribute, " of a ",
                         dtype_name(dtype), " input cannot be written as an input");
          value = dtype == DType::kFloat ? Tensor::scalar(DType::kFloat, a->f)
                                         : Tensor::scalar(DType::kDouble, static_cast<double>(a->f));
          break;
        }
      }
      const std::string name = fresh_name(graph, node.name + "_" + m.attribute);
      graph.initializers[name] = value;
      set_input(node, m.input, name);
      node.attributes.erase(m.attribute);
      note(node, std::string(m.attribute) + " attribute -> input (opset " + std::to_string(entry.version) + ")");
    }
  }

  // Before 13 the op normalized over the input flattened to 2-D at `axis` (default 1); from 13 over `axis` only.
  void upgrade_softmax(Graph& graph, Node& node) {
    const int64_t axis = node.attr_int("axis", 1);
    const int64_t rank = known_rank(graph, node.inputs[0]);
    if (rank > 0 && (axis == rank - 1 || axis == -1)) {
      node.set_attr_int("axis", rank - 1);
      note(node, "axis written out (opset 13: the last axis either way)");
      return;
    }
    // Shape -> Flatten(axis) -> op(axis 1) -> Reshape back.
    const std::string x = node.inputs[0], y = node.outputs[0];
    const std::string shape = fresh_name(graph, node.name + "_shape");
    const std::string flat = fresh_name(graph, node.name + "_flat");
    const std::string flat_out = fresh_name(graph, node.name + "_flat_out");
    graph.add_node("Shape", {x}, {shape}, fresh_name(graph, node.name + "_Shape")).opset = to_;
    Node& flatten = graph.add_node("Flatten", {x}, {flat}, fresh_name(graph, node.name + "_Flatten"));
    flatten.set_attr_int("axis", axis);
    flatten.opset = to_;
    graph.add_node("Reshape", {flat_out, shape}, {y}, fresh_name(graph, node.name + "_Reshape")).opset = to_;
    node.inputs[0] = flat;
    node.outputs[0] = flat_out;
    node.set_attr_int("axis", 1);
    note(node, "opset 13 axis meaning: wrapped in Flatten(axis " + std::to_string(axis) + ") / Reshape");
  }

  // ---- downgrade -------------------------------------------------------------------------------------------------

  void downgrade(Graph& graph, Node& node) {
    for (int64_t v = from_; v > to_; --v) downgrade_step(graph, node, v);
  }

  void downgrade_step(Graph& graph, Node& node, int64_t v) {
    bool done = false;
    for (const AttributesToInputs& entry : moved_attributes()) {
      if (entry.op != node.op_type || entry.version != v) continue;
      inputs_to_attributes(graph, node, entry);
      done = true;
    }
    if (v == 13 && (node.op_type == "Softmax" || node.op_type == "LogSoftmax" || node.op_type == "Hardmax")) {
      const int64_t axis = node.attr_int("axis", -1);
      const int64_t rank = known_rank(graph, node.inputs[0]);
      if (rank <= 0 || !(axis == -1 || axis == rank - 1)) {
        fail(ErrorCode::kUnsupported, node.label(), ": only a reduction over the last axis (rank known) has an ",
             "opset 12 form; axis ", axis, ", rank ", rank);
      }
      node.set_attr_int("axis", rank - 1);
      note(node, "axis kept on the last dim (opset 12 coercion)");
      done = true;
    }
    if (v == 20 && node.op_type == "GridSample") {
      rename_grid_sample_mode(node, {{"linear", "bilinear"}, {"cubic", "bicubic"}}, 19);
      done = true;
    }
    if (done) return;
    for (const OpsetSemanticsChange& change : opset_semantics_changes(node.op_type, v - 1, v)) {
      fail(ErrorCode::kUnsupported, node.label(), ": cannot convert back across opset ", v, ": ", change.change);
    }
    // Any other version of the op in between changed it too (types, attributes, meaning): not undone.
    const std::vector<int64_t>& versions = onnx_op_versions(node.op_type);
    if (std::find(versions.begin(), versions.end(), v) != versions.end()) {
      fail(ErrorCode::kUnsupported, node.label(), ": ", node.op_type, "-", v,
           " changed the operator (the ONNX changelog); it is not converted back");
    }
  }

  void inputs_to_attributes(Graph& graph, Node& node, const AttributesToInputs& entry) {
    for (const MovedAttribute& m : entry.moved) {
      if (!node.has_input(m.input)) continue;
      const auto it = graph.initializers.find(node.inputs[m.input]);
      if (it == graph.initializers.end()) {
        fail(ErrorCode::kUnsupported, node.label(), ": input ", m.input, " ('", node.inputs[m.input],
             "') is not a constant, so it cannot become the opset ", entry.version - 1, " attribute ", m.attribute);
      }
      const Tensor& t = it->second;
      Attribute a;
      a.name = m.attribute;
      switch (m.kind) {
        case ValueKind::kInts:
        case ValueKind::kInt:
        case ValueKind::kIntAsList: {
          check_argument(t.dtype() == DType::kInt64, node.label(), ": ", m.attribute, " input ", tensor_text(t),
                         " must be int64");
          std::vector<int64_t> values(t.data<int64_t>(), t.data<int64_t>() + t.element_count());
          if (m.kind != ValueKind::kInts) {
            check_argument(values.size() == 1, node.label(), ": k ", tensor_text(t), " must hold one value");
            a.type = Attribute::Type::kInt;
            a.i = values[0];
          } else {
            a.type = Attribute::Type::kInts;
            a.ints = values;
          }
          break;
        }
        case ValueKind::kFloat:
        case ValueKind::kDataScalar:
          check_argument(t.element_count() == 1 && (t.dtype() == DType::kFloat || t.dtype() == DType::kDouble),
                         node.label(), ": ", m.attribute, " input ", tensor_text(t), " must be one float");
          a.type = Attribute::Type::kFloat;
          a.f = t.dtype() == DType::kFloat ? t.data<float>()[0] : static_cast<float>(t.data<double>()[0]);
          break;
      }
      node.attributes[a.name] = a;
      node.inputs[m.input].clear();
      note(node, std::string("input ") + std::to_string(m.input) + " -> " + m.attribute + " attribute (opset " +
                     std::to_string(entry.version - 1) + ")");
    }
    while (!node.inputs.empty() && node.inputs.back().empty()) node.inputs.pop_back();
  }

  Model& model_;
  int64_t from_, to_;
  std::vector<std::string> rewritten_;
  std::set<std::string> used_names_;
};

}  // namespace

OpsetConversionReport convert_opset(Model& model, int64_t target) {
  check_argument(target >= 1 && target <= kNewestOpset, "convert-opset: target opset ", target, " is outside [1, ",
                 kNewestOpset, "]");
  const auto it = model.opset_imports.find(kOnnxDomain);
  check_argument(it != model.opset_imports.end(), "convert-opset: the model imports no ai.onnx opset");
  check_argument(model.graph != nullptr, "convert-opset: the model has no graph");
  Converter converter(model, it->second, target);
  return converter.run();
}

}  // namespace tessera

#include "quantize/float16_converter.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "base/error.h"
#include "base/float_types.h"
#include "ir/node_subgraphs.h"
#include "passes/fusion_utils.h"
#include "quantize/graph_edit.h"

namespace tessera::quantize {
namespace {

constexpr float kMaxFinite = 65504.0f;
constexpr float kMinPositive = 5.96e-08f;  // the smallest float16 subnormal

// A float32 tensor as float16, clamped as onnxconverter-common clamps: |x| above 65504 -> +-65504, non-zero |x|
// below the smallest subnormal -> +-that subnormal. Counts the elements moved.
Tensor to_float16(const Tensor& t, size_t& clamped) {
  Tensor out(DType::kFloat16, t.shape());
  for (int64_t i = 0; i < t.element_count(); ++i) {
    float v = t.data<float>()[i];
    const float a = std::fabs(v);
    if (a > kMaxFinite && std::isfinite(v)) {
      v = std::copysign(kMaxFinite, v);
      ++clamped;
    } else if (a != 0 && a < kMinPositive) {
      v = std::copysign(kMinPositive, v);
      ++clamped;
    }
    out.data<Float16>()[i].bits = float_to_half(v);
  }
  return out;
}

bool is_float(const TypeInfo* t) { return t != nullptr && t->is_tensor() && t->elem_type == DType::kFloat; }

}  // namespace

std::vector<std::string> default_fp16_op_block_list() {
  return {"ArrayFeatureExtractor", "Binarizer", "CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer",
          "Imputer", "LabelEncoder", "LinearClassifier", "LinearRegressor", "Normalizer", "OneHotEncoder",
          "RandomUniformLike", "SVMClassifier", "SVMRegressor", "Scaler", "TreeEnsembleClassifier",
          "TreeEnsembleRegressor", "ZipMap", "NonMaxSuppression", "TopK", "RoiAlign", "Resize", "Range", "CumSum",
          "Min", "Max", "Upsample",
          // Tessera's additions: outputs typed by attributes, and scales that older opsets require in float32.
          "RandomUniform", "RandomNormal", "RandomNormalLike", "Multinomial", "Bernoulli", "EyeLike", "QuantizeLinear",
          "DequantizeLinear", "DynamicQuantizeLinear"};
}

Float16Report convert_to_float16(Model& model, const Float16Options& options) {
  Graph& graph = *model.graph;
  fusion::infer_types(graph);
  const int64_t opset = model.opset_imports.count("") ? model.opset_imports.at("") : 0;
  Float16Report report;
  NameSource names(graph);

  std::set<const Node*> blocked;
  for (const auto& node : graph.nodes) {
    if (listed(options.op_block_list, node->op_type) || listed(options.node_block_list, node_key(*node)) ||
        has_subgraphs(*node)) {
      blocked.insert(node.get());
      report.blocked_nodes.push_back(node_key(*node));
    }
  }
  std::set<std::string> graph_inputs, graph_outputs;
  for (const ValueInfo& v : graph.inputs) graph_inputs.insert(v.name);
  for (const ValueInfo& v : graph.outputs) graph_outputs.insert(v.name);

  // Which float values are stored as float16 after the conversion.
  std::set<std::string> half;
  for (const ValueInfo& v : graph.inputs) {
    if (is_float(&v.type) && !options.keep_io_types && graph.initializers.count(v.name) == 0) half.insert(v.name);
  }
  std::set<std::string> read_unblocked;
  for (const auto& node : graph.nodes) {
    if (blocked.count(node.get()) == 0) read_unblocked.insert(node->inputs.begin(), node->inputs.end());
  }
  for (auto& [name, tensor] : graph.initializers) {
    if (tensor.dtype() != DType::kFloat || graph_inputs.count(name) != 0 || read_unblocked.count(name) == 0) continue;
    report.bytes_before += tensor.byte_size();
    tensor = to_float16(tensor, report.clamped_values);
    report.bytes_after += tensor.byte_size();
    ++report.converted_initializers;
    half.insert(name);
    graph.value_types.erase(name);
  }
  for (const auto& node : graph.nodes) {
    if (blocked.count(node.get()) != 0) continue;
    for (const std::string& out : node->outputs) {
      if (!out.empty() && is_float(graph.find_type(out))) half.insert(out);
    }
  }

  // Rewrite: unblocked nodes read float16, blocked ones float32; Casts where a value crosses over.
  std::vector<std::unique_ptr<Node>> rewritten;
  std::map<std::string, std::string> as_half, as_float;  // value -> its cast copy
  auto cast = [&](const std::string& value, DType to) -> std::string {
    auto& cache = to == DType::kFloat16 ? as_half : as_float;
    auto found = cache.find(value);
    if (found != cache.end()) return found->second;
    const std::string out = names.fresh(value + (to == DType::kFloat16 ? "_fp16" : "_fp32"));
    Node& c = append_node(rewritten, names, "Cast", {value}, {out}, value + "_cast", opset);
    c.set_attr_int("to", static_cast<int64_t>(to));
    ++report.casts_inserted;
    return cache.emplace(value, out).first->second;
  };
  for (auto& slot : graph.nodes) {
    Node& node = *slot;
    const bool keep_float = blocked.count(&node) != 0;
    for (std::string& in : node.inputs) {
      if (in.empty() || (!is_float(graph.find_type(in)) && half.count(in) == 0)) continue;
      const bool is_half = half.count(in) != 0;
      if (keep_float && is_half) in = cast(in, DType::kFloat);
      if (!keep_float && !is_half) in = cast(in, DType::kFloat16);
    }
    if (!keep_float) {
      if (fusion::is_onnx_op(node, "Cast") && node.attr_int("to", 0) == static_cast<int64_t>(DType::kFloat)) {
        node.set_attr_int("to", static_cast<int64_t>(DType::kFloat16));
      }
      for (auto& [key, attr] : node.attributes) {
        if (attr.type == Attribute::Type::kTensor && attr.t.dtype() == DType::kFloat) {
          attr.t = to_float16(attr.t, report.clamped_values);
        }
      }
    }
    rewritten.push_back(std::move(slot));
  }
  // Graph outputs: float16 values become float32 again with keep_io_types.
  for (ValueInfo& out : graph.outputs) {
    if (!half.count(out.name)) continue;
    if (!options.keep_io_types) {
      out.type.elem_type = DType::kFloat16;
      continue;
    }
    // The producer writes NAME_fp16 (its readers follow); a Cast restores NAME in float32.
    const std::string renamed = names.fresh(out.name + "_fp16");
    for (auto& node : rewritten) {
      std::replace(node->outputs.begin(), node->outputs.end(), out.name, renamed);
      std::replace(node->inputs.begin(), node->inputs.end(), out.name, renamed);
    }
    Node& c = append_node(rewritten, names, "Cast", {renamed}, {out.name}, out.name + "_cast", opset);
    c.set_attr_int("to", static_cast<int64_t>(DType::kFloat));
    ++report.casts_inserted;
  }
  for (ValueInfo& in : graph.inputs) {
    if (half.count(in.name)) in.type.elem_type = DType::kFloat16;
  }
  graph.nodes = std::move(rewritten);
  // Stale float32 value types would contradict the new ones; inference fills them again.
  for (auto it = graph.value_types.begin(); it != graph.value_types.end();) {
    it = half.count(it->first) ? graph.value_types.erase(it) : std::next(it);
  }
  graph.sort_topologically();
  fusion::infer_types(graph);
  return report;
}

}  // namespace tessera::quantize

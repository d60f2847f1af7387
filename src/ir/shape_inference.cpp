#include "ir/shape_inference.h"

#include "base/error.h"

namespace tessera {

std::vector<Dim> broadcast_dims(const std::vector<Dim>& a, const std::vector<Dim>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<Dim> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Dim* da = i < rank - a.size() ? nullptr : &a[i - (rank - a.size())];
    const Dim* db = i < rank - b.size() ? nullptr : &b[i - (rank - b.size())];
    if (!da) { out[i] = *db; continue; }
    if (!db) { out[i] = *da; continue; }
    if (da->is_known() && da->value == 1) out[i] = *db;
    else if (db->is_known() && db->value == 1) out[i] = *da;
    else if (da->is_known() && db->is_known()) {
      if (da->value != db->value) {
        fail(ErrorCode::kInvalidModel, "shapes cannot be broadcast: dimension ", da->value, " vs ", db->value);
      }
      out[i] = *da;
    } else if (da->is_known()) out[i] = *da;
    else if (db->is_known()) out[i] = *db;
    else if (da->symbol == db->symbol) out[i] = *da;
    else out[i] = Dim{};
  }
  return out;
}

namespace {
// Keeps what the declared type knows and adds what inference knows.
TypeInfo merge_types(const TypeInfo& declared, const TypeInfo& inferred) {
  if (inferred.kind == TypeInfo::Kind::kUnknown) return declared;
  if (declared.kind == TypeInfo::Kind::kUnknown) return inferred;
  TypeInfo merged = declared;
  if (merged.kind == TypeInfo::Kind::kTensor && inferred.kind == TypeInfo::Kind::kTensor) {
    if (merged.elem_type == DType::kUndefined) merged.elem_type = inferred.elem_type;
    if (!merged.shape) merged.shape = inferred.shape;
    else if (inferred.shape && inferred.shape->size() == merged.shape->size()) {
      for (size_t i = 0; i < merged.shape->size(); ++i) {
        if (!(*merged.shape)[i].is_known() && (*inferred.shape)[i].is_known()) (*merged.shape)[i] = (*inferred.shape)[i];
      }
    }
  }
  return merged;
}
}  // namespace

void infer_graph_types(Graph& graph, const InferenceLookup& lookup) {
  for (const auto& [name, tensor] : graph.initializers) {
    if (!graph.value_types.count(name)) graph.value_types[name] = TypeInfo::tensor_of_shape(tensor.dtype(), tensor.shape());
  }
  for (const auto& node_ptr : graph.nodes) {
    const Node& node = *node_ptr;
    ShapeInferenceFn infer = lookup(node);
    if (!infer) continue;
    std::vector<const TypeInfo*> input_types;
    std::vector<const Tensor*> constants;
    for (const std::string& in : node.inputs) {
      const TypeInfo* t = nullptr;
      const Tensor* c = nullptr;
      for (const Graph* g = &graph; g != nullptr && !in.empty(); g = g->parent) {
        if (!t) t = g->find_type(in);
        if (!c) {
          auto it = g->initializers.find(in);
          if (it != g->initializers.end()) {
            bool overridable = false;
            for (const ValueInfo& gi : g->inputs) overridable |= gi.name == in;
            if (!overridable) c = &it->second;
          }
        }
      }
      input_types.push_back(t);
      constants.push_back(c);
    }
    InferenceContext context(node, std::move(input_types), std::move(constants));
    infer(context);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& out = node.outputs[i];
      if (out.empty()) continue;
      const TypeInfo* declared = graph.find_type(out);
      TypeInfo merged = merge_types(declared ? *declared : TypeInfo{}, context.output_types()[i]);
      graph.value_types[out] = std::move(merged);
    }
  }
}

}  // namespace tessera

// Small ai.onnx.ml models with map values, as ModelProtos, for the session, writer and CLI tests of maps.
#pragma once

#include <string>
#include <vector>

#include "onnx/test_models.h"

namespace tessera::testing {

// Sets `type` to map(key_type, tensor(value_type)).
inline void set_map_type(onnx::TypeProto* type, int32_t key_type, int32_t value_type) {
  auto* map = type->mutable_map_type();
  map->set_key_type(key_type);
  map->mutable_value_type()->mutable_tensor_type()->set_elem_type(value_type);
}

inline onnx::ModelProto make_ml_model() {
  onnx::ModelProto model = make_model(17);
  auto* ml = model.add_opset_import();
  ml->set_domain("ai.onnx.ml");
  ml->set_version(1);
  return model;
}

// x: float[N,3] -> ZipMap(classlabels_strings c, a, b) -> p: seq(map(string, tensor(float))).
inline onnx::ModelProto make_zip_map_model() {
  onnx::ModelProto model = make_ml_model();
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("N"), int64_t{3}});
  auto* node = add_node(g, "ZipMap", {"x"}, {"p"}, "zip", "ai.onnx.ml");
  auto* labels = node->add_attribute();
  labels->set_name("classlabels_strings");
  labels->set_type(onnx::AttributeProto::STRINGS);
  for (const char* label : {"c", "a", "b"}) labels->add_strings(label);
  auto* out = g->add_output();
  out->set_name("p");
  set_map_type(out->mutable_type()->mutable_sequence_type()->mutable_elem_type(), 8, 1);
  return model;
}

// m: map(int64, tensor(float)) -> DictVectorizer(int64_vocabulary 1, 2, 5) -> y: float[1,3], and
// -> CastMap(TO_STRING, SPARSE, max_map 3) -> s: string[1,3].
inline onnx::ModelProto make_dict_model() {
  onnx::ModelProto model = make_ml_model();
  auto* g = model.mutable_graph();
  auto* in = g->add_input();
  in->set_name("m");
  set_map_type(in->mutable_type(), 7, 1);
  auto* vectorizer = add_node(g, "DictVectorizer", {"m"}, {"y"}, "vectorize", "ai.onnx.ml");
  auto* vocabulary = vectorizer->add_attribute();
  vocabulary->set_name("int64_vocabulary");
  vocabulary->set_type(onnx::AttributeProto::INTS);
  for (int64_t key : {1, 2, 5}) vocabulary->add_ints(key);
  auto* cast = add_node(g, "CastMap", {"m"}, {"s"}, "cast", "ai.onnx.ml");
  for (const auto& [name, value] : {std::pair{"cast_to", "TO_STRING"}, std::pair{"map_form", "SPARSE"}}) {
    auto* attr = cast->add_attribute();
    attr->set_name(name);
    attr->set_type(onnx::AttributeProto::STRING);
    attr->set_s(value);
  }
  add_int_attribute(cast, "max_map", 3);
  add_output(g, "y", 1);
  add_output(g, "s", 8);
  return model;
}

}  // namespace tessera::testing

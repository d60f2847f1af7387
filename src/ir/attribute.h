// Attribute: a typed node attribute, including subgraphs (If/Loop/Scan bodies) and references to the
// attributes of an enclosing function.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "ir/type_info.h"

namespace tessera {

class Graph;

struct Attribute {
  // Same numbers as AttributeProto.AttributeType.
  enum class Type {
    kUndefined = 0, kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5, kFloats = 6, kInts = 7,
    kStrings = 8, kTensors = 9, kGraphs = 10, kSparseTensor = 11, kSparseTensors = 12, kTypeProto = 13,
    kTypeProtos = 14,
  };

  std::string name;
  Type type = Type::kUndefined;
  std::string ref_attr_name;  // inside a function body: take the value of this attribute of the caller

  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;  // sparse tensors are stored densified
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
  TypeInfo tp;
  std::vector<TypeInfo> type_protos;
};

// "INT", "FLOATS", ... for messages.
const char* attribute_type_name(Attribute::Type type);

}  // namespace tessera

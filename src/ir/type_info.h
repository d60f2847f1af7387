// TypeInfo: the static type of a graph value — tensor (dtype and possibly symbolic shape), sequence, optional, map.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace tessera {

// One dimension: a known size, a named symbol ("batch"), or unknown (neither).
struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string symbol;  // set for symbolic dims

  static Dim known(int64_t v) { return Dim{v, {}}; }
  static Dim named(std::string s) { return Dim{-1, std::move(s)}; }
  bool is_known() const { return value >= 0; }
  std::string to_string() const { return is_known() ? std::to_string(value) : (symbol.empty() ? "?" : symbol); }
  bool operator==(const Dim& other) const { return value == other.value && symbol == other.symbol; }
};

struct TypeInfo {
  enum class Kind { kUnknown, kTensor, kSparseTensor, kSequence, kOptional, kMap };

  Kind kind = Kind::kUnknown;
  DType elem_type = DType::kUndefined;     // tensor and sparse tensor element type; map key type
  std::optional<std::vector<Dim>> shape;   // tensors: nullopt when even the rank is unknown
  std::shared_ptr<TypeInfo> element;       // sequence / optional element; map value

  static TypeInfo tensor(DType dtype, std::optional<std::vector<Dim>> shape = std::nullopt) {
    TypeInfo t;
    t.kind = Kind::kTensor;
    t.elem_type = dtype;
    t.shape = std::move(shape);
    return t;
  }
  static TypeInfo tensor_of_shape(DType dtype, const std::vector<int64_t>& dims) {
    std::vector<Dim> shape;
    for (int64_t d : dims) shape.push_back(Dim::known(d));
    return tensor(dtype, shape);
  }
  static TypeInfo sequence_of(TypeInfo element_type) {
    TypeInfo t;
    t.kind = Kind::kSequence;
    t.element = std::make_shared<TypeInfo>(std::move(element_type));
    return t;
  }
  static TypeInfo optional_of(TypeInfo element_type) {
    TypeInfo t;
    t.kind = Kind::kOptional;
    t.element = std::make_shared<TypeInfo>(std::move(element_type));
    return t;
  }
  // map(key_type, value_type): key_type is int64 or string, value_type usually a tensor type.
  static TypeInfo map_of(DType key_type, TypeInfo value_type) {
    TypeInfo t;
    t.kind = Kind::kMap;
    t.elem_type = key_type;
    t.element = std::make_shared<TypeInfo>(std::move(value_type));
    return t;
  }

  bool is_tensor() const { return kind == Kind::kTensor; }
  // True when this is a tensor whose every dim is known.
  bool has_static_shape() const {
    if (kind != Kind::kTensor || !shape) return false;
    for (const Dim& d : *shape) if (!d.is_known()) return false;
    return true;
  }
  // The dims of a tensor with a static shape.
  std::vector<int64_t> static_shape() const {
    std::vector<int64_t> dims;
    if (shape) for (const Dim& d : *shape) dims.push_back(d.value);
    return dims;
  }
  // "float[batch,3,224,224]", "seq(float[?])", "optional(int64[])", "?" for unknown.
  std::string to_string() const;
};

}  // namespace tessera

// RuntimeValue: what flows along a graph edge at run time — a tensor, a sequence of tensors, a map, a sequence of
// maps, or an optional of a tensor or sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace tessera {

// One ONNX map: `keys` is a 1-D int64 or string tensor of distinct keys in ascending order, `values` a 1-D tensor
// of the same length (float, double, int64 or string) whose element i belongs to key i. Maps are kept sorted by
// key because ONNX Runtime's maps are std::maps: its ZipMap, DictVectorizer and CastMap walk them in key order.
struct MapValue {
  Tensor keys;
  Tensor values;

  // Builds a map from parallel 1-D key and value tensors in any order; a key given twice keeps its last value
  // (as assigning into a std::map does). Throws kInvalidArgument for key types other than int64 and string,
  // ranks other than 1, or lengths that differ.
  static MapValue from_pairs(const Tensor& keys, const Tensor& values);
  int64_t size() const { return keys.element_count(); }
  // "map(string,float)[3]" — for messages.
  std::string description() const;
};

class RuntimeValue {
 public:
  enum class Kind { kNone, kTensor, kSequence, kMap, kMapSequence };

  // An empty value (Kind::kNone); also what a missing optional input looks like.
  RuntimeValue() = default;
  // A tensor value.
  RuntimeValue(Tensor tensor) : kind_(Kind::kTensor), tensor_(std::move(tensor)) {}  // NOLINT: implicit by design
  // A sequence of tensors whose element type is `element_type` (known even when empty).
  static RuntimeValue sequence(DType element_type, std::vector<Tensor> tensors) {
    RuntimeValue value;
    value.kind_ = Kind::kSequence;
    value.element_type_ = element_type;
    value.sequence_ = std::move(tensors);
    return value;
  }
  // A map value (see MapValue for the invariants the caller must keep; MapValue::from_pairs establishes them).
  static RuntimeValue map(MapValue map_value) {
    RuntimeValue value;
    value.kind_ = Kind::kMap;
    value.element_type_ = map_value.keys.dtype();
    value.value_type_ = map_value.values.dtype();
    value.maps_.push_back(std::move(map_value));
    return value;
  }
  // A sequence of maps from `key_type` to 1-D tensors of `value_type` (types known even when empty); every map
  // must have those key and value types.
  static RuntimeValue map_sequence(DType key_type, DType value_type, std::vector<MapValue> maps) {
    RuntimeValue value;
    value.kind_ = Kind::kMapSequence;
    value.element_type_ = key_type;
    value.value_type_ = value_type;
    value.maps_ = std::move(maps);
    return value;
  }
  // An optional that holds `inner` (a tensor or sequence value).
  static RuntimeValue optional_of(RuntimeValue inner) {
    inner.is_optional_ = true;
    return inner;
  }
  // An optional that holds nothing; `contained` tells whether it would hold a tensor or a sequence.
  static RuntimeValue empty_optional(Kind contained, DType element_type) {
    RuntimeValue value;
    value.is_optional_ = true;
    value.empty_optional_kind_ = contained;
    value.element_type_ = element_type;
    return value;
  }

  Kind kind() const { return kind_; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  // True for a sequence of tensors (a sequence of maps is Kind::kMapSequence).
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_map() const { return kind_ == Kind::kMap; }
  bool is_map_sequence() const { return kind_ == Kind::kMapSequence; }
  bool is_none() const { return kind_ == Kind::kNone; }
  // True for values built by optional_of / empty_optional.
  bool is_optional() const { return is_optional_; }
  // For an empty optional: whether it would hold a tensor or a sequence.
  Kind empty_optional_kind() const { return empty_optional_kind_; }

  const Tensor& tensor() const { return tensor_; }
  Tensor& tensor() { return tensor_; }
  const std::vector<Tensor>& sequence_tensors() const { return sequence_; }
  std::vector<Tensor>& sequence_tensors() { return sequence_; }
  // The map of a Kind::kMap value.
  const MapValue& map_value() const { return maps_.front(); }
  // The maps of a Kind::kMapSequence value.
  const std::vector<MapValue>& maps() const { return maps_; }
  std::vector<MapValue>& maps() { return maps_; }
  // Element type of a sequence (or of an empty optional's contents); key type of a map or a sequence of maps.
  DType element_type() const { return element_type_; }
  // The value type of a map or a sequence of maps.
  DType map_value_type() const { return value_type_; }

  // "float[2,3]", "seq(float)[4]", "map(int64,float)[3]", "seq(map(string,float))[2]", "optional(none)" — for
  // messages.
  std::string description() const;

 private:
  Kind kind_ = Kind::kNone;
  Tensor tensor_;
  std::vector<Tensor> sequence_;
  std::vector<MapValue> maps_;
  DType element_type_ = DType::kUndefined;
  DType value_type_ = DType::kUndefined;
  bool is_optional_ = false;
  Kind empty_optional_kind_ = Kind::kNone;
};

}  // namespace tessera

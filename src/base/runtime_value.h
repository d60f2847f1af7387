// RuntimeValue: what flows along a graph edge at run time — a tensor, a sequence of tensors, or an optional.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace tessera {

class RuntimeValue {
 public:
  enum class Kind { kNone, kTensor, kSequence };

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
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_none() const { return kind_ == Kind::kNone; }
  // True for values built by optional_of / empty_optional.
  bool is_optional() const { return is_optional_; }
  // For an empty optional: whether it would hold a tensor or a sequence.
  Kind empty_optional_kind() const { return empty_optional_kind_; }

  const Tensor& tensor() const { return tensor_; }
  Tensor& tensor() { return tensor_; }
  const std::vector<Tensor>& sequence_tensors() const { return sequence_; }
  std::vector<Tensor>& sequence_tensors() { return sequence_; }
  // Element type of a sequence (or of an empty optional's contents).
  DType element_type() const { return element_type_; }

  // "float[2,3]", "seq(float)[4]", "optional(none)" — for messages.
  std::string description() const {
    std::string inner;
    if (kind_ == Kind::kTensor) inner = tensor_.description();
    else if (kind_ == Kind::kSequence) inner = "seq(" + dtype_name(element_type_) + ")[" + std::to_string(sequence_.size()) + "]";
    else inner = "none";
    return is_optional_ ? "optional(" + inner + ")" : inner;
  }

 private:
  Kind kind_ = Kind::kNone;
  Tensor tensor_;
  std::vector<Tensor> sequence_;
  DType element_type_ = DType::kUndefined;
  bool is_optional_ = false;
  Kind empty_optional_kind_ = Kind::kNone;
};

}  // namespace tessera

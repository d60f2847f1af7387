// Conversions between the wire messages (TensorProto, TypeProto, Sequence/OptionalProto) and Tensor,
// TypeInfo and RuntimeValue.
#pragma once

#include <string>

#include "base/runtime_value.h"
#include "base/tensor.h"
#include "ir/type_info.h"
#include "onnx.pb.h"

namespace tessera {

class ExternalDataResolver;

// Decodes a TensorProto. External data is mapped through `resolver` (nullptr refuses it). Throws
// kInvalidModel naming the tensor when dims are negative or overflow, the dtype is unknown, or the data
// does not match the dims; kOutOfMemory before allocating a tensor past kMaxTensorBytes.
Tensor tensor_from_proto(const onnx::TensorProto& proto, ExternalDataResolver* resolver);

// The same, taking over `proto`'s raw_data buffer when the tensor can use the bytes as they are (no copy; the
// tensor keeps the buffer alive); `proto` is left without raw_data then. Small tensors are copied.
Tensor tensor_from_proto_taking_data(onnx::TensorProto& proto, ExternalDataResolver* resolver);

// Densifies a SparseTensorProto (values + linear or coordinate indices).
Tensor tensor_from_sparse_proto(const onnx::SparseTensorProto& proto, ExternalDataResolver* resolver);

// Encodes a tensor with raw_data (typed string_data for strings; sub-byte types packed).
void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

// Converts a TypeProto (recursively for sequences, optionals and maps).
TypeInfo type_from_proto(const onnx::TypeProto& proto);

// The inverse of type_from_proto; an unknown type leaves `proto` empty.
void type_to_proto(const TypeInfo& type, onnx::TypeProto* proto);

// Decodes a serialized test-data value whose expected type is `type`: a TensorProto, SequenceProto (of tensors, or
// of MapProtos for seq(map)), MapProto or OptionalProto. Throws kInvalidArgument when the bytes do not parse or the
// value is malformed (dims that do not match the data, say).
RuntimeValue value_from_bytes(const std::string& bytes, const TypeInfo& type);

// Encodes a value as the matching message (TensorProto, SequenceProto, MapProto or OptionalProto), serialized; a
// sequence of maps is a SequenceProto of MapProtos (see map_proto.h for the map form).
std::string value_to_bytes(const RuntimeValue& value, const std::string& name);

}  // namespace tessera

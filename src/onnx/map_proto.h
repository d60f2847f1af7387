// MapProto (the ONNX test-data message for ai.onnx.ml maps) <-> MapValue, in the form onnx.numpy_helper's
// from_dict / to_dict use: keys in `keys` (int64) or `string_keys` (string), values as a SequenceProto of scalar
// tensors, one per key.
#pragma once

#include <string>

#include "base/runtime_value.h"
#include "onnx.pb.h"

namespace tessera {

// The map a MapProto holds. `value_type` is the declared value element type (kUndefined when unknown: then the
// values' own type is taken; an empty map then needs it). Throws kInvalidArgument naming the message for key
// types other than int64 and string, a value count that differs from the key count, values that are not
// one-element tensors of one type, or values of another type than `value_type`.
MapValue map_from_proto(const onnx::MapProto& proto, DType value_type);

// Writes `map` as a MapProto named `name`.
void map_to_proto(const MapValue& map, const std::string& name, onnx::MapProto* proto);

}  // namespace tessera

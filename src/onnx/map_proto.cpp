#include "onnx/map_proto.h"

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "base/lazy_text.h"
#include "onnx/tensor_proto.h"

namespace tessera {

namespace {

Tensor map_keys(const onnx::MapProto& proto) {
  const std::string name = proto.name().empty() ? "a MapProto" : "MapProto '" + proto.name() + "'";
  if (proto.key_type() == static_cast<int32_t>(DType::kInt64)) {
    check_argument(proto.string_keys_size() == 0, name, " has int64 keys but also string_keys");
    return Tensor::from_vector(DType::kInt64, std::vector<int64_t>(proto.keys().begin(), proto.keys().end()));
  }
  check_argument(proto.key_type() == static_cast<int32_t>(DType::kString), name, ": key_type ", proto.key_type(),
                 " is neither int64 (7) nor string (8)");
  check_argument(proto.keys_size() == 0, name, " has string keys but also int64 keys");
  return Tensor::from_vector(DType::kString,
                             std::vector<std::string>(proto.string_keys().begin(), proto.string_keys().end()));
}

// Element 0 of every one-element tensor in `values`, as one 1-D tensor of `value_type`.
Tensor map_values(const onnx::MapProto& proto, DType value_type, int64_t count) {
  const std::string name = proto.name().empty() ? "a MapProto" : "MapProto '" + proto.name() + "'";
  const auto& tensors = proto.values().tensor_values();
  check_argument(tensors.size() == count, name, " has ", count, " keys but ", tensors.size(), " tensor values");
  if (value_type == DType::kUndefined) {
    check_argument(count > 0, name, " is empty and its value type is not declared");
    check_argument(dtype_is_valid(tensors.Get(0).data_type()), name, ": value 0 has data_type ",
                   tensors.Get(0).data_type());
    value_type = static_cast<DType>(tensors.Get(0).data_type());
  }
  Tensor values(value_type, {count});
  for (int64_t i = 0; i < count; ++i) {
    const Tensor value = tensor_from_proto(tensors.Get(static_cast<int>(i)), nullptr);
    check_argument(value.dtype() == value_type && value.element_count() == 1, name, ": value ", i, " is ",
                   tensor_text(value), ", not one ", dtype_name(value_type));
    visit_dtype(value_type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      values.data<T>()[i] = value.data<T>()[0];
    });
  }
  return values;
}

}  // namespace

MapValue map_from_proto(const onnx::MapProto& proto, DType value_type) {
  const Tensor keys = map_keys(proto);
  return MapValue::from_pairs(keys, map_values(proto, value_type, keys.element_count()));
}

void map_to_proto(const MapValue& map, const std::string& name, onnx::MapProto* proto) {
  proto->set_name(name);
  proto->set_key_type(static_cast<int32_t>(map.keys.dtype()));
  for (int64_t i = 0; i < map.size(); ++i) {
    if (map.keys.dtype() == DType::kInt64) {
      proto->add_keys(map.keys.data<int64_t>()[i]);
    } else {
      proto->add_string_keys(map.keys.data<std::string>()[i]);
    }
  }
  onnx::SequenceProto* values = proto->mutable_values();
  values->set_elem_type(onnx::SequenceProto::TENSOR);
  visit_dtype(map.values.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < map.size(); ++i) {
      tensor_to_proto(Tensor::scalar<T>(map.values.dtype(), map.values.data<T>()[i]), "", values->add_tensor_values());
    }
  });
}

}  // namespace tessera

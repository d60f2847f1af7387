// MapProto <-> MapValue in onnx.numpy_helper's form (scalar tensors as values), and maps and sequences of maps
// through value_from_bytes / value_to_bytes.
#include "onnx/map_proto.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "onnx/tensor_proto.h"

namespace tessera {
namespace {

const TypeInfo kIntFloatMap = TypeInfo::map_of(DType::kInt64, TypeInfo::tensor(DType::kFloat));

template <typename T>
std::vector<T> elements(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.element_count());
}

// What onnx.numpy_helper.from_dict({3: 0.5, 1: 2.5}) writes.
onnx::MapProto numpy_helper_map() {
  onnx::MapProto proto;
  proto.set_name("m");
  proto.set_key_type(7);
  proto.add_keys(3);
  proto.add_keys(1);
  proto.mutable_values()->set_elem_type(onnx::SequenceProto::TENSOR);
  for (float v : {0.5f, 2.5f})
    tensor_to_proto(Tensor::scalar<float>(DType::kFloat, v), "", proto.mutable_values()->add_tensor_values());
  return proto;
}

ErrorCode decode_error(const onnx::MapProto& proto, const TypeInfo& type = kIntFloatMap) {
  try {
    value_from_bytes(proto.SerializeAsString(), type);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kRuntime;
}

TEST(MapProtoTest, ReadsNumpyHelpersFormSortedByKey) {
  const RuntimeValue value = value_from_bytes(numpy_helper_map().SerializeAsString(), kIntFloatMap);
  ASSERT_TRUE(value.is_map());
  EXPECT_EQ(elements<int64_t>(value.map_value().keys), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(elements<float>(value.map_value().values), (std::vector<float>{2.5f, 0.5f}));
}

TEST(MapProtoTest, MapsAndSequencesOfMapsRoundTrip) {
  const MapValue map = MapValue::from_pairs(Tensor::from_vector(DType::kString, std::vector<std::string>{"b", "a"}),
                                            Tensor::from_vector(DType::kDouble, std::vector<double>{1.5, -2.0}));
  const TypeInfo map_type = TypeInfo::map_of(DType::kString, TypeInfo::tensor(DType::kDouble));
  const RuntimeValue single = value_from_bytes(value_to_bytes(RuntimeValue::map(map), "m"), map_type);
  EXPECT_EQ(elements<std::string>(single.map_value().keys), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(elements<double>(single.map_value().values), (std::vector<double>{-2.0, 1.5}));
  const RuntimeValue sequence = RuntimeValue::map_sequence(DType::kString, DType::kDouble, {map, map});
  const RuntimeValue read = value_from_bytes(value_to_bytes(sequence, "s"), TypeInfo::sequence_of(map_type));
  ASSERT_TRUE(read.is_map_sequence());
  EXPECT_EQ(read.maps().size(), 2u);
  EXPECT_EQ(read.description(), "seq(map(string,double))[2]");
  EXPECT_EQ(elements<double>(read.maps()[1].values), (std::vector<double>{-2.0, 1.5}));
}

TEST(MapProtoTest, MalformedMapsAreInvalidArguments) {
  onnx::MapProto missing_value = numpy_helper_map();
  missing_value.add_keys(5);
  EXPECT_EQ(decode_error(missing_value), ErrorCode::kInvalidArgument);
  onnx::MapProto float_keys = numpy_helper_map();
  float_keys.set_key_type(1);
  EXPECT_EQ(decode_error(float_keys), ErrorCode::kInvalidArgument);
  EXPECT_EQ(decode_error(numpy_helper_map(), TypeInfo::map_of(DType::kInt64, TypeInfo::tensor(DType::kDouble))),
            ErrorCode::kInvalidArgument);
  onnx::MapProto vector_value = numpy_helper_map();
  tensor_to_proto(Tensor(DType::kFloat, {2}), "", vector_value.mutable_values()->mutable_tensor_values(0));
  EXPECT_EQ(decode_error(vector_value), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera

// RuntimeValue's map kinds: MapValue::from_pairs (sorting, repeated keys, checks), map and sequence-of-map
// values and their descriptions.
#include "base/runtime_value.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace tessera {
namespace {

template <typename T>
std::vector<T> elements(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.element_count());
}

TEST(MapValueTest, FromPairsSortsByKeyAndKeepsTheLastOfARepeatedKey) {
  const MapValue map =
      MapValue::from_pairs(Tensor::from_vector(DType::kString, std::vector<std::string>{"b", "a", "b"}),
                           Tensor::from_vector(DType::kInt64, std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(elements<std::string>(map.keys), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(elements<int64_t>(map.values), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(map.size(), 2);
  EXPECT_EQ(map.description(), "map(string,int64)[2]");
}

TEST(MapValueTest, FromPairsRefusesWhatAMapCannotHold) {
  const Tensor keys = Tensor::from_vector(DType::kInt64, std::vector<int64_t>{1, 2});
  const auto code_of = [](const Tensor& k, const Tensor& v) {
    try {
      MapValue::from_pairs(k, v);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kRuntime;
  };
  EXPECT_EQ(code_of(Tensor::from_vector(DType::kFloat, std::vector<float>{1}), Tensor(DType::kFloat, {1})),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of(keys, Tensor(DType::kBool, {2})), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of(keys, Tensor(DType::kFloat, {3})), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of(keys.reshaped({1, 2}), Tensor(DType::kFloat, {1, 2})), ErrorCode::kInvalidArgument);
}

TEST(RuntimeValueTest, MapAndMapSequenceKinds) {
  const MapValue map = MapValue::from_pairs(Tensor::from_vector(DType::kInt64, std::vector<int64_t>{4, 2}),
                                            Tensor::from_vector(DType::kFloat, std::vector<float>{0.25f, 0.75f}));
  const RuntimeValue single = RuntimeValue::map(map);
  EXPECT_TRUE(single.is_map());
  EXPECT_FALSE(single.is_sequence());
  EXPECT_FALSE(single.is_tensor());
  EXPECT_EQ(single.element_type(), DType::kInt64);
  EXPECT_EQ(single.map_value_type(), DType::kFloat);
  EXPECT_EQ(elements<int64_t>(single.map_value().keys), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(single.description(), "map(int64,float)[2]");

  const RuntimeValue sequence = RuntimeValue::map_sequence(DType::kInt64, DType::kFloat, {map, map, map});
  EXPECT_TRUE(sequence.is_map_sequence());
  EXPECT_FALSE(sequence.is_sequence());
  EXPECT_EQ(sequence.maps().size(), 3u);
  EXPECT_EQ(sequence.description(), "seq(map(int64,float))[3]");
  EXPECT_EQ(RuntimeValue::map_sequence(DType::kString, DType::kDouble, {}).description(), "seq(map(string,double))[0]");
}

}  // namespace
}  // namespace tessera

// Maps and sequences of maps through a whole Session: ZipMap outputs, map feeds to DictVectorizer and CastMap,
// feed checks on map inputs, and map types kept by the loader and written back by the model writer.
#include <gtest/gtest.h>

#include "base/error.h"
#include "onnx/map_models.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "runtime/session.h"

namespace tessera {
namespace {

template <typename T>
std::vector<T> elements(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.element_count());
}

RuntimeValue int_float_map(std::vector<int64_t> keys, std::vector<float> values) {
  return RuntimeValue::map(
      MapValue::from_pairs(Tensor::from_vector(DType::kInt64, keys), Tensor::from_vector(DType::kFloat, values)));
}

TEST(MapSessionTest, ZipMapOutputIsASequenceOfMaps) {
  const Session session = Session::from_bytes(testing::serialize(testing::make_zip_map_model()));
  EXPECT_EQ(session.outputs()[0].type.to_string(), "seq(map(string,float[...]))");
  Tensor x = Tensor::from_vector(DType::kFloat, std::vector<float>{0.5f, 0.25f, 0.25f, 0.0f, 0.1f, 0.9f});
  const std::vector<RuntimeValue> out = session.run({{"x", x.reshaped({2, 3})}});
  ASSERT_TRUE(out[0].is_map_sequence());
  ASSERT_EQ(out[0].maps().size(), 2u);
  EXPECT_EQ(elements<std::string>(out[0].maps()[1].keys), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(elements<float>(out[0].maps()[1].values), (std::vector<float>{0.1f, 0.9f, 0.0f}));
}

TEST(MapSessionTest, MapFeedRunsDictVectorizerAndCastMap) {
  const Session session = Session::from_bytes(testing::serialize(testing::make_dict_model()));
  EXPECT_EQ(session.inputs()[0].type.to_string(), "map(int64,float[...])");
  const std::vector<RuntimeValue> out = session.run({{"m", int_float_map({5, 0, 7}, {2.5f, 1.0f, 3.0f})}});
  EXPECT_EQ(out[0].tensor().description(), "float[1,3]");
  EXPECT_EQ(elements<float>(out[0].tensor()), (std::vector<float>{0.0f, 0.0f, 2.5f}));
  EXPECT_EQ(elements<std::string>(out[1].tensor()), (std::vector<std::string>{"1.000000", "0.f", "0.f"}));
}

TEST(MapSessionTest, MapFeedsAreChecked) {
  const Session session = Session::from_bytes(testing::serialize(testing::make_dict_model()));
  const auto message_of = [&](const RuntimeValue& value) {
    try {
      session.run({{"m", value}});
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of(Tensor(DType::kFloat, {2})).find("input 'm' expects map(int64,float[...]), got float[2]"),
            std::string::npos);
  const RuntimeValue string_keys = RuntimeValue::map(MapValue::from_pairs(
      Tensor::from_vector(DType::kString, std::vector<std::string>{"a"}), Tensor(DType::kFloat, {1})));
  EXPECT_NE(message_of(string_keys).find("got map(string,float)[1]"), std::string::npos);
  const RuntimeValue double_values = RuntimeValue::map(
      MapValue::from_pairs(Tensor::from_vector(DType::kInt64, std::vector<int64_t>{1}), Tensor(DType::kDouble, {1})));
  EXPECT_NE(message_of(double_values).find("got map(int64,double)[1]"), std::string::npos);
}

TEST(MapSessionTest, KernelErrorsNameTheNodeTheOpAndTheInput) {
  onnx::ModelProto model = testing::make_zip_map_model();
  // x: float[N,C], so the feed check lets 4 columns through to the kernel.
  model.mutable_graph()
      ->mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->set_dim_param("C");
  const Session session = Session::from_bytes(testing::serialize(model));
  try {
    session.run({{"x", Tensor(DType::kFloat, {2, 4})}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string message = e.what();
    EXPECT_NE(message.find("node 'zip' (ai.onnx.ml.ZipMap)"), std::string::npos) << message;
    EXPECT_NE(message.find("input 'X' float[2,4] has 4 scores per row but the node has 3 class labels"),
              std::string::npos)
        << message;
  }
}

TEST(MapSessionTest, SequenceOperatorsRefuseASequenceOfMaps) {
  onnx::ModelProto model = testing::make_zip_map_model();
  auto* g = model.mutable_graph();
  testing::add_node(g, "SequenceLength", {"p"}, {"n"}, "length");
  testing::add_output(g, "n", 7);
  const Session session = Session::from_bytes(testing::serialize(model));
  try {
    session.run({{"x", Tensor(DType::kFloat, {2, 3})}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be a sequence of tensors, got seq(map(string,float))[2]"),
              std::string::npos)
        << e.what();
  }
}

TEST(MapSessionTest, WriterKeepsMapAndSequenceOfMapTypes) {
  for (const onnx::ModelProto& original : {testing::make_zip_map_model(), testing::make_dict_model()}) {
    onnx::ModelProto written;
    model_to_proto(load_model_from_bytes(testing::serialize(original)), &written);
    const Model reloaded = load_model_from_bytes(testing::serialize(written));
    const Model first = load_model_from_bytes(testing::serialize(original));
    for (size_t i = 0; i < first.graph->inputs.size(); ++i) {
      EXPECT_EQ(reloaded.graph->inputs[i].type.to_string(), first.graph->inputs[i].type.to_string());
    }
    for (size_t i = 0; i < first.graph->outputs.size(); ++i) {
      EXPECT_EQ(reloaded.graph->outputs[i].type.to_string(), first.graph->outputs[i].type.to_string());
    }
  }
  onnx::ModelProto written;
  model_to_proto(load_model_from_bytes(testing::serialize(testing::make_zip_map_model())), &written);
  const onnx::TypeProto& output = written.graph().output(0).type();
  ASSERT_TRUE(output.sequence_type().elem_type().has_map_type());
  EXPECT_EQ(output.sequence_type().elem_type().map_type().key_type(), 8);
  EXPECT_EQ(output.sequence_type().elem_type().map_type().value_type().tensor_type().elem_type(), 1);
}

}  // namespace
}  // namespace tessera

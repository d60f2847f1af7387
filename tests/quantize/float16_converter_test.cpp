// convert_to_float16: float32 weights, constants, Cast targets and values become float16 (constants clamped into
// range), blocked ops stay float32 behind Casts, keep_io_types keeps a float32 interface, and the model still
// computes what the float32 one does within float16 precision.
#include "quantize/float16_converter.h"

#include <gtest/gtest.h>

#include "base/float_types.h"
#include "ir/graph_builder.h"
#include "passes/pass_test_util.h"
#include "quantize_test_util.h"
#include "runtime/session.h"

namespace tessera::quantize {
namespace {

using pass_test::random_floats;

// x [2, 8] -> MatMul(w) -> Add(Constant 1e6 -> clamped) -> TopK(k=3, blocked) values -> Mul(scale) -> y
Model model_with_blocked_op() {
  Tensor big = Tensor::from_vector(DType::kFloat, std::vector<float>{0, 0, 0, 0, 0, 0, 0, 1e-9f});
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 8})
      .initializer("w", random_floats({8, 8}, 1, 0.5f))
      .initializer("k", Tensor::from_vector(DType::kInt64, std::vector<int64_t>{3}))
      .initializer("scale", Tensor::from_vector(DType::kFloat, std::vector<float>{1e6f}))
      .initializer("tiny", big)
      .node("MatMul", {"x", "w"}, {"h"})
      .node("Add", {"h", "tiny"}, {"h2"})
      .node("TopK", {"h2", "k"}, {"values", "indices"})
      .node("Mul", {"values", "scale"}, {"y"})
      .output("y")
      .output("indices")
      .build();
}

int count(const Graph& graph, const std::string& op_type) {
  int n = 0;
  for (const auto& node : graph.nodes) n += node->op_type == op_type;
  return n;
}

TEST(Float16ConverterTest, ConvertsAroundBlockedOpsAndClampsConstants) {
  Model model = model_with_blocked_op();
  const Float16Report report = convert_to_float16(model, {});
  const Graph& g = *model.graph;
  EXPECT_EQ(g.initializers.at("w").dtype(), DType::kFloat16);
  EXPECT_EQ(report.converted_initializers, 3u);  // w, scale, tiny
  EXPECT_EQ(report.clamped_values, 2u);          // 1e6 -> 65504, 1e-9 -> the smallest subnormal
  EXPECT_EQ(half_to_float(g.initializers.at("scale").data<Float16>()[0].bits), 65504.0f);
  EXPECT_GT(half_to_float(g.initializers.at("tiny").data<Float16>()[7].bits), 0.0f);
  ASSERT_EQ(report.blocked_nodes.size(), 1u);  // TopK
  EXPECT_EQ(count(g, "Cast"), 2);              // h2 to float32 for TopK, its values back to float16
  EXPECT_EQ(g.inputs[0].type.elem_type, DType::kFloat16);
  EXPECT_EQ(g.outputs[0].type.elem_type, DType::kFloat16);
  // It runs.
  Session session(std::move(model));
  Tensor x16(DType::kFloat16, {2, 8});
  const Tensor x = random_floats({2, 8}, 3);
  for (int64_t i = 0; i < 16; ++i) x16.data<Float16>()[i].bits = float_to_half(x.data<float>()[i]);
  const auto out = session.run({{"x", x16}});
  EXPECT_EQ(out[0].tensor().dtype(), DType::kFloat16);
  EXPECT_EQ(out[1].tensor().dtype(), DType::kInt64);
}

TEST(Float16ConverterTest, KeepIoTypesMatchesTheFloatModel) {
  // x [4, 16] -> MatMul -> Relu -> Gemm -> y, converted with a float32 interface.
  auto make = [] {
    return GraphBuilder(17)
        .input("x", DType::kFloat, {4, 16})
        .initializer("w1", random_floats({16, 32}, 1, 0.5f))
        .initializer("w2", random_floats({32, 8}, 2, 0.5f))
        .initializer("b2", random_floats({8}, 3))
        .node("MatMul", {"x", "w1"}, {"h"})
        .node("Relu", {"h"}, {"r"})
        .node("Gemm", {"r", "w2", "b2"}, {"y"})
        .output("y")
        .build();
  };
  Model model = make();
  Float16Options options;
  options.keep_io_types = true;
  const Float16Report report = convert_to_float16(model, options);
  EXPECT_EQ(report.casts_inserted, 2u);
  EXPECT_EQ(model.graph->inputs[0].type.elem_type, DType::kFloat);
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", random_floats({4, 16}, 4)}};
  const Tensor want = Session(make()).run(feeds)[0].tensor();
  const Tensor got = Session(std::move(model)).run(feeds)[0].tensor();
  ASSERT_EQ(got.dtype(), DType::kFloat);
  EXPECT_LT(test::relative_l2(got, want), 5e-3);
}

}  // namespace
}  // namespace tessera::quantize

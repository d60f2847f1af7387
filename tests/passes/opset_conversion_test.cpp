// convert_opset: Softmax's 2-D coercion carried to opset 13 (and the converted model computes the same), attributes
// moved into inputs and back, and the refusals name the node and the change.
#include "passes/opset_conversion.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [2,3,4] -> Softmax(axis 1: at opset 11, over the trailing 3 x 4 together) -> Unsqueeze(axes attribute [0]) -> y.
Model softmax_model(int64_t opset) {
  return GraphBuilder(opset)
      .input("x", DType::kFloat, {2, 3, 4})
      .node("Softmax", {"x"}, {"s"})
      .attr_int("axis", 1)
      .node("Unsqueeze", {"s"}, {"y"})
      .attr_ints("axes", {0})
      .output("y")
      .build();
}

TEST(OpsetConversionTest, SoftmaxCoercionAndAxesAttributeCarriedTo13) {
  const Tensor x = random_floats({2, 3, 4}, 1);
  Session before(softmax_model(11));
  Model converted = softmax_model(11);
  const OpsetConversionReport report = convert_opset(converted, 13);
  EXPECT_EQ(report.from, 11);
  EXPECT_EQ(report.to, 13);
  EXPECT_EQ(converted.opset_imports.at(""), 13);
  ASSERT_EQ(report.rewritten.size(), 2u);
  EXPECT_NE(report.rewritten[0].find("Flatten(axis 1)"), std::string::npos) << report.rewritten[0];
  EXPECT_NE(report.rewritten[1].find("axes attribute -> input"), std::string::npos) << report.rewritten[1];
  Session after(std::move(converted));
  const Tensor a = before.run({{"x", x}})[0].tensor(), b = after.run({{"x", x}})[0].tensor();
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.element_count(); ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-6);
}

TEST(OpsetConversionTest, ConstantInputsGoBackIntoAttributes) {
  Model model = GraphBuilder(13)
                    .input("x", DType::kFloat, {1, 3})
                    .initializer("axes", Tensor::from_vector<int64_t>(DType::kInt64, {0}))
                    .node("Squeeze", {"x", "axes"}, {"y"})
                    .output("y")
                    .build();
  convert_opset(model, 11);
  const Node& squeeze = *model.graph->nodes[0];
  EXPECT_EQ(squeeze.inputs.size(), 1u);
  EXPECT_EQ(squeeze.attr_ints("axes"), (std::vector<int64_t>{0}));
}

TEST(OpsetConversionTest, RefusalsNameTheNodeAndTheChange) {
  Model computed_axes = GraphBuilder(13)
                            .input("x", DType::kFloat, {1, 3})
                            .input("axes", DType::kInt64, {1})
                            .node("Squeeze", {"x", "axes"}, {"y"})
                            .output("y")
                            .build();
  try {
    convert_opset(computed_axes, 11);
    FAIL() << "a computed axes input cannot become an attribute";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("(Squeeze): input 1 ('axes')"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a constant"), std::string::npos) << e.what();
  }
  Model group_norm = GraphBuilder(18)
                         .input("x", DType::kFloat, {1, 4, 2})
                         .initializer("s", random_floats({2}, 2))
                         .initializer("b", random_floats({2}, 3))
                         .node("GroupNormalization", {"x", "s", "b"}, {"y"})
                         .attr_int("num_groups", 2)
                         .output("y")
                         .build();
  try {
    convert_opset(group_norm, 21);
    FAIL() << "GroupNormalization's per-group scale has no opset 21 form here";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("per channel"), std::string::npos) << e.what();
  }
  Model any = softmax_model(13);
  EXPECT_THROW(convert_opset(any, 40), Error);
}

}  // namespace
}  // namespace tessera

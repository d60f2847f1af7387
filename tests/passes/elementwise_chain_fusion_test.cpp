// elementwise_chain_fusion: chains of float32 elementwise nodes (each value read only by the next, every operand
// the chain input, one element, or the chain input's shape) become one com.tessera ElementwiseChain with the same
// outputs; a broadcast operand, a value read elsewhere and a lone node stay as they are.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

const std::vector<int64_t> kShape = {2, 3, 41, 53};  // 13038 elements: several 4096-element blocks and a tail

// SiLU: y = x * Sigmoid(x).
Model silu() {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, kShape).node("Sigmoid", {"x"}, {"s"}).node("Mul", {"x", "s"}, {"y"}).output("y");
  return b.build();
}

// y = Tanh(1 - Relu(x * c + z)) / 2 with a scalar c, an input z of x's shape, constants one and two.
Model scale_shift() {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, kShape)
      .input("z", DType::kFloat, kShape)
      .initializer("c", Tensor::scalar<float>(DType::kFloat, 1.5f))
      .initializer("one", Tensor::from_vector(DType::kFloat, std::vector<float>{1.0f}))
      .initializer("two", Tensor::scalar<float>(DType::kFloat, 2.0f))
      .node("Mul", {"c", "x"}, {"m"})
      .node("Add", {"m", "z"}, {"a"})
      .node("Relu", {"a"}, {"r"})
      .node("Sub", {"one", "r"}, {"s"})
      .node("Tanh", {"s"}, {"t"})
      .node("Div", {"t", "two"}, {"y"})
      .output("y");
  return b.build();
}

// Every step kind: unary ones, then each binary op with the value on either side.
Model every_step() {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, kShape).input("z", DType::kFloat, kShape);
  std::string v = "x";
  int n = 0;
  auto next = [&] { return "v" + std::to_string(++n); };
  for (const char* op : {"Abs", "Sqrt", "Neg", "Exp", "Erf", "Sigmoid", "Tanh", "Relu", "Reciprocal"}) {
    const std::string out = next();
    b.node(op, {v}, {out});
    v = out;
  }
  {
    const std::string out = next();
    b.node("LeakyRelu", {v}, {out}).attr_float("alpha", 0.3f);
    v = out;
  }
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    for (const bool first : {false, true}) {
      const std::string out = next();
      b.node(op, first ? std::vector<std::string>{"z", v} : std::vector<std::string>{v, "z"}, {out});
      v = out;
    }
  }
  b.output(v);
  return b.build();
}

TEST(ElementwiseChainFusionTest, SiluBecomesOneNodeReadingXTwice) {
  Model model = silu();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& node = *model.graph->nodes[0];
  EXPECT_EQ(node.domain, kTesseraDomain);
  EXPECT_EQ(node.op_type, "ElementwiseChain");
  EXPECT_EQ(node.inputs, (std::vector<std::string>{"x"}));
  EXPECT_EQ(node.outputs, (std::vector<std::string>{"y"}));
  EXPECT_EQ(node.attr_strings("steps"), (std::vector<std::string>{"Sigmoid", "Mul"}));
  EXPECT_EQ(node.attr_ints("operands"), (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(node.attr_ints("operand_first"), (std::vector<int64_t>{0, 1}));
  pass_test::expect_same_outputs(silu, {{"x", random_floats(kShape, 1)}}, OptimizationLevel::kExtended, 1e-6);
}

TEST(ElementwiseChainFusionTest, ScalarsSameShapeInputsAndOperandSides) {
  Model model = scale_shift();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& node = *model.graph->nodes[0];
  EXPECT_EQ(node.inputs, (std::vector<std::string>{"x", "c", "z", "one", "two"}));
  EXPECT_EQ(node.attr_strings("steps"), (std::vector<std::string>{"Mul", "Add", "Relu", "Sub", "Tanh", "Div"}));
  EXPECT_EQ(node.attr_ints("operands"), (std::vector<int64_t>{1, 2, -1, 3, -1, 4}));
  EXPECT_EQ(node.attr_ints("operand_first"), (std::vector<int64_t>{1, 0, 0, 1, 0, 0}));
  pass_test::expect_same_outputs(scale_shift, {{"x", random_floats(kShape, 2)}, {"z", random_floats(kShape, 3)}},
                                 OptimizationLevel::kExtended, 1e-6);
}

TEST(ElementwiseChainFusionTest, EveryStepKindGivesTheUnfusedOutputs) {
  Model model = every_step();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  EXPECT_EQ(model.graph->nodes[0]->attr_strings("steps").size(), 18u);
  EXPECT_FLOAT_EQ(model.graph->nodes[0]->attr_floats("alphas")[9], 0.3f);
  pass_test::expect_same_outputs(every_step, {{"x", random_floats(kShape, 4)}, {"z", random_floats(kShape, 5, 0.5f)}},
                                 OptimizationLevel::kExtended, 1e-6);
}

TEST(ElementwiseChainFusionTest, LeavesBroadcastsSharedValuesAndLoneNodes) {
  // A per-channel operand is neither one element nor x's shape: that Mul stays; Relu -> Exp -> Sigmoid fuse.
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {1, 3, 4, 4})
      .initializer("scale", random_floats({1, 3, 1, 1}, 6))
      .node("Mul", {"x", "scale"}, {"m"})
      .node("Relu", {"m"}, {"r"})
      .node("Exp", {"r"}, {"e"})
      .node("Sigmoid", {"e"}, {"s"})  // read twice below: the chain ends here
      .node("Tanh", {"s"}, {"t"})
      .node("Neg", {"s"}, {"n"})       // alone: stays
      .node("Add", {"t", "n"}, {"u"})  // n has x's shape: Tanh -> Add is a second chain
      .node("Mul", {"u", "u"}, {"y"})  // u * u: not a step
      .output("y");
  Model model = b.build();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Mul"), 2);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "ElementwiseChain"), 2);  // Relu -> Exp -> Sigmoid, Tanh -> Add
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Tanh"), 0);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Neg"), 1);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Add"), 0);
  // A lone node and basic level: nothing.
  Model lone = silu();
  optimize_graph(*lone.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(pass_test::count_ops(*lone.graph, "ElementwiseChain"), 0);
}

}  // namespace
}  // namespace tessera

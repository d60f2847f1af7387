// gelu_fusion: the exported erf-GELU subgraph -> com.microsoft Gelu / BiasGelu, structure and numerics.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

Tensor scalar(float v) { return Tensor::scalar(DType::kFloat, v); }

// y = Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5), with x = Add(a, bias) when `with_bias`, and the 0.5 applied
// to x first when `half_first`.
Model gelu_model(bool with_bias, bool half_first) {
  GraphBuilder b(17);
  b.input("a", DType::kFloat, {2, 5, 8});
  b.initializer("sqrt2", scalar(1.4142135f)).initializer("one", scalar(1.0f)).initializer("half", scalar(0.5f));
  std::string x = "a";
  if (with_bias) {
    b.initializer("bias", random_floats({8}, 4));
    b.node("Add", {"a", "bias"}, {"x"});
    x = "x";
  }
  b.node("Div", {x, "sqrt2"}, {"d"}).node("Erf", {"d"}, {"e"}).node("Add", {"e", "one"}, {"p"});
  if (half_first) {
    b.node("Mul", {x, "half"}, {"h"}).node("Mul", {"h", "p"}, {"y"});
  } else {
    b.node("Mul", {x, "p"}, {"m"}).node("Mul", {"m", "half"}, {"y"});
  }
  return b.output("y").build();
}

TEST(GeluFusionTest, FusesBothOrders) {
  for (bool half_first : {false, true}) {
    Model model = gelu_model(false, half_first);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    ASSERT_EQ(model.graph->nodes.size(), 1u);
    EXPECT_EQ(model.graph->nodes[0]->domain, "com.microsoft");
    EXPECT_EQ(model.graph->nodes[0]->op_type, "Gelu");
    EXPECT_EQ(model.graph->nodes[0]->inputs, (std::vector<std::string>{"a"}));
    EXPECT_EQ(model.graph->nodes[0]->outputs, (std::vector<std::string>{"y"}));
  }
}

TEST(GeluFusionTest, TakesTheBiasAddIntoBiasGelu) {
  Model model = gelu_model(true, false);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  EXPECT_EQ(model.graph->nodes[0]->op_type, "BiasGelu");
  EXPECT_EQ(model.graph->nodes[0]->inputs, (std::vector<std::string>{"a", "bias"}));
}

TEST(GeluFusionTest, OutputsUnchanged) {
  const Tensor a = random_floats({2, 5, 8}, 5, 4.0f);
  for (bool with_bias : {false, true}) {
    for (bool half_first : {false, true}) {
      pass_test::expect_same_outputs([&] { return gelu_model(with_bias, half_first); }, {{"a", a}},
                                     OptimizationLevel::kExtended, 2e-6);
    }
  }
}

TEST(GeluFusionTest, WrongConstantOrSharedIntermediateIsLeftAlone) {
  // (elementwise_chain_fusion, which would take what gelu_fusion leaves, is off here.)
  const std::vector<std::string> no_chains = {"elementwise_chain_fusion"};
  // A constant that is not 1/2: no GELU.
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {4});
  b.initializer("sqrt2", scalar(1.4142135f)).initializer("one", scalar(1.0f)).initializer("third", scalar(0.33f));
  b.node("Div", {"x", "sqrt2"}, {"d"}).node("Erf", {"d"}, {"e"}).node("Add", {"e", "one"}, {"p"});
  b.node("Mul", {"x", "p"}, {"m"}).node("Mul", {"m", "third"}, {"y"});
  Model model = b.output("y").build();
  optimize_graph(*model.graph, OptimizationLevel::kAll, no_chains);
  EXPECT_EQ(model.graph->nodes.size(), 5u);
  // The Erf output is also a graph output: no fusion.
  Model shared = gelu_model(false, false);
  shared.graph->outputs.push_back(ValueInfo{"e", TypeInfo{}});
  optimize_graph(*shared.graph, OptimizationLevel::kAll, no_chains);
  EXPECT_EQ(shared.graph->nodes.size(), 5u);
}

// The tanh form: y = x * (Tanh(c * (x + 0.044715 * x^3)) + 1) * 0.5, x^3 as x * (x * x) or Pow(x, 3).
Model tanh_gelu_model(bool with_bias, bool use_pow) {
  GraphBuilder b(17);
  b.input("a", DType::kFloat, {2, 5, 8});
  b.initializer("c", scalar(0.7978846f)).initializer("k", scalar(0.044715f)).initializer("one", scalar(1.0f));
  b.initializer("half", scalar(0.5f)).initializer("three", scalar(3.0f));
  std::string x = "a";
  if (with_bias) {
    b.initializer("bias", random_floats({8}, 6));
    b.node("Add", {"bias", "a"}, {"x"});
    x = "x";
  }
  if (use_pow) {
    b.node("Pow", {x, "three"}, {"cube"});
  } else {
    b.node("Mul", {x, x}, {"sq"}).node("Mul", {x, "sq"}, {"cube"});
  }
  b.node("Mul", {"k", "cube"}, {"kc"}).node("Add", {x, "kc"}, {"inner"}).node("Mul", {"c", "inner"}, {"s"});
  b.node("Tanh", {"s"}, {"t"}).node("Add", {"one", "t"}, {"p"}).node("Mul", {x, "p"}, {"m"});
  b.node("Mul", {"half", "m"}, {"y"});
  return b.output("y").build();
}

TEST(GeluFusionTest, FusesTheTanhFormIntoFastGelu) {
  for (bool with_bias : {false, true}) {
    for (bool use_pow : {false, true}) {
      Model model = tanh_gelu_model(with_bias, use_pow);
      optimize_graph(*model.graph, OptimizationLevel::kExtended);
      ASSERT_EQ(model.graph->nodes.size(), 1u) << with_bias << use_pow;
      const Node& fused = *model.graph->nodes[0];
      EXPECT_EQ(fused.domain, "com.microsoft");
      EXPECT_EQ(fused.op_type, "FastGelu");
      EXPECT_EQ(fused.inputs, with_bias ? (std::vector<std::string>{"a", "bias"}) : (std::vector<std::string>{"a"}));
      pass_test::expect_same_outputs([&] { return tanh_gelu_model(with_bias, use_pow); },
                                     {{"a", random_floats({2, 5, 8}, 7, 4.0f)}}, OptimizationLevel::kExtended, 2e-6);
    }
  }
}

}  // namespace
}  // namespace tessera

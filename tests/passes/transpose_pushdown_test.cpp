// transpose_pushdown: Transposes move below elementwise ops, so NHWC-style Transpose pairs meet and cancel.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

size_t count_op(const Graph& graph, const std::string& op_type) {
  size_t n = 0;
  for (const auto& node : graph.nodes) n += node->op_type == op_type ? 1 : 0;
  return n;
}

const Node* find_op(const Graph& graph, const std::string& op_type) {
  for (const auto& node : graph.nodes) {
    if (node->op_type == op_type) return node.get();
  }
  return nullptr;
}

// x [2,3,4,5] (NCHW) -> Transpose (0,2,3,1) -> Relu -> Add(bias [C=3]) -> Transpose (0,3,1,2) -> y
Model nhwc_relu_add() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 3, 4, 5})
      .initializer("bias", Tensor::from_vector<float>(DType::kFloat, {0.5f, -1.0f, 2.0f}))
      .node("Transpose", {"x"}, {"nhwc"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("Relu", {"nhwc"}, {"r"})
      .node("Add", {"r", "bias"}, {"a"})
      .node("Transpose", {"a"}, {"y"})
      .attr_ints("perm", {0, 3, 1, 2})
      .output("y")
      .build();
}

TEST(TransposePushdownTest, NhwcChainCollapses) {
  Model model = nhwc_relu_add();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& g = *model.graph;
  EXPECT_EQ(count_op(g, "Transpose"), 0u);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0]->op_type, "Relu");
  EXPECT_EQ(g.nodes[0]->inputs[0], "x");
  const Node& add = *g.nodes[1];
  EXPECT_EQ(add.op_type, "Add");
  EXPECT_EQ(add.outputs[0], "y");
  const Tensor& bias = g.initializers.at(add.inputs[1]);
  EXPECT_EQ(bias.shape(), (std::vector<int64_t>{3, 1, 1}));
  EXPECT_EQ(bias.data<float>()[2], 2.0f);
}

TEST(TransposePushdownTest, NhwcChainOutputsUnchanged) {
  pass_test::expect_same_outputs(nhwc_relu_add, {{"x", random_floats({2, 3, 4, 5}, 1)}}, OptimizationLevel::kAll, 0);
}

// A rank-2 constant [W, C] broadcast against NHWC [N, H, W, C]: left-padded to [1, 1, W, C], then permuted to
// [1, C, 1, W] for NCHW, i.e. [C, 1, W].
Model nhwc_mul_rank2_constant() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 3, 4, 5})
      .initializer("scale", random_floats({5, 3}, 7))
      .node("Transpose", {"x"}, {"nhwc"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("Mul", {"nhwc", "scale"}, {"m"})
      .node("Sigmoid", {"m"}, {"s"})
      .node("Transpose", {"s"}, {"y"})
      .attr_ints("perm", {0, 3, 1, 2})
      .output("y")
      .build();
}

TEST(TransposePushdownTest, LowerRankConstantIsPaddedThenPermuted) {
  Model model = nhwc_mul_rank2_constant();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& g = *model.graph;
  EXPECT_EQ(count_op(g, "Transpose"), 0u);
  const Node* mul = find_op(g, "Mul");
  ASSERT_NE(mul, nullptr);
  EXPECT_EQ(g.initializers.at(mul->inputs[1]).shape(), (std::vector<int64_t>{3, 1, 5}));
  pass_test::expect_same_outputs(nhwc_mul_rank2_constant, {{"x", random_floats({2, 3, 4, 5}, 2)}},
                                 OptimizationLevel::kAll, 0);
}

// Both operands of a binary op transposed the same way; the result leaves the graph transposed.
Model both_inputs_transposed() {
  return GraphBuilder(17)
      .input("a", DType::kFloat, {2, 3, 4})
      .input("b", DType::kFloat, {2, 3, 4})
      .node("Transpose", {"a"}, {"ta"})
      .attr_ints("perm", {2, 0, 1})
      .node("Transpose", {"b"}, {"tb"})
      .attr_ints("perm", {2, 0, 1})
      .node("Sub", {"ta", "tb"}, {"d"})
      .node("Abs", {"d"}, {"y"})
      .output("y")
      .build();
}

TEST(TransposePushdownTest, BinaryWithBothInputsTransposed) {
  Model model = both_inputs_transposed();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& g = *model.graph;
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0]->op_type, "Sub");
  EXPECT_EQ(g.nodes[0]->inputs, (std::vector<std::string>{"a", "b"}));
  // One Transpose instead of two; it stays above the Abs, since below it would meet no other Transpose.
  EXPECT_EQ(g.nodes[1]->op_type, "Transpose");
  EXPECT_EQ(g.nodes[1]->attr_ints("perm"), (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(g.nodes[2]->op_type, "Abs");
  EXPECT_EQ(g.nodes[2]->outputs[0], "y");
  pass_test::expect_same_outputs(both_inputs_transposed,
                                 {{"a", random_floats({2, 3, 4}, 3)}, {"b", random_floats({2, 3, 4}, 4)}},
                                 OptimizationLevel::kAll, 0);
}

// Different perms on the two operands, or a plain (non-constant) operand: nothing moves.
TEST(TransposePushdownTest, MixedPermsAndPlainOperandsStay) {
  Model mixed = GraphBuilder(17)
                    .input("a", DType::kFloat, {2, 3, 4})
                    .input("b", DType::kFloat, {4, 3, 2})
                    .node("Transpose", {"a"}, {"ta"})
                    .attr_ints("perm", {2, 0, 1})
                    .node("Transpose", {"b"}, {"tb"})
                    .attr_ints("perm", {0, 2, 1})
                    .node("Add", {"ta", "tb"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*mixed.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(mixed.graph->nodes.back()->op_type, "Add");
  Model plain = GraphBuilder(17)
                    .input("a", DType::kFloat, {2, 3, 4})
                    .input("b", DType::kFloat, {4, 2, 3})
                    .node("Transpose", {"a"}, {"ta"})
                    .attr_ints("perm", {2, 0, 1})
                    .node("Add", {"ta", "b"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*plain.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(plain.graph->nodes.back()->op_type, "Add");
}

// The Transpose's output is also read by a second node: it stays where it is.
Model transpose_with_two_readers() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {2, 3, 4, 5})
      .node("Transpose", {"x"}, {"t"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("Relu", {"t"}, {"r"})
      .node("Neg", {"t"}, {"n"})
      .output("r")
      .output("n")
      .build();
}

TEST(TransposePushdownTest, TransposeWithTwoReadersStays) {
  Model model = transpose_with_two_readers();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& g = *model.graph;
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0]->op_type, "Transpose");
  EXPECT_EQ(g.nodes[1]->inputs[0], "t");
  EXPECT_EQ(g.nodes[2]->inputs[0], "t");
}

// A residual branch: the NHWC value r feeds both the Transpose into a (stand-in) NCHW op and the Add after it.
// The Transpose back to NCHW reads x directly; then the Add has r to itself and the pushdown goes on.
Model residual_branch() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {1, 3, 4, 5})
      .node("Transpose", {"x"}, {"r"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("Transpose", {"r"}, {"nchw"})
      .attr_ints("perm", {0, 3, 1, 2})
      .node("Sigmoid", {"nchw"}, {"s"})
      .node("Transpose", {"s"}, {"back"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("Add", {"r", "back"}, {"sum"})
      .node("Transpose", {"sum"}, {"y"})
      .attr_ints("perm", {0, 3, 1, 2})
      .output("y")
      .build();
}

TEST(TransposePushdownTest, SharedTransposeOfAResidualBranch) {
  Model model = residual_branch();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& g = *model.graph;
  EXPECT_EQ(count_op(g, "Transpose"), 0u);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[1]->op_type, "Add");
  pass_test::expect_same_outputs(residual_branch, {{"x", random_floats({1, 3, 4, 5}, 6)}}, OptimizationLevel::kAll, 0);
}

// Unary ops with attributes and a dtype change (LeakyRelu, Clip with constant bounds, Cast) and a Where with a
// transposed condition and a scalar: the pair meets across all of them.
Model mixed_chain() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {1, 4, 3, 2})
      .initializer("lo", Tensor::scalar<float>(DType::kFloat, -0.5f))
      .initializer("hi", Tensor::scalar<float>(DType::kFloat, 0.75f))
      .initializer("zero", Tensor::scalar<float>(DType::kFloat, 0.0f))
      .initializer("limit", Tensor::from_vector<float>(DType::kFloat, {0.1f, -0.1f, 0.2f, 0.0f}))
      .node("Transpose", {"x"}, {"t"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("LeakyRelu", {"t"}, {"l"})
      .attr_float("alpha", 0.3f)
      .node("Clip", {"l", "lo", "hi"}, {"c"})
      .node("Greater", {"c", "limit"}, {"g"})
      .node("Where", {"g", "hi", "zero"}, {"w"})
      .node("Cast", {"w"}, {"h"})
      .attr_int("to", static_cast<int64_t>(DType::kDouble))
      .node("Transpose", {"h"}, {"y"})
      .attr_ints("perm", {0, 3, 1, 2})
      .output("y")
      .build();
}

TEST(TransposePushdownTest, ChainWithAttributesCastAndWhere) {
  Model model = mixed_chain();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(count_op(*model.graph, "Transpose"), 0u);
  pass_test::expect_same_outputs(mixed_chain, {{"x", random_floats({1, 4, 3, 2}, 5)}}, OptimizationLevel::kAll, 0);
}

// Ops with an axis: Concat of two NHWC values, ReduceMax over W with keepdims, then over H and W without
// (NHWC global max pooling), an ArgMax: the axes move through the perm and no Transpose is left.
Model nhwc_axis_ops() {
  return GraphBuilder(13)
      .input("a", DType::kFloat, {2, 3, 4, 5})
      .input("b", DType::kFloat, {2, 6, 4, 5})
      .node("Transpose", {"a"}, {"ta"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("Transpose", {"b"}, {"tb"})
      .attr_ints("perm", {0, 2, 3, 1})
      .node("Concat", {"ta", "tb"}, {"cat"})
      .attr_int("axis", 3)
      .node("ReduceMax", {"cat"}, {"peak"})
      .attr_ints("axes", {2})
      .attr_int("keepdims", 1)
      .node("ReduceMax", {"peak"}, {"y"})
      .attr_ints("axes", {1, 2})
      .attr_int("keepdims", 0)
      .output("y")
      .build();
}

TEST(TransposePushdownTest, AxisOpsRemapTheirAxes) {
  Model model = nhwc_axis_ops();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& g = *model.graph;
  EXPECT_EQ(count_op(g, "Transpose"), 0u);
  EXPECT_EQ(find_op(g, "Concat")->attr_int("axis", 0), 1);
  EXPECT_EQ(g.nodes[1]->attr_ints("axes"), (std::vector<int64_t>{3}));
  EXPECT_EQ(g.nodes[2]->attr_ints("axes"), (std::vector<int64_t>{2, 3}));
  pass_test::expect_same_outputs(nhwc_axis_ops,
                                 {{"a", random_floats({2, 3, 4, 5}, 8)}, {"b", random_floats({2, 6, 4, 5}, 9)}},
                                 OptimizationLevel::kAll, 0);
}

// Softmax over a last axis that the perm keeps last moves; one over a moved axis stays, as does a ReduceMean
// (their kernels' summation order follows the layout).
Model softmax_and_mean(std::vector<int64_t> perm) {
  return GraphBuilder(13)
      .input("x", DType::kFloat, {2, 3, 33})
      .node("Transpose", {"x"}, {"t"})
      .attr_ints("perm", perm)
      .node("Softmax", {"t"}, {"s"})
      .attr_int("axis", -1)
      .node("Transpose", {"s"}, {"u"})
      .attr_ints("perm", perm)
      .node("ReduceMean", {"u"}, {"y"})
      .attr_ints("axes", {0})
      .output("y")
      .build();
}

TEST(TransposePushdownTest, SoftmaxOnlyOverAnUnmovedLastAxis) {
  Model kept_last = softmax_and_mean({1, 0, 2});
  optimize_graph(*kept_last.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(count_op(*kept_last.graph, "Transpose"), 0u);
  pass_test::expect_same_outputs(
      [] {
        return softmax_and_mean({1, 0, 2});
      },
      {{"x", random_floats({2, 3, 33}, 11)}}, OptimizationLevel::kAll, 0);
  Model moved = softmax_and_mean({0, 2, 1});
  optimize_graph(*moved.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(moved.graph->nodes[1]->op_type, "Softmax");
  EXPECT_EQ(moved.graph->nodes[1]->inputs[0], "t");
}

// A reduction without keepdims whose kept axes change order: the Transpose of the kept axes goes below it.
Model reduce_keeps_a_transpose() {
  return GraphBuilder(18)  // axes as a constant input
      .input("x", DType::kFloat, {2, 3, 4})
      .initializer("axes", Tensor::from_vector<int64_t>(DType::kInt64, {-2}))
      .node("Transpose", {"x"}, {"t"})
      .attr_ints("perm", {2, 1, 0})
      .node("ReduceMax", {"t", "axes"}, {"r"})
      .attr_int("keepdims", 0)
      .node("Transpose", {"r"}, {"y"})
      .attr_ints("perm", {1, 0})
      .output("y")
      .build();
}

TEST(TransposePushdownTest, ReductionWithoutKeepdimsKeepsTheRestOfThePerm) {
  Model model = reduce_keeps_a_transpose();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& g = *model.graph;
  // The kept axes' Transpose (1, 0) below the ReduceMax cancels the graph's own Transpose (1, 0).
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0]->op_type, "ReduceMax");
  EXPECT_EQ(g.initializers.at(g.nodes[0]->inputs[1]).data<int64_t>()[0], 1);
  pass_test::expect_same_outputs(reduce_keeps_a_transpose, {{"x", random_floats({2, 3, 4}, 10)}},
                                 OptimizationLevel::kAll, 0);
}

// A Transpose that would meet no other one below stays above the op: Transpose -> Div by a scalar -> MatMul (the
// scaled Q of nn.MultiheadAttention exports, which attention_fusion matches as it is).
TEST(TransposePushdownTest, StaysWhenItWouldMeetNoTranspose) {
  Model model = GraphBuilder(17)
                    .input("q", DType::kFloat, {3, 2, 4})
                    .input("k", DType::kFloat, {2, 4, 3})
                    .initializer("scale", Tensor::scalar<float>(DType::kFloat, 2.0f))
                    .node("Transpose", {"q"}, {"qt"})
                    .attr_ints("perm", {1, 0, 2})
                    .node("Div", {"qt", "scale"}, {"qs"})
                    .node("MatMul", {"qs", "k"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes[0]->op_type, "Transpose");
  EXPECT_EQ(model.graph->nodes[1]->op_type, "Div");
}

// Switched off by name: the Transposes stay.
TEST(TransposePushdownTest, DisabledByName) {
  Model model = nhwc_relu_add();
  optimize_graph(*model.graph, OptimizationLevel::kBasic, {"transpose_pushdown"});
  EXPECT_EQ(count_op(*model.graph, "Transpose"), 2u);
}

}  // namespace
}  // namespace tessera

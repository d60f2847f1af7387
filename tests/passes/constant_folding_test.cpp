// constant_folding: nodes whose inputs are all constants become initializers, computed by their own kernels;
// nondeterministic ops, graph outputs and outputs that would blow the model up stay nodes.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// y = x + Transpose(w) * 2   (w [4,3] constant; x [3,4] input)
Model transposed_weight() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {3, 4})
      .initializer("w", random_floats({4, 3}, 1))
      .initializer("two", Tensor::scalar(DType::kFloat, 2.0f))
      .node("Transpose", {"w"}, {"wt"})
      .node("Mul", {"wt", "two"}, {"wt2"})
      .node("Add", {"x", "wt2"}, {"y"})
      .output("y")
      .build();
}

TEST(ConstantFoldingTest, FoldsConstantChainsIntoInitializers) {
  Model model = transposed_weight();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& add = *model.graph->nodes[0];
  EXPECT_EQ(add.op_type, "Add");
  const Tensor& folded = model.graph->initializers.at(add.inputs[1]);
  EXPECT_EQ(folded.shape(), (std::vector<int64_t>{3, 4}));
  const Tensor w = random_floats({4, 3}, 1);
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(folded.data<float>()[r * 4 + c], 2.0f * w.data<float>()[c * 3 + r]);
  }
}

TEST(ConstantFoldingTest, OutputsUnchanged) {
  pass_test::expect_same_outputs(transposed_weight, {{"x", random_floats({3, 4}, 2)}}, OptimizationLevel::kBasic, 0);
}

TEST(ConstantFoldingTest, DoesNotBlowUpTheModel) {
  // Expand of one float to 1024 x 1024 (4 MiB from 4 bytes) stays a node.
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {1024, 1024})
                    .initializer("one", Tensor::scalar(DType::kFloat, 1.0f))
                    .initializer("shape", Tensor::from_vector<int64_t>(DType::kInt64, {1024, 1024}))
                    .node("Expand", {"one", "shape"}, {"big"})
                    .node("Add", {"x", "big"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes.size(), 2u);
}

TEST(ConstantFoldingTest, LeavesRandomOpsOverridableInputsAndGraphOutputs) {
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {4})
                    .input("c", DType::kFloat, {4})  // an initializer that is also an input may be fed
                    .initializer("c", random_floats({4}, 3))
                    .initializer("k", random_floats({4}, 4))
                    .node("RandomUniformLike", {"k"}, {"r"})
                    .node("Neg", {"c"}, {"nc"})
                    .node("Neg", {"k"}, {"nk"})
                    .node("Sum", {"x", "r", "nc"}, {"y"})
                    .output("y")
                    .output("nk")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes.size(), 4u);
}

}  // namespace
}  // namespace tessera

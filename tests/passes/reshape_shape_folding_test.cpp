// reshape_shape_folding: a Reshape target assembled from Shape(x) pieces becomes a constant with 0 for the
// dims it copies from x, so the whole Shape/Gather/Unsqueeze/Concat chain disappears even with symbolic dims.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// The split-heads reshape exporters write: x [batch, seq, 8] -> [batch, seq, 2, 4], batch and seq symbolic.
Model split_heads(const std::string& gathered_value) {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {-1, -1, 8}, {"batch", "seq", ""})
      .input("other", DType::kFloat, {-1, -1, 8}, {"batch", "seq", ""})
      .initializer("i0", Tensor::scalar(DType::kInt64, int64_t{0}))
      .initializer("i1", Tensor::scalar(DType::kInt64, int64_t{1}))
      .initializer("axes", Tensor::from_vector<int64_t>(DType::kInt64, {0}))
      .initializer("heads", Tensor::from_vector<int64_t>(DType::kInt64, {2, 4}))
      .node("Shape", {gathered_value}, {"s"})
      .node("Gather", {"s", "i0"}, {"d0"})
      .node("Gather", {"s", "i1"}, {"d1"})
      .node("Unsqueeze", {"d0", "axes"}, {"u0"})
      .node("Unsqueeze", {"d1", "axes"}, {"u1"})
      .node("Concat", {"u0", "u1", "heads"}, {"shape"})
      .attr_int("axis", 0)
      .node("Reshape", {"x", "shape"}, {"r"})
      .node("Add", {"r", "r"}, {"y"})
      .node("Identity", {"other"}, {"o"})
      .output("y")
      .output("o")
      .build();
}

TEST(ReshapeShapeFoldingTest, CopiedDimsBecomeZeros) {
  Model model = split_heads("x");
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 3u);  // Reshape, Add and the Identity between input and output
  const Node* found = nullptr;
  for (const auto& n : model.graph->nodes) if (n->op_type == "Reshape") found = n.get();
  ASSERT_NE(found, nullptr);
  const Node& reshape = *found;
  const Tensor& shape = model.graph->initializers.at(reshape.inputs[1]);
  EXPECT_EQ(std::vector<int64_t>(shape.data<int64_t>(), shape.data<int64_t>() + 4), (std::vector<int64_t>{0, 0, 2, 4}));
}

TEST(ReshapeShapeFoldingTest, DimsOfAnotherValueStayUnlessStatic) {
  // Shape(other) with symbolic dims cannot be proven equal to x's: nothing folds.
  Model model = split_heads("other");
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes.size(), 9u);
}

TEST(ReshapeShapeFoldingTest, OutputsUnchanged) {
  const Tensor x = random_floats({3, 5, 8}, 1);
  pass_test::expect_same_outputs([] { return split_heads("x"); }, {{"x", x}, {"other", x}}, OptimizationLevel::kBasic, 0);
}

}  // namespace
}  // namespace tessera

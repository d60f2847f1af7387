// shape_folding: Shape and Gather(Shape) become constants where inference knows the dims; symbolic dims stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// x [batch, 6, 8]; y = x reshaped to [Shape(x)[0], Shape(x)[1] * 8] through Gather/Mul/Unsqueeze/Concat.
Model flatten_last_two() {
  return GraphBuilder(17)
      .input("x", DType::kFloat, {-1, 6, 8}, {"batch", "", ""})
      .initializer("i0", Tensor::scalar(DType::kInt64, int64_t{0}))
      .initializer("i1", Tensor::scalar(DType::kInt64, int64_t{1}))
      .initializer("eight", Tensor::scalar(DType::kInt64, int64_t{8}))
      .initializer("axes", Tensor::from_vector<int64_t>(DType::kInt64, {0}))
      .node("Shape", {"x"}, {"s"})
      .node("Gather", {"s", "i0"}, {"d0"})
      .node("Gather", {"s", "i1"}, {"d1"})
      .node("Mul", {"d1", "eight"}, {"d1x8"})
      .node("Unsqueeze", {"d0", "axes"}, {"u0"})
      .node("Unsqueeze", {"d1x8", "axes"}, {"u1"})
      .node("Concat", {"u0", "u1"}, {"shape"})
      .attr_int("axis", 0)
      .node("Reshape", {"x", "shape"}, {"y"})
      .output("y")
      .build();
}

TEST(ShapeFoldingTest, FoldsStaticDimsAndKeepsSymbolicOnes) {
  Model model = flatten_last_two();
  // Only this pass, constant folding and dead-code elimination: the static half of the shape folds away.
  optimize_graph(*model.graph, OptimizationLevel::kBasic, {"reshape_shape_folding"});
  std::vector<std::string> ops;
  for (const auto& n : model.graph->nodes) ops.push_back(n->op_type);
  // Shape(x)[0] is `batch`: its chain stays; Shape(x)[1] * 8 = 48 folded into a constant.
  EXPECT_EQ(ops, (std::vector<std::string>{"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"}));
  const Node& concat = *model.graph->nodes[3];
  const Tensor& folded = model.graph->initializers.at(concat.inputs[1]);
  ASSERT_EQ(folded.element_count(), 1);
  EXPECT_EQ(folded.data<int64_t>()[0], 48);
}

TEST(ShapeFoldingTest, FoldsAWhollyStaticShape) {
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {2, 3})
                    .node("Shape", {"x"}, {"s"})
                    .attr_int("start", -1)
                    .node("Cast", {"s"}, {"sf"})
                    .attr_int("to", static_cast<int64_t>(DType::kFloat))
                    .node("Mul", {"x", "sf"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Tensor& sf = model.graph->initializers.at(model.graph->nodes[0]->inputs[1]);
  ASSERT_EQ(sf.element_count(), 1);
  EXPECT_EQ(sf.data<float>()[0], 3.0f);
}

TEST(ShapeFoldingTest, OutputsUnchanged) {
  pass_test::expect_same_outputs(flatten_last_two, {{"x", random_floats({5, 6, 8}, 1)}}, OptimizationLevel::kBasic, 0);
}

}  // namespace
}  // namespace tessera

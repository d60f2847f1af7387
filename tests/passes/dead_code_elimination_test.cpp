#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "runtime/session.h"

namespace tessera {
namespace {

Model graph_with_dead_branch() {
  return GraphBuilder(13)
      .input("x", DType::kFloat, {4})
      .node("Relu", {"x"}, {"y"})
      .node("Neg", {"x"}, {"unused"})
      .node("Abs", {"unused"}, {"also_unused"})
      .output("y")
      .build();
}

TEST(DeadCodeEliminationTest, RemovesNodesThatReachNoOutput) {
  Model model = graph_with_dead_branch();
  const auto reports = optimize_graph(*model.graph, OptimizationLevel::kBasic, {"identity_elimination"});
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  EXPECT_EQ(model.graph->nodes[0]->op_type, "Relu");
  bool reported = false;
  for (const PassReport& r : reports) reported |= r.pass == "dead_code_elimination" && r.changed && r.nodes_before == 3;
  EXPECT_TRUE(reported);
}

TEST(DeadCodeEliminationTest, RemovesUnreadInitializersButNotOverridableOnes) {
  Model model = GraphBuilder(13)
                    .input("x", DType::kFloat, {4})
                    .input("fed", DType::kFloat, {4})
                    .initializer("fed", Tensor::from_vector(DType::kFloat, std::vector<float>{1, 2, 3, 4}))
                    .initializer("dead", Tensor::from_vector(DType::kFloat, std::vector<float>{1, 2, 3, 4}))
                    .initializer("used", Tensor::from_vector(DType::kFloat, std::vector<float>{1, 2, 3, 4}))
                    .node("Add", {"x", "used"}, {"y"})
                    .node("Mul", {"x", "dead"}, {"unused"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->initializers.count("dead"), 0u);
  EXPECT_EQ(model.graph->initializers.count("used"), 1u);
  EXPECT_EQ(model.graph->initializers.count("fed"), 1u);
}

TEST(DeadCodeEliminationTest, DisabledLevelLeavesGraphAlone) {
  Model model = graph_with_dead_branch();
  EXPECT_TRUE(optimize_graph(*model.graph, OptimizationLevel::kDisabled).empty());
  EXPECT_EQ(model.graph->nodes.size(), 3u);
}

TEST(DeadCodeEliminationTest, OutputsUnchangedOnRandomInputs) {
  Tensor x = Tensor::from_vector<float>(DType::kFloat, {-1.5f, 0.0f, 2.25f, -0.125f});
  SessionOptions off;
  off.optimization_level = OptimizationLevel::kDisabled;
  Session plain(graph_with_dead_branch(), off);
  Session optimized(graph_with_dead_branch());
  const Tensor a = plain.run({{"x", x}})[0].tensor();
  const Tensor b = optimized.run({{"x", x}})[0].tensor();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
}

}  // namespace
}  // namespace tessera

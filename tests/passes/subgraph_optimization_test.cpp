// optimize_graph on subgraphs: If branches are optimized with the same passes as the main graph (an Identity
// removed, a constant chain folded), and the model's outputs stay the same for both branches.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// y = If(cond): then -> Neg(Identity(x)) * Transpose(c)^T-folded constant; else -> Abs(x).
Model branching() {
  Model model = GraphBuilder(17)
                    .input("cond", DType::kBool, {})
                    .input("x", DType::kFloat, {2, 3})
                    .node("If", {"cond"}, {"y"})
                    .output("y", DType::kFloat)
                    .build();
  Graph& main = *model.graph;
  Node& if_node = *main.nodes[0];
  auto then_graph = std::make_shared<Graph>();
  then_graph->parent = &main;
  then_graph->initializers["c"] = random_floats({3, 2}, 1);
  then_graph->add_node("Identity", {"x"}, {"xi"}, "identity");
  then_graph->add_node("Neg", {"xi"}, {"n"}, "neg");
  then_graph->add_node("Transpose", {"c"}, {"ct"}, "transpose_constant");
  then_graph->add_node("Mul", {"n", "ct"}, {"then_out"}, "mul");
  then_graph->outputs.push_back({"then_out", {}});
  auto else_graph = std::make_shared<Graph>();
  else_graph->parent = &main;
  else_graph->add_node("Abs", {"x"}, {"else_out"}, "abs");
  else_graph->outputs.push_back({"else_out", {}});
  for (auto [key, g] : {std::pair{"then_branch", then_graph}, std::pair{"else_branch", else_graph}}) {
    for (auto& n : g->nodes) n->opset = 17;
    g->sort_topologically();
    Attribute a;
    a.name = key;
    a.type = Attribute::Type::kGraph;
    a.g = g;
    if_node.attributes[key] = a;
  }
  return model;
}

TEST(SubgraphOptimizationTest, BranchesAreOptimized) {
  Model model = branching();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  const Graph& then_graph = *model.graph->nodes[0]->attr_graph("then_branch");
  std::vector<std::string> ops;
  for (const auto& n : then_graph.nodes) ops.push_back(n->op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Neg", "Mul"}));  // Identity gone, Transpose folded
  EXPECT_EQ(then_graph.initializers.count("c"), 0u);         // the folded-away original is dropped
}

TEST(SubgraphOptimizationTest, OutputsUnchanged) {
  const Tensor x = random_floats({2, 3}, 2);
  for (bool cond : {true, false}) {
    pass_test::expect_same_outputs(branching, {{"cond", Tensor::scalar(DType::kBool, cond)}, {"x", x}},
                                   OptimizationLevel::kAll, 0);
  }
}

}  // namespace
}  // namespace tessera

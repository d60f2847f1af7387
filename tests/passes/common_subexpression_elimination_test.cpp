// common_subexpression_elimination: duplicate computations merge (cascading through their readers); different
// attributes, random ops and graph outputs keep their nodes.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "pass_test_util.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// a = Relu(x); b = Relu(x) (duplicate); c = Exp(a); d = Exp(b) (duplicate once b is a); y = c + d
// e = LeakyRelu(x, 0.1); f = LeakyRelu(x, 0.2) (different attribute); z = e + f
Model duplicates() {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, {2, 5});
  b.node("Relu", {"x"}, {"a"}).node("Relu", {"x"}, {"b"});
  b.node("Exp", {"a"}, {"c"}).node("Exp", {"b"}, {"d"});
  b.node("Add", {"c", "d"}, {"y"});
  b.node("LeakyRelu", {"x"}, {"e"}).attr_float("alpha", 0.1f);
  b.node("LeakyRelu", {"x"}, {"f"}).attr_float("alpha", 0.2f);
  b.node("Add", {"e", "f"}, {"z"});
  return b.output("y").output("z").build();
}

TEST(CommonSubexpressionEliminationTest, MergesDuplicatesInCascade) {
  Model model = duplicates();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  std::map<std::string, int> ops;
  for (const auto& n : model.graph->nodes) ++ops[n->op_type];
  EXPECT_EQ(ops["Relu"], 1);
  EXPECT_EQ(ops["Exp"], 1);
  EXPECT_EQ(ops["LeakyRelu"], 2);  // different alpha
}

TEST(CommonSubexpressionEliminationTest, KeepsRandomOpsAndGraphOutputs) {
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat, {3})
                    .node("RandomUniformLike", {"x"}, {"r1"})
                    .node("RandomUniformLike", {"x"}, {"r2"})
                    .node("Neg", {"x"}, {"n1"})
                    .node("Neg", {"x"}, {"n2"})
                    .output("r1")
                    .output("r2")
                    .output("n1")
                    .output("n2")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(model.graph->nodes.size(), 4u);
}

TEST(CommonSubexpressionEliminationTest, OutputsUnchanged) {
  pass_test::expect_same_outputs(duplicates, {{"x", random_floats({2, 5}, 1)}}, OptimizationLevel::kBasic, 0);
}

}  // namespace
}  // namespace tessera

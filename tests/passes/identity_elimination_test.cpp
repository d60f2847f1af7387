#include <gtest/gtest.h>

#include "base/error.h"
#include "ir/graph_builder.h"
#include "passes/pass.h"
#include "runtime/session.h"

namespace tessera {
namespace {

Model chain_with_identities() {
  return GraphBuilder(13)
      .input("x", DType::kFloat, {2, 3})
      .node("Identity", {"x"}, {"a"})
      .node("Relu", {"a"}, {"b"})
      .node("Identity", {"b"}, {"c"})
      .node("Identity", {"c"}, {"y"})
      .output("y")
      .build();
}

TEST(IdentityEliminationTest, RemovesInnerIdentitiesAndKeepsOutputNames) {
  Model model = chain_with_identities();
  const auto reports = optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_FALSE(reports.empty());
  // Identity x->a and b->c go; the one producing the graph output y goes too, Relu writing y itself.
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  EXPECT_EQ(model.graph->nodes[0]->op_type, "Relu");
  EXPECT_EQ(model.graph->nodes[0]->inputs[0], "x");
  EXPECT_EQ(model.graph->nodes[0]->outputs[0], "y");
}

TEST(IdentityEliminationTest, OutputIdentityOfASharedValueStays) {
  // b is read by Neg too: the Identity keeps the graph output name y.
  Model model = GraphBuilder(13)
                    .input("x", DType::kFloat, {2, 3})
                    .node("Relu", {"x"}, {"b"})
                    .node("Identity", {"b"}, {"y"})
                    .node("Neg", {"b"}, {"z"})
                    .output("y")
                    .output("z")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  ASSERT_EQ(model.graph->nodes.size(), 3u);
  EXPECT_EQ(model.graph->nodes[1]->op_type, "Identity");
}

TEST(IdentityEliminationTest, CanBeSwitchedOffByName) {
  Model model = chain_with_identities();
  optimize_graph(*model.graph, OptimizationLevel::kAll, {"identity_elimination"});
  EXPECT_EQ(model.graph->nodes.size(), 4u);
  EXPECT_THROW(optimize_graph(*model.graph, OptimizationLevel::kAll, {"no_such_pass"}), Error);
}

TEST(IdentityEliminationTest, OutputsUnchangedOnRandomInputs) {
  Tensor x(DType::kFloat, {2, 3});
  for (int i = 0; i < 6; ++i) x.data<float>()[i] = static_cast<float>(i) * 0.7f - 2.0f;
  SessionOptions off;
  off.optimization_level = OptimizationLevel::kDisabled;
  Session plain(chain_with_identities(), off);
  Session optimized(chain_with_identities());
  const Tensor a = plain.run({{"x", x}})[0].tensor();
  const Tensor b = optimized.run({{"x", x}})[0].tensor();
  ASSERT_EQ(a.shape(), b.shape());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
}

}  // namespace
}  // namespace tessera

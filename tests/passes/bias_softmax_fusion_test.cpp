// bias_softmax_fusion: Softmax(Add(x, mask)) over the last axis -> com.microsoft BiasSoftmax when the mask
// broadcasts whole rows over leading (padding mask) or trailing (causal mask) dims; bit-identical outputs; masks
// BiasSoftmax cannot index, other axes and shared sums stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

const std::vector<int64_t> kScores{2, 3, 4, 5};

// y = Softmax(Add(x [2, 3, 4, 5], mask), axis); with `mask_first`, Add(mask, x); with `sum_output`, the sum is also
// a graph output.
Model masked_softmax(const std::vector<int64_t>& mask_shape, int64_t axis = -1, bool mask_first = false,
                     bool sum_output = false) {
  GraphBuilder b(17);
  b.input("x", DType::kFloat, kScores);
  b.input("mask", DType::kFloat, mask_shape);
  if (mask_first)
    b.node("Add", {"mask", "x"}, {"sum"});
  else
    b.node("Add", {"x", "mask"}, {"sum"});
  b.node("Softmax", {"sum"}, {"y"}).attr_int("axis", axis);
  b.output("y");
  if (sum_output) b.output("sum");
  return b.build();
}

const Node* only_node(const Model& model) {
  return model.graph->nodes.size() == 1 ? model.graph->nodes[0].get() : nullptr;
}

TEST(BiasSoftmaxFusionTest, PaddingAndCausalMasksBecomeBiasSoftmax) {
  struct Case {
    std::vector<int64_t> mask;
    bool mask_first;
    int64_t inner;
  };
  for (const Case& c : {Case{{2, 1, 1, 5}, false, 1}, Case{{1, 1, 4, 5}, true, 0}, Case{{4, 5}, false, 0},
                        Case{{5}, false, 1}, Case{{2, 3, 1, 5}, true, 1}, Case{{2, 3, 4, 5}, false, 1}}) {
    Model model = masked_softmax(c.mask, -1, c.mask_first);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    const Node* fused = only_node(model);
    ASSERT_NE(fused, nullptr) << c.mask.size();
    EXPECT_EQ(fused->domain, kMicrosoftDomain);
    EXPECT_EQ(fused->op_type, "BiasSoftmax");
    EXPECT_EQ(fused->inputs, (std::vector<std::string>{"x", "mask"}));
    EXPECT_EQ(fused->attr_int("axis", 0), 3);
    EXPECT_EQ(fused->attr_int("is_inner_broadcast", -1), c.inner);
    const auto feeds = std::vector<std::pair<std::string, RuntimeValue>>{{"x", random_floats(kScores, 1, 4.0f)},
                                                                         {"mask", random_floats(c.mask, 2, 4.0f)}};
    pass_test::expect_same_outputs([&] { return masked_softmax(c.mask, -1, c.mask_first); }, feeds,
                                   OptimizationLevel::kExtended, 0.0);
  }
}

TEST(BiasSoftmaxFusionTest, LeavesWhatBiasSoftmaxCannotIndex) {
  auto kept = [](Model model) {
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    for (const auto& n : model.graph->nodes) {
      if (n->op_type == "BiasSoftmax") return false;
    }
    return true;
  };
  EXPECT_TRUE(kept(masked_softmax({1, 3, 1, 5})));                   // broadcast in the middle
  EXPECT_TRUE(kept(masked_softmax({2, 1, 1, 1})));                   // not whole rows
  EXPECT_TRUE(kept(masked_softmax({2, 1, 1, 5}, 2)));                // softmax over another axis
  EXPECT_TRUE(kept(masked_softmax({2, 1, 1, 5}, -1, false, true)));  // the sum is read elsewhere
}

}  // namespace
}  // namespace tessera

// nhwc_layout: chains of pointwise and depthwise convolutions on small planes -> com.tessera NhwcConv
// (channels-last), with NCHW kept at the chain's edges by the edge convolutions themselves where they can and by
// Transposes elsewhere; outputs equal to the unoptimized graph's within float rounding.
#include <gtest/gtest.h>

#include <algorithm>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

struct Block {
  int64_t channels = 8, size = 7, expand = 4, stride = 1, batch = 1, dilation = 1;
  bool residual = true;      // project + Add(x) (stride 1 only)
  bool side_output = false;  // the depthwise output is also a graph output
  bool expand_conv = true;   // false: x feeds the depthwise convolution directly
};

// x [N,C,S,S] -> 1x1 expand + Clip(0,6) -> 3x3 depthwise (stride, dilation) + Clip -> 1x1 project [+ x]
//   -> GlobalAveragePool -> y
Model inverted_residual(const Block& s) {
  GraphBuilder b(17);
  const int64_t c = s.channels, e = s.expand_conv ? s.channels * s.expand : s.channels;
  b.input("x", DType::kFloat, {s.batch, c, s.size, s.size});
  b.initializer("w1", random_floats({e, c, 1, 1}, 1, 0.4f));
  b.initializer("b1", random_floats({e}, 2));
  b.initializer("w2", random_floats({e, 1, 3, 3}, 3, 0.4f));
  b.initializer("b2", random_floats({e}, 4));
  b.initializer("w3", random_floats({c, e, 1, 1}, 5, 0.3f));
  b.initializer("b3", random_floats({c}, 6));
  b.initializer("lo", Tensor::scalar(DType::kFloat, 0.0f));
  b.initializer("hi", Tensor::scalar(DType::kFloat, 6.0f));
  if (s.expand_conv) {
    b.node("Conv", {"x", "w1", "b1"}, {"c1"});
    b.node("Clip", {"c1", "lo", "hi"}, {"a1"});
  } else {
    b.node("Identity", {"x"}, {"a1"});
  }
  const int64_t pad = s.dilation;
  b.node("Conv", {"a1", "w2", "b2"}, {"c2"})
      .attr_int("group", e)
      .attr_ints("pads", {pad, pad, pad, pad})
      .attr_ints("strides", {s.stride, s.stride})
      .attr_ints("dilations", {s.dilation, s.dilation});
  b.node("Clip", {"c2", "lo", "hi"}, {"a2"});
  b.node("Conv", {"a2", "w3", "b3"}, {"c3"});
  std::string last = "c3";
  if (s.residual && s.stride == 1) {
    b.node("Add", {"c3", "x"}, {"sum"});
    last = "sum";
  }
  b.node("GlobalAveragePool", {last}, {"y"});
  b.output("y");
  if (s.side_output) b.output("a2");
  return b.build();
}

const Node* find_node(const Graph& graph, const std::string& output) {
  for (const auto& n : graph.nodes) {
    if (!n->outputs.empty() && n->outputs[0] == output) return n.get();
  }
  return nullptr;
}

TEST(NhwcLayoutTest, InvertedResidualRunsChannelsLastWithTheEdgesInTheConvolutionsAndThePooling) {
  Block s;
  s.residual = false;
  Model model = inverted_residual(s);
  optimize_graph(*model.graph, OptimizationLevel::kAll);
  const Graph& g = *model.graph;
  EXPECT_EQ(pass_test::count_ops(g, "NhwcConv"), 3);
  // The expand reads NCHW; the project writes channels-last, read so by the pooling.
  EXPECT_EQ(pass_test::count_ops(g, "Transpose"), 0);
  EXPECT_EQ(pass_test::count_ops(g, "GlobalAveragePool"), 0);
  const Node* pool = find_node(g, "y");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->domain, kTesseraDomain);
  EXPECT_EQ(pool->op_type, "NhwcGlobalAveragePool");
  const Node* project = find_node(g, pool->inputs[0]);
  ASSERT_NE(project, nullptr);
  EXPECT_EQ(project->op_type, "NhwcConv");
  EXPECT_EQ(project->attr_int("nchw_output", 0), 0);
  for (const auto& n : g.nodes) {
    if (n->op_type != "NhwcConv") continue;
    const bool first = n->inputs[0] == "x";
    EXPECT_EQ(n->attr_int("nchw_input", 0), first ? 1 : 0) << n->name;
  }
}

TEST(NhwcLayoutTest, TheResidualSumReadsTheChainInputInPlace) {
  Block s;  // x is read by the expand (X) and by the project's sum Z; the project writes NCHW, so Z stays NCHW
  Model model = inverted_residual(s);
  optimize_graph(*model.graph, OptimizationLevel::kAll);
  const Graph& g = *model.graph;
  EXPECT_EQ(pass_test::count_ops(g, "NhwcConv"), 3);
  EXPECT_EQ(pass_test::count_ops(g, "Transpose"), 0);
  const Node* project = find_node(g, "sum");
  ASSERT_NE(project, nullptr);
  ASSERT_EQ(project->inputs.size(), 4u);
  EXPECT_EQ(project->inputs[3], "x");
  EXPECT_EQ(project->attr_int("nchw_output", 0), 1);
}

TEST(NhwcLayoutTest, AValueEnteringADepthwiseConvolutionGoesThroughOneTranspose) {
  Block s;  // x -> depthwise -> project (+ x): the depthwise convolution reads channels-last only
  s.expand_conv = false;
  Model model = inverted_residual(s);
  optimize_graph(*model.graph, OptimizationLevel::kAll);
  const Graph& g = *model.graph;
  EXPECT_EQ(pass_test::count_ops(g, "NhwcConv"), 2);
  ASSERT_EQ(pass_test::count_ops(g, "Transpose"),
            1);  // x to NHWC; the project still reads x as its NCHW sum and writes NCHW
  for (const auto& n : g.nodes) {
    if (n->op_type == "Transpose" && n->inputs[0] == "x") {
      EXPECT_EQ(n->attr_ints("perm"), (std::vector<int64_t>{0, 2, 3, 1}));
    }
  }
}

TEST(NhwcLayoutTest, AValueAlsoReadOutsideTheChainLeavesThroughATranspose) {
  Block s;
  s.residual = false;
  s.side_output = true;
  Model model = inverted_residual(s);
  optimize_graph(*model.graph, OptimizationLevel::kAll);
  const Graph& g = *model.graph;
  const Node* back = find_node(g, "a2");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->op_type, "Transpose");
  EXPECT_EQ(back->attr_ints("perm"), (std::vector<int64_t>{0, 3, 1, 2}));
}

TEST(NhwcLayoutTest, OutputsUnchangedOnEveryChainShape) {
  std::vector<Block> shapes;
  for (bool residual : {true, false}) {
    for (int64_t stride : {1, 2}) {
      Block s;
      s.residual = residual;
      s.stride = stride;
      shapes.push_back(s);
    }
  }
  Block odd;  // channels off the vector width, batch 2, dilation 2, a side output
  odd.channels = 5;
  odd.expand = 3;
  odd.size = 9;
  odd.batch = 2;
  odd.dilation = 2;
  odd.side_output = true;
  shapes.push_back(odd);
  Block direct;  // x straight into the depthwise convolution
  direct.expand_conv = false;
  direct.channels = 20;
  shapes.push_back(direct);
  Block pooled;  // the project read only by the pooling (channels-last), batch 3, channels off the vector width
  pooled.residual = false;
  pooled.batch = 3;
  pooled.channels = 6;
  pooled.expand = 5;
  pooled.size = 5;
  shapes.push_back(pooled);
  Block wide;
  wide.channels = 24;
  wide.size = 14;
  wide.stride = 2;
  shapes.push_back(wide);
  for (const Block& s : shapes) {
    const auto feeds = std::vector<std::pair<std::string, RuntimeValue>>{
        {"x", random_floats({s.batch, s.channels, s.size, s.size}, 7)}};
    pass_test::expect_same_outputs([&] { return inverted_residual(s); }, feeds, OptimizationLevel::kAll, 1e-5);
  }
}

TEST(NhwcLayoutTest, LeavesLargePlanesPointwiseOnlyChainsAndLowerLevels) {
  Block large;
  large.size = 40;  // 1600 positions per channel
  Model big = inverted_residual(large);
  optimize_graph(*big.graph, OptimizationLevel::kAll);
  EXPECT_EQ(pass_test::count_ops(*big.graph, "NhwcConv"), 0);

  Model extended = inverted_residual(Block{});
  optimize_graph(*extended.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*extended.graph, "NhwcConv"), 0);

  GraphBuilder b(17);  // two pointwise convolutions, no depthwise one
  b.input("x", DType::kFloat, {1, 8, 7, 7});
  b.initializer("w1", random_floats({16, 8, 1, 1}, 1));
  b.initializer("w2", random_floats({8, 16, 1, 1}, 2));
  b.node("Conv", {"x", "w1"}, {"c1"});
  b.node("Conv", {"c1", "w2"}, {"y"});
  Model pointwise = b.output("y").build();
  optimize_graph(*pointwise.graph, OptimizationLevel::kAll);
  EXPECT_EQ(pass_test::count_ops(*pointwise.graph, "NhwcConv"), 0);
}

TEST(NhwcLayoutTest, IsSwitchedOffByName) {
  Model model = inverted_residual(Block{});
  optimize_graph(*model.graph, OptimizationLevel::kAll, {"nhwc_layout"});
  EXPECT_EQ(pass_test::count_ops(*model.graph, "NhwcConv"), 0);
}

}  // namespace
}  // namespace tessera

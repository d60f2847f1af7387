// scan_cdist_fusion: skl2onnx's pairwise-distance Scan (state X passed through, each step's output
// ReduceSumSquare(X - row, axes = [1], keepdims = 0)) becomes com.microsoft CDist with the same outputs, in its
// opset 17 form (axes attribute), its opset 18 form (axes input) and after identity_elimination has run on the body;
// Scans that differ from the pattern stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::count_ops;
using pass_test::random_floats;

struct ScanShape {
  int64_t opset = 17;
  bool output_identity = true;  // scan_out = Identity(ReduceSumSquare(...)), as skl2onnx writes it
  bool state_read = false;      // the final state is a graph output too
  int64_t axis = 1;
  const char* reduce = "ReduceSumSquare";
  bool tail = false;  // then Transpose and Sqrt, as KNeighborsClassifier's graph: z [N, M]
};

// y [M, N] = Scan(x [N, 4], t [M, 4]) of the distance body.
Model distance_scan(const ScanShape& s) {
  GraphBuilder builder(s.opset);
  builder.input("x", DType::kFloat, {-1, 4}).initializer("t", random_floats({23, 4}, 1));
  builder.node("Scan", {"x", "t"}, {"state", "y"}).attr_int("num_scan_inputs", 1);
  if (s.tail) {
    builder.node("Transpose", {"y"}, {"yt"}).attr_ints("perm", {1, 0});
    builder.node("Sqrt", {"yt"}, {"z"});
    builder.output("z", DType::kFloat);
  } else {
    builder.output("y", DType::kFloat);
  }
  if (s.state_read) builder.output("state", DType::kFloat);
  Model model = builder.build();
  Graph& main = *model.graph;
  auto body = std::make_shared<Graph>();
  body->parent = &main;
  body->inputs.push_back({"next_in", TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim{}, Dim::known(4)})});
  body->inputs.push_back({"next", TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim{}})});
  body->add_node("Identity", {"next_in"}, {"next_out"}, "id_state");
  body->add_node("Sub", {"next_in", "next"}, {"diff"}, "sub");
  const std::string reduced = s.output_identity ? "reduced" : "scan_out";
  Node& reduce = s.opset >= 18 ? body->add_node(s.reduce, {"diff", "axes"}, {reduced}, "reduce")
                               : body->add_node(s.reduce, {"diff"}, {reduced}, "reduce");
  if (s.opset >= 18) {
    Tensor axes(DType::kInt64, {1});
    axes.data<int64_t>()[0] = s.axis;
    body->initializers["axes"] = axes;
  } else {
    reduce.attributes["axes"].name = "axes";
    reduce.attributes["axes"].type = Attribute::Type::kInts;
    reduce.attributes["axes"].ints = {s.axis};
  }
  reduce.set_attr_int("keepdims", 0);
  if (s.output_identity) body->add_node("Identity", {reduced}, {"scan_out"}, "id_out");
  body->outputs.push_back({"next_out", TypeInfo::tensor(DType::kFloat)});
  body->outputs.push_back({"scan_out", TypeInfo::tensor(DType::kFloat)});
  for (auto& n : body->nodes) n->opset = s.opset;
  body->sort_topologically();
  Attribute a;
  a.name = "body";
  a.type = Attribute::Type::kGraph;
  a.g = body;
  main.nodes[0]->attributes["body"] = a;
  return model;
}

TEST(ScanCdistFusionTest, BecomesCDistWithTheSameOutputs) {
  const Tensor x = random_floats({5, 4}, 2);
  for (int64_t opset : {17, 18}) {
    for (bool output_identity : {true, false}) {
      for (bool state_read : {false, true}) {
        const ScanShape shape{opset, output_identity, state_read};
        Model model = distance_scan(shape);
        optimize_graph(*model.graph, OptimizationLevel::kExtended);
        EXPECT_EQ(count_ops(*model.graph, "Scan"), 0) << "opset " << opset;
        EXPECT_EQ(count_ops(*model.graph, "CDist"), 1) << "opset " << opset;
        pass_test::expect_same_outputs([&] { return distance_scan(shape); }, {{"x", x}}, OptimizationLevel::kExtended,
                                       1e-5);
      }
    }
  }
}

TEST(ScanCdistFusionTest, TakesTheTransposeAndSqrtAfter) {
  ScanShape shape;
  shape.tail = true;
  Model model = distance_scan(shape);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  ASSERT_EQ(model.graph->nodes.size(), 1u);
  const Node& cdist = *model.graph->nodes[0];
  EXPECT_EQ(cdist.op_type, "CDist");
  EXPECT_EQ(cdist.attr_string("metric", ""), "euclidean");
  EXPECT_EQ(cdist.inputs, (std::vector<std::string>{"x", "t"}));
  pass_test::expect_same_outputs([&] { return distance_scan(shape); }, {{"x", random_floats({6, 4}, 3)}},
                                 OptimizationLevel::kExtended, 1e-5);
}

TEST(ScanCdistFusionTest, LeavesOtherScans) {
  for (const ScanShape& shape :
       {ScanShape{17, true, false, 0}, ScanShape{18, true, false, 0}, ScanShape{17, true, false, 1, "ReduceMax"}}) {
    Model model = distance_scan(shape);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    EXPECT_EQ(count_ops(*model.graph, "Scan"), 1) << shape.reduce << " axis " << shape.axis;
    EXPECT_EQ(count_ops(*model.graph, "CDist"), 0);
  }
  // At the basic level the contrib op is not written.
  Model model = distance_scan(ScanShape{});
  optimize_graph(*model.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(count_ops(*model.graph, "Scan"), 1);
}

}  // namespace
}  // namespace tessera

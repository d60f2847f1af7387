// Graph tests: topological sorting (and its refusals), the broadcasting helper, the inference driver, and shape
// inference with symbolic dims through a real session.
#include "ir/graph.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "ir/shape_inference.h"
#include "onnx/test_models.h"
#include "runtime/session.h"

namespace tessera {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> node_names(const Graph& g) {
  std::vector<std::string> names;
  for (const auto& n : g.nodes) names.push_back(n->name);
  return names;
}

Graph graph_with_input(const std::string& name = "x") {
  Graph g;
  g.inputs.push_back({name, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::known(2)})});
  return g;
}

void expect_sort_error(Graph& g, const std::string& part) {
  try {
    g.sort_topologically();
    FAIL() << "expected an error containing " << part;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_TRUE(contains(e.what(), part)) << e.what();
  }
}

TEST(GraphSortTest, PutsProducersBeforeConsumers) {
  Graph g = graph_with_input();
  g.initializers["w"] = Tensor(DType::kFloat, {2});
  g.add_node("Relu", {"c"}, {"d"}, "fourth");
  g.add_node("Add", {"b", "w"}, {"c"}, "third");
  g.add_node("Relu", {"a"}, {"b"}, "second");
  g.add_node("Relu", {"x"}, {"a"}, "first");
  g.outputs.push_back({"d", {}});
  g.sort_topologically();
  EXPECT_EQ(node_names(g), (std::vector<std::string>{"first", "second", "third", "fourth"}));
}

TEST(GraphSortTest, KeepsIndependentNodesInTheirOrder) {
  Graph g = graph_with_input();
  g.add_node("Relu", {"x"}, {"a"}, "one");
  g.add_node("Relu", {"x"}, {"b"}, "two");
  g.add_node("Add", {"a", "b"}, {"c"}, "three");
  g.add_node("Relu", {"x"}, {"d"}, "four");
  g.sort_topologically();
  EXPECT_EQ(node_names(g), (std::vector<std::string>{"one", "two", "four", "three"}));
}

TEST(GraphSortTest, MissingOptionalInputsAreFine) {
  Graph g = graph_with_input();
  g.add_node("Clip", {"x", "", ""}, {"y"}, "clip");
  g.outputs.push_back({"y", {}});
  EXPECT_NO_THROW(g.sort_topologically());
}

TEST(GraphSortTest, SubgraphReadsOfLaterValuesOrderTheirNode) {
  // The If node's branch reads "late", produced by a node listed after the If.
  Graph g = graph_with_input();
  Node& branch_user = g.add_node("If", {"x"}, {"y"}, "if");
  Attribute then_branch;
  then_branch.name = "then_branch";
  then_branch.type = Attribute::Type::kGraph;
  then_branch.g = std::make_shared<Graph>();
  then_branch.g->parent = &g;
  then_branch.g->add_node("Identity", {"late"}, {"inner"}, "inner");
  then_branch.g->outputs.push_back({"inner", {}});
  branch_user.attributes["then_branch"] = then_branch;
  g.add_node("Relu", {"x"}, {"late"}, "producer");
  g.sort_topologically();
  EXPECT_EQ(node_names(g), (std::vector<std::string>{"producer", "if"}));
  // The branch itself resolves "late" in the outer scope.
  EXPECT_NO_THROW(then_branch.g->sort_topologically());
  EXPECT_TRUE(then_branch.g->defines_in_scope("late"));
  EXPECT_FALSE(then_branch.g->defines("late"));
}

TEST(GraphSortTest, RefusesCyclesNamingANode) {
  Graph g = graph_with_input();
  g.add_node("Add", {"x", "b"}, {"a"}, "first");
  g.add_node("Relu", {"a"}, {"b"}, "second");
  expect_sort_error(g, "the graph has a cycle through this node");
}

TEST(GraphSortTest, RefusesSelfLoops) {
  Graph g = graph_with_input();
  g.add_node("Relu", {"a"}, {"a"}, "self");
  expect_sort_error(g, "node 'self' (Relu)");
}

TEST(GraphSortTest, RefusesUndefinedInputs) {
  Graph g = graph_with_input();
  g.add_node("Relu", {"nowhere"}, {"y"}, "reader");
  expect_sort_error(g, "node 'reader' (Relu): input 'nowhere' is not a graph input");
}

TEST(GraphSortTest, RefusesTwoProducersOfOneValue) {
  Graph g = graph_with_input();
  g.add_node("Relu", {"x"}, {"y"}, "one");
  g.add_node("Relu", {"x"}, {"y"}, "two");
  expect_sort_error(g, "output 'y' is already produced by node 'one'");
}

TEST(GraphSortTest, RefusesOutputsThatNothingProduces) {
  Graph g = graph_with_input();
  g.add_node("Relu", {"x"}, {"y"}, "one");
  g.outputs.push_back({"ghost", {}});
  expect_sort_error(g, "graph output 'ghost' is produced by no node");
}

std::vector<Dim> dims(std::initializer_list<std::variant<int64_t, const char*>> list) {
  std::vector<Dim> out;
  for (const auto& d : list) {
    if (std::holds_alternative<int64_t>(d))
      out.push_back(Dim::known(std::get<int64_t>(d)));
    else
      out.push_back(std::string(std::get<const char*>(d)) == "?" ? Dim{} : Dim::named(std::get<const char*>(d)));
  }
  return out;
}

TEST(BroadcastTest, FollowsNumpyRulesWithSymbols) {
  EXPECT_EQ(broadcast_dims(dims({"N", int64_t{1}, int64_t{3}}), dims({int64_t{4}, int64_t{1}})),
            dims({"N", int64_t{4}, int64_t{3}}));
  EXPECT_EQ(broadcast_dims(dims({}), dims({int64_t{2}, "M"})), dims({int64_t{2}, "M"}));
  EXPECT_EQ(broadcast_dims(dims({"N"}), dims({"N"})), dims({"N"}));
  EXPECT_EQ(broadcast_dims(dims({int64_t{1}}), dims({"N"})), dims({"N"}));
  EXPECT_EQ(broadcast_dims(dims({"N"}), dims({int64_t{1}})), dims({"N"}));
  // A symbol against a size other than 1: the size (the symbol must equal it at run time).
  EXPECT_EQ(broadcast_dims(dims({"N"}), dims({int64_t{5}})), dims({int64_t{5}}));
  // Two different symbols: unknown (either may be 1).
  EXPECT_EQ(broadcast_dims(dims({"N"}), dims({"M"})), dims({"?"}));
  EXPECT_EQ(broadcast_dims(dims({"?", int64_t{3}}), dims({int64_t{3}})), dims({"?", int64_t{3}}));
}

TEST(BroadcastTest, RefusesIncompatibleSizes) {
  try {
    broadcast_dims(dims({int64_t{2}, int64_t{3}}), dims({int64_t{4}, int64_t{3}}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_TRUE(contains(e.what(), "dimension 2 vs 4")) << e.what();
  }
}

TEST(InferenceDriverTest, MergesDeclaredAndInferredTypes) {
  Graph g;
  g.inputs.push_back({"x", TypeInfo::tensor(DType::kFloat, dims({"N", int64_t{4}}))});
  g.add_node("Probe", {"x"}, {"y"}, "probe");
  g.add_node("Unknown", {"y"}, {"z"}, "unknown");
  // Declared: [N, ?]; inference knows [?, 4]: the merge keeps N and adds 4.
  g.value_types["y"] = TypeInfo::tensor(DType::kFloat, dims({"N", "?"}));
  g.outputs.push_back({"z", TypeInfo::tensor(DType::kFloat, dims({"K"}))});
  g.sort_topologically();
  infer_graph_types(g, [](const Node& node) -> ShapeInferenceFn {
    if (node.op_type != "Probe") return {};
    return [](InferenceContext& ctx) {
      ASSERT_NE(ctx.input_type(0), nullptr);
      EXPECT_EQ(ctx.input_type(0)->to_string(), "float[N,4]");
      ctx.set_output_type(0, TypeInfo::tensor(DType::kFloat, dims({"?", int64_t{4}})));
    };
  });
  EXPECT_EQ(g.find_type("y")->to_string(), "float[N,4]");
  // No inference function: the declared output type stands.
  EXPECT_EQ(g.find_type("z")->to_string(), "float[K]");
}

TEST(InferenceDriverTest, InitializersAreConstantsUnlessOverridable) {
  Graph g;
  g.initializers["fixed"] = Tensor::from_vector<int64_t>(DType::kInt64, {2, 3});
  g.initializers["default"] = Tensor::from_vector<int64_t>(DType::kInt64, {5});
  g.inputs.push_back({"default", TypeInfo::tensor(DType::kInt64, dims({int64_t{1}}))});
  g.add_node("Probe", {"fixed", "default"}, {"y"}, "probe");
  g.sort_topologically();
  bool called = false;
  infer_graph_types(g, [&](const Node&) -> ShapeInferenceFn {
    return [&](InferenceContext& ctx) {
      called = true;
      ASSERT_NE(ctx.input_constant(0), nullptr);
      EXPECT_EQ(ctx.input_constant(0)->data<int64_t>()[1], 3);
      EXPECT_EQ(ctx.input_constant(1), nullptr);  // a feed may replace it
      EXPECT_EQ(ctx.input_type(0)->to_string(), "int64[2]");
    };
  });
  EXPECT_TRUE(called);
}

// Through a real session: the registry's Add, Relu and MatMul inference keep symbols.
TEST(ShapeInferenceTest, SymbolicDimsFlowThroughBroadcastingAndMatMul) {
  using testing::add_input;
  using testing::add_node;
  using testing::add_output;
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {std::string("batch"), int64_t{1}, int64_t{3}});
  add_input(g, "y", 1, {int64_t{4}, int64_t{1}});
  add_input(g, "w", 1, {int64_t{3}, int64_t{5}});
  add_input(g, "s", 1, {std::string("seq")});
  add_node(g, "Add", {"x", "y"}, {"sum"});
  add_node(g, "Relu", {"sum"}, {"r"});
  add_node(g, "MatMul", {"r", "w"}, {"m"});
  add_node(g, "Add", {"s", "s"}, {"ss"});
  add_output(g, "m", 1);
  add_output(g, "ss", 1);
  const Session session = Session::from_bytes(testing::serialize(model), {.intra_op_threads = 1});
  const Graph& graph = *session.model().graph;
  ASSERT_NE(graph.find_type("sum"), nullptr);
  EXPECT_EQ(graph.find_type("sum")->to_string(), "float[batch,4,3]");
  EXPECT_EQ(graph.find_type("r")->to_string(), "float[batch,4,3]");
  EXPECT_EQ(graph.find_type("m")->to_string(), "float[batch,4,5]");
  EXPECT_EQ(graph.find_type("ss")->to_string(), "float[seq]");
}

TEST(ShapeInferenceTest, IncompatibleStaticShapesAreRefusedAtLoad) {
  using testing::add_input;
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{2}, int64_t{3}});
  add_input(g, "y", 1, {int64_t{4}, int64_t{3}});
  testing::add_node(g, "Add", {"x", "y"}, {"z"}, "add");
  testing::add_output(g, "z", 1);
  try {
    Session::from_bytes(testing::serialize(model));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_TRUE(contains(e.what(), "dimension 2 vs 4")) << e.what();
  }
}

}  // namespace
}  // namespace tessera

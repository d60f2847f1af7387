// Constant release tests: MatMul and Gemm consume the constant B they pack, and the execution plan releases the
// original initializer during session creation when nothing else can read it (no other node, subgraph, graph
// output, and no feed). Results must stay right after the release, and every initializer that something else
// might read must be kept.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/float_types.h"
#include "ir/graph_builder.h"
#include "onnx/test_models.h"
#include "ops/registry.h"
#include "runtime/session.h"

namespace tessera {
namespace {

constexpr int64_t kM = 5, kK = 37, kN = 29;  // odd sizes: partial tiles on every side

Tensor random_tensor(std::vector<int64_t> shape, uint32_t seed) {
  Tensor t(DType::kFloat, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// y[r, n] = sum_k a[r, k] * b[k, n] (b transposed: b[n, k]), over all rows r of a.
std::vector<double> reference_matmul(const Tensor& a, const Tensor& b, bool b_transposed = false) {
  const int64_t k = a.dim(a.rank() - 1);
  const int64_t rows = a.element_count() / k;
  const int64_t n = b_transposed ? b.dim(0) : b.dim(1);
  std::vector<double> y(static_cast<size_t>(rows * n), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float bv = b_transposed ? b.data<float>()[j * k + p] : b.data<float>()[p * n + j];
        sum += static_cast<double>(a.data<float>()[r * k + p]) * bv;
      }
      y[static_cast<size_t>(r * n + j)] = sum;
    }
  }
  return y;
}

void expect_near(const Tensor& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual.data<float>()[i], expected[i], 1e-4) << "element " << i;
  }
}

bool released(const Session& s, const std::string& name) { return !s.model().graph->initializers.at(name).defined(); }

TEST(ConstantReleaseTest, PackedMatMulWeightIsReleasedAndResultsStayRight) {
  const Tensor b = random_tensor({kK, kN}, 1);
  Model model = GraphBuilder(17)
                    .input("a", DType::kFloat, {2, kM, kK})
                    .initializer("b", b)
                    .node("MatMul", {"a", "b"}, {"y"})
                    .output("y", DType::kFloat)
                    .build();
  const Session s(std::move(model), {.intra_op_threads = 2});
  EXPECT_TRUE(released(s, "b"));
  EXPECT_EQ(b.storage().use_count(), 1);  // nothing but this test holds the original now
  const Tensor a = random_tensor({2, kM, kK}, 2);
  for (int run = 0; run < 2; ++run) {
    const auto out = s.run({{"a", a}});
    EXPECT_EQ(out[0].tensor().shape(), (std::vector<int64_t>{2, kM, kN}));
    expect_near(out[0].tensor(), reference_matmul(a, b));
  }
}

// float16 B is widened to float32 before packing; the released original is not needed to run either.
TEST(ConstantReleaseTest, PackedFloat16MatMulWeightIsReleased) {
  const Tensor b32 = random_tensor({kK, kN}, 21);
  const Tensor a32 = random_tensor({kM, kK}, 22);
  auto to_half = [](const Tensor& t) {
    Tensor h(DType::kFloat16, t.shape());
    for (int64_t i = 0; i < t.element_count(); ++i) h.data<uint16_t>()[i] = float_to_half(t.data<float>()[i]);
    return h;
  };
  auto widened = [](const Tensor& h) {
    Tensor f(DType::kFloat, h.shape());
    for (int64_t i = 0; i < h.element_count(); ++i) f.data<float>()[i] = half_to_float(h.data<uint16_t>()[i]);
    return f;
  };
  const Tensor b = to_half(b32);
  const Tensor a = to_half(a32);
  Model model = GraphBuilder(17)
                    .input("a", DType::kFloat16, {kM, kK})
                    .initializer("b", b)
                    .node("MatMul", {"a", "b"}, {"y"})
                    .output("y", DType::kFloat16)
                    .build();
  const Session s(std::move(model), {.intra_op_threads = 1});
  EXPECT_TRUE(released(s, "b"));
  const Tensor y = widened(s.run({{"a", a}})[0].tensor());
  const std::vector<double> expected = reference_matmul(widened(a), widened(b));
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(y.data<float>()[i], expected[i], 2e-2) << "element " << i;
}

TEST(ConstantReleaseTest, PackedGemmWeightIsReleasedAndBiasKept) {
  const Tensor b = random_tensor({kN, kK}, 3);
  const Tensor c = random_tensor({kN}, 4);
  Model model = GraphBuilder(13)
                    .input("a", DType::kFloat, {kM, kK})
                    .initializer("b", b)
                    .initializer("c", c)
                    .node("Gemm", {"a", "b", "c"}, {"y"})
                    .attr_int("transB", 1)
                    .attr_float("alpha", 0.5f)
                    .attr_float("beta", 2.0f)
                    .output("y", DType::kFloat)
                    .build();
  const Session s(std::move(model), {.intra_op_threads = 1});
  EXPECT_TRUE(released(s, "b"));
  EXPECT_FALSE(released(s, "c"));  // Gemm reads C at run time
  const Tensor a = random_tensor({kM, kK}, 5);
  std::vector<double> expected = reference_matmul(a, b, /*b_transposed=*/true);
  for (int64_t i = 0; i < kM; ++i) {
    for (int64_t j = 0; j < kN; ++j) {
      double& e = expected[static_cast<size_t>(i * kN + j)];
      e = 0.5 * e + 2.0 * c.data<float>()[j];
    }
  }
  expect_near(s.run({{"a", a}})[0].tensor(), expected);
}

TEST(ConstantReleaseTest, OverridableInitializerIsNeverReleased) {
  const Tensor b = random_tensor({kK, kN}, 6);
  Model model = GraphBuilder(17)
                    .input("a", DType::kFloat, {kM, kK})
                    .input("b", DType::kFloat, {kK, kN})
                    .initializer("b", b)
                    .node("MatMul", {"a", "b"}, {"y"})
                    .output("y", DType::kFloat)
                    .build();
  const Session s(std::move(model), {.intra_op_threads = 1});
  EXPECT_FALSE(released(s, "b"));
  const Tensor a = random_tensor({kM, kK}, 7);
  expect_near(s.run({{"a", a}})[0].tensor(), reference_matmul(a, b));
  const Tensor fed = random_tensor({kK, kN}, 8);
  expect_near(s.run({{"a", a}, {"b", fed}})[0].tensor(), reference_matmul(a, fed));
}

TEST(ConstantReleaseTest, WeightReadByAnotherNodeOrAsOutputIsKept) {
  const Tensor b = random_tensor({kK, kN}, 9);
  Model model = GraphBuilder(17)
                    .input("a", DType::kFloat, {kM, kK})
                    .initializer("b", b)
                    .initializer("w", b.clone())
                    .node("MatMul", {"a", "b"}, {"y"})
                    .node("Relu", {"b"}, {"r"})
                    .node("MatMul", {"a", "w"}, {"z"})
                    .output("y", DType::kFloat)
                    .output("r", DType::kFloat)
                    .output("z", DType::kFloat)
                    .output("w", DType::kFloat)
                    .build();
  const Session s(std::move(model), {.intra_op_threads = 1});
  EXPECT_FALSE(released(s, "b"));  // Relu reads it
  EXPECT_FALSE(released(s, "w"));  // a graph output
  const Tensor a = random_tensor({kM, kK}, 10);
  const auto out = s.run({{"a", a}});
  expect_near(out[0].tensor(), reference_matmul(a, b));
  expect_near(out[2].tensor(), reference_matmul(a, b));
  for (int64_t i = 0; i < b.element_count(); ++i) {
    ASSERT_EQ(out[1].tensor().data<float>()[i], std::max(b.data<float>()[i], 0.0f));
    ASSERT_EQ(out[3].tensor().data<float>()[i], b.data<float>()[i]);
  }
}

TEST(ConstantReleaseTest, WeightSharedByTwoPackingNodesIsReleasedAfterBoth) {
  const Tensor b = random_tensor({kK, kN}, 11);
  Model model = GraphBuilder(17)
                    .input("a", DType::kFloat, {kM, kK})
                    .input("a2", DType::kFloat, {3, kK})
                    .initializer("b", b)
                    .node("MatMul", {"a", "b"}, {"y"})
                    .node("MatMul", {"a2", "b"}, {"z"})
                    .output("y", DType::kFloat)
                    .output("z", DType::kFloat)
                    .build();
  const Session s(std::move(model), {.intra_op_threads = 1});
  EXPECT_TRUE(released(s, "b"));
  const Tensor a = random_tensor({kM, kK}, 12);
  const Tensor a2 = random_tensor({3, kK}, 13);
  const auto out = s.run({{"a", a}, {"a2", a2}});
  expect_near(out[0].tensor(), reference_matmul(a, b));
  expect_near(out[1].tensor(), reference_matmul(a2, b));
}

// The weight is also read inside an If branch (from the enclosing scope): the branch's plan looks it up at run
// time, so it must stay.
TEST(ConstantReleaseTest, WeightReadBySubgraphIsKept) {
  onnx::ModelProto proto = testing::make_model(17);
  auto* g = proto.mutable_graph();
  testing::add_input(g, "a", 1, {kM, kK});
  testing::add_input(g, "cond", 9, {});
  const Tensor b = random_tensor({kK, kN}, 14);
  std::vector<float> values(b.data<float>(), b.data<float>() + b.element_count());
  testing::add_float_initializer(g, "b", {kK, kN}, values);
  testing::add_node(g, "MatMul", {"a", "b"}, {"y"});
  auto* if_node = testing::add_node(g, "If", {"cond"}, {"branch"});
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* attr = if_node->add_attribute();
    attr->set_name(branch);
    attr->set_type(onnx::AttributeProto::GRAPH);
    auto* body = attr->mutable_g();
    body->set_name(branch);
    testing::add_node(body, std::string(branch) == "then_branch" ? "Relu" : "Neg", {"b"},
                      {std::string(branch) + "_out"});
    testing::add_output(body, std::string(branch) + "_out", 1);
  }
  testing::add_output(g, "y", 1);
  testing::add_output(g, "branch", 1);
  const Session s = Session::from_bytes(testing::serialize(proto), {.intra_op_threads = 1});
  EXPECT_FALSE(released(s, "b"));
  const Tensor a = random_tensor({kM, kK}, 15);
  const auto out = s.run({{"a", a}, {"cond", Tensor::scalar<bool>(DType::kBool, false)}});
  expect_near(out[0].tensor(), reference_matmul(a, b));
  for (int64_t i = 0; i < b.element_count(); ++i) ASSERT_EQ(out[1].tensor().data<float>()[i], -b.data<float>()[i]);
}

// A kernel that consumed its constant B still accepts B when a caller passes it (kernels run directly).
TEST(ConstantReleaseTest, ConsumingKernelAcceptsBWhenGivenAndRunsWithoutIt) {
  const Tensor a = random_tensor({kM, kK}, 16);
  const Tensor b = random_tensor({kK, kN}, 17);
  Node node;
  node.name = "mm";
  node.op_type = "MatMul";
  node.opset = 17;
  node.inputs = {"a", "b"};
  node.outputs = {"y"};
  const OpRegistration* reg = OpRegistry::instance().find("", "MatMul", 17);
  ASSERT_NE(reg, nullptr);
  KernelInfo info{
      node,
      17,
      {TypeInfo::tensor_of_shape(DType::kFloat, a.shape()), TypeInfo::tensor_of_shape(DType::kFloat, b.shape())},
      {},
      {nullptr, &b},
      {}};
  const std::unique_ptr<Kernel> kernel = reg->factory(info);
  ASSERT_TRUE(info.consumed_constant_input(1));
  EXPECT_FALSE(info.consumed_constant_input(0));
  const RuntimeValue a_value(a), b_value(b);
  for (const RuntimeValue* b_slot : {&b_value, static_cast<const RuntimeValue*>(nullptr)}) {
    std::vector<RuntimeValue> outputs(1);
    SerialParallelism serial;
    KernelContext ctx(node, {&a_value, b_slot}, outputs, serial, {});
    kernel->compute(ctx);
    expect_near(outputs[0].tensor(), reference_matmul(a, b));
  }
}

}  // namespace
}  // namespace tessera

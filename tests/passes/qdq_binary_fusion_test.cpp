// qdq_binary_fusion: DequantizeLinear pairs into Add/Mul (with a Relu when the output zero point is the minimum)
// and a QuantizeLinear become com.microsoft QLinearAdd/QLinearMul with bit-identical outputs; a Relu with another
// zero point, or per-axis scales, stay.
#include <gtest/gtest.h>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

template <typename T>
Tensor scalar(DType dtype, T value) {
  return Tensor::scalar<T>(dtype, value);
}

Tensor random_q8(DType dtype, const std::vector<int64_t>& shape, unsigned seed) {
  Tensor t(dtype, shape);
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < t.element_count(); ++i) {
    if (dtype == DType::kInt8) {
      t.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
    } else {
      t.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 256);
    }
  }
  return t;
}

// qa [2,3,4,5], qb (shape b_shape) -> DQ, DQ -> op -> [Relu] -> Q(zero point zc) -> y
template <typename T>
Model group(DType dtype, const std::string& op, bool relu, T zc, std::vector<int64_t> b_shape) {
  GraphBuilder b(17);
  b.input("qa", dtype, {2, 3, 4, 5})
      .input("qb", dtype, b_shape)
      .initializer("sa", scalar<float>(DType::kFloat, 0.05f))
      .initializer("za", scalar<T>(dtype, T(3)))
      .initializer("sb", scalar<float>(DType::kFloat, 0.031f))
      .initializer("zb", scalar<T>(dtype, T(-2 + (dtype == DType::kUint8) * 130)))
      .initializer("sc", scalar<float>(DType::kFloat, op == "Mul" ? 0.2f : 0.07f))
      .initializer("zc", scalar<T>(dtype, zc))
      .node("DequantizeLinear", {"qa", "sa", "za"}, {"a"})
      .node("DequantizeLinear", {"qb", "sb", "zb"}, {"b"})
      .node(op, {"a", "b"}, {"s"});
  if (relu) b.node("Relu", {"s"}, {"r"});
  b.node("QuantizeLinear", {relu ? "r" : "s", "sc", "zc"}, {"y"}).output("y");
  return b.build();
}

TEST(QdqBinaryFusionTest, AddAndMulGroupsFuseWithIdenticalOutputs) {
  for (const DType dtype : {DType::kInt8, DType::kUint8}) {
    for (const std::string op : {"Add", "Mul"}) {
      for (const bool relu : {false, true}) {
        for (const std::vector<int64_t>& b_shape : {std::vector<int64_t>{2, 3, 4, 5}, std::vector<int64_t>{3, 1, 1}}) {
          auto make = [&] {
            return dtype == DType::kInt8 ? group<int8_t>(dtype, op, relu, int8_t(relu ? -128 : 5), b_shape)
                                         : group<uint8_t>(dtype, op, relu, uint8_t(relu ? 0 : 120), b_shape);
          };
          Model model = make();
          optimize_graph(*model.graph, OptimizationLevel::kExtended);
          EXPECT_EQ(pass_test::count_ops(*model.graph, "QLinear" + op), 1) << op << " relu " << relu;
          EXPECT_EQ(pass_test::count_ops(*model.graph, "QuantizeLinear") + pass_test::count_ops(*model.graph, "Relu"),
                    0);
          pass_test::expect_same_outputs(
              make, {{"qa", random_q8(dtype, {2, 3, 4, 5}, 1)}, {"qb", random_q8(dtype, b_shape, 2)}},
              OptimizationLevel::kExtended, 0.0);
        }
      }
    }
  }
}

TEST(QdqBinaryFusionTest, ReluWithAnotherZeroPointStays) {
  Model model = group<int8_t>(DType::kInt8, "Add", true, int8_t(0), {2, 3, 4, 5});
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "QLinearAdd"), 0);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Relu"), 1);
}

}  // namespace
}  // namespace tessera

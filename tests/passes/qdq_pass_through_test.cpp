// qdq_pass_through: DequantizeLinear -> MaxPool / Reshape / Transpose -> QuantizeLinear with the same scale and
// zero point becomes the op on the 8-bit tensor, with identical outputs; other scales or zero points, a MaxPool
// before opset 12 and one whose Indices are read stay as they are.
#include <gtest/gtest.h>

#include <random>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

Tensor random_q8(DType dtype, const std::vector<int64_t>& shape, unsigned seed) {
  Tensor t(dtype, shape);
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 256);
  return t;
}

Tensor zero_point(DType dtype, int value) {
  return dtype == DType::kInt8 ? Tensor::scalar<int8_t>(dtype, static_cast<int8_t>(value))
                               : Tensor::scalar<uint8_t>(dtype, static_cast<uint8_t>(value));
}

// q [1,3,7,6] -> DQ(0.05, z_in) -> op -> Q(out_scale, z_out) -> y
Model group(int opset, DType dtype, const std::string& op, float out_scale, int z_in, int z_out) {
  GraphBuilder b(opset);
  b.input("q", dtype, {1, 3, 7, 6})
      .initializer("s_in", Tensor::scalar<float>(DType::kFloat, 0.05f))
      .initializer("z_in", zero_point(dtype, z_in))
      .initializer("s_out", Tensor::scalar<float>(DType::kFloat, out_scale))
      .initializer("z_out", zero_point(dtype, z_out))
      .node("DequantizeLinear", {"q", "s_in", "z_in"}, {"x"});
  if (op == "MaxPool") {
    b.node("MaxPool", {"x"}, {"p"})
        .attr_ints("kernel_shape", {3, 3})
        .attr_ints("strides", {2, 2})
        .attr_ints("pads", {1, 1, 1, 1});
  } else if (op == "Reshape") {
    b.initializer("shape", Tensor::from_vector<int64_t>(DType::kInt64, {3, 42})).node("Reshape", {"x", "shape"}, {"p"});
  } else {
    b.node("Transpose", {"x"}, {"p"}).attr_ints("perm", {0, 2, 3, 1});
  }
  b.node("QuantizeLinear", {"p", "s_out", "z_out"}, {"y"}).output("y");
  return b.build();
}

TEST(QdqPassThroughTest, OpsRunOnTheQuantizedTensorWithIdenticalOutputs) {
  for (const DType dtype : {DType::kInt8, DType::kUint8}) {
    const int z = dtype == DType::kInt8 ? -7 : 130;
    for (const std::string op : {"MaxPool", "Reshape", "Transpose"}) {
      SCOPED_TRACE(op);
      const auto make = [&] { return group(17, dtype, op, 0.05f, z, z); };
      Model model = make();
      optimize_graph(*model.graph, OptimizationLevel::kExtended);
      EXPECT_EQ(
          pass_test::count_ops(*model.graph, "DequantizeLinear") + pass_test::count_ops(*model.graph, "QuantizeLinear"),
          0);
      EXPECT_EQ(pass_test::count_ops(*model.graph, op), 1);
      pass_test::expect_same_outputs(make, {{"q", random_q8(dtype, {1, 3, 7, 6}, 3)}}, OptimizationLevel::kExtended,
                                     0.0);
    }
  }
}

TEST(QdqPassThroughTest, OtherQuantizationOrOldMaxPoolStays) {
  for (const auto& [opset, scale, z_out] :
       {std::tuple{17, 0.06f, 4}, std::tuple{17, 0.05f, 5}, std::tuple{11, 0.05f, 4}}) {
    Model model = group(opset, DType::kUint8, "MaxPool", scale, 4, z_out);
    optimize_graph(*model.graph, OptimizationLevel::kExtended);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "QuantizeLinear"), 1) << opset << " " << scale << " " << z_out;
  }
}

}  // namespace
}  // namespace tessera

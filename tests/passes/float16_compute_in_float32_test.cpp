// float16_compute_in_float32: a float16 model computes in float32 inside (weights widened once, Casts at its float16
// inputs and outputs, Cast(to=float16) retargeted) with outputs within float16 precision of the unoptimized run;
// graphs making float16 from a dtype attribute stay.
#include <gtest/gtest.h>

#include "base/float_types.h"
#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"

namespace tessera {
namespace {

using pass_test::random_floats;

Tensor to_half(const Tensor& t) {
  Tensor out(DType::kFloat16, t.shape());
  for (int64_t i = 0; i < t.element_count(); ++i) out.data<Float16>()[i].bits = float_to_half(t.data<float>()[i]);
  return out;
}

// x fp16 [1, 3, 8, 8] -> Conv(w fp16) -> Relu -> y fp16; and a float32 input z cast to float16 and added.
Model half_model() {
  return GraphBuilder(17)
      .input("x", DType::kFloat16, {1, 3, 8, 8})
      .input("z", DType::kFloat, {1, 4, 8, 8})
      .initializer("w", to_half(random_floats({4, 3, 3, 3}, 1, 0.5f)))
      .initializer("b", to_half(random_floats({4}, 2, 0.5f)))
      .node("Conv", {"x", "w", "b"}, {"c"})
      .attr_ints("pads", {1, 1, 1, 1})
      .node("Relu", {"c"}, {"r"})
      .node("Cast", {"z"}, {"zh"})
      .attr_int("to", static_cast<int64_t>(DType::kFloat16))
      .node("Add", {"r", "zh"}, {"y"})
      .output("y")
      .build();
}

TEST(Float16ComputeInFloat32Test, WidensWeightsAndCastsAtTheBoundary) {
  Model model = half_model();
  optimize_graph(*model.graph, OptimizationLevel::kExtended, {"conv_activation_fusion"});
  const Graph& g = *model.graph;
  EXPECT_EQ(g.initializers.at("w").dtype(), DType::kFloat);
  EXPECT_EQ(g.inputs[0].type.elem_type, DType::kFloat16);  // the interface stays
  // x in and y out; z's Cast now goes to float32, a no-op that noop_elimination removes.
  EXPECT_EQ(pass_test::count_ops(g, "Cast"), 2);
  for (const auto& node : g.nodes) EXPECT_FALSE(node->op_type == "Cast" && node->inputs[0] == "z");
  const std::vector<std::pair<std::string, RuntimeValue>> feeds{{"x", to_half(random_floats({1, 3, 8, 8}, 3))},
                                                                {"z", random_floats({1, 4, 8, 8}, 4)}};
  SessionOptions plain;
  plain.optimization_level = OptimizationLevel::kDisabled;
  const Tensor want = Session(half_model(), plain).run(feeds)[0].tensor();
  const Tensor got = Session(half_model()).run(feeds)[0].tensor();
  ASSERT_EQ(got.dtype(), DType::kFloat16);
  for (int64_t i = 0; i < want.element_count(); ++i) {
    const float a = half_to_float(want.data<Float16>()[i].bits), b = half_to_float(got.data<Float16>()[i].bits);
    ASSERT_NEAR(b, a, 4e-3 * (1 + std::fabs(a))) << i;
  }
}

TEST(Float16ComputeInFloat32Test, LeavesFloat16MadeByDtypeAttributes) {
  Model model = GraphBuilder(17)
                    .input("x", DType::kFloat16, {2, 3})
                    .node("RandomNormalLike", {"x"}, {"n"})
                    .attr_int("dtype", static_cast<int64_t>(DType::kFloat16))
                    .node("Add", {"x", "n"}, {"y"})
                    .output("y")
                    .build();
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Cast"), 0);
}

}  // namespace
}  // namespace tessera

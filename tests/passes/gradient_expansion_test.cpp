// expand_gradients: Gradient nodes become their backward graph; the gradients of a small network (MatMul,
// broadcast Add, Sigmoid, Mul, Div, Tanh) match central finite differences, and an op it cannot differentiate is
// named.
#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using pass_test::random_floats;

// y = tanh(sigmoid(x W + b) * x2 / c); Gradient of y w.r.t. x, W, b (b broadcast over rows).
Model network(bool with_gradient) {
  GraphBuilder builder(12);
  builder.input("x", DType::kFloat, {3, 4})
      .input("W", DType::kFloat, {4, 2})
      .input("b", DType::kFloat, {2})
      .initializer("x2", random_floats({3, 2}, 7))
      .initializer("c", Tensor::scalar(DType::kFloat, 1.5f))
      .node("MatMul", {"x", "W"}, {"xw"})
      .node("Add", {"xw", "b"}, {"z"})
      .node("Sigmoid", {"z"}, {"s"})
      .node("Mul", {"s", "x2"}, {"m"})
      .node("Div", {"m", "c"}, {"d"})
      .node("Tanh", {"d"}, {"y"})
      .output("y");
  if (with_gradient) {
    return builder.opset("ai.onnx.preview.training", 1)
        .node("Gradient", {"x", "W", "b"}, {"dx", "dW", "db"}, "ai.onnx.preview.training")
        .attr_strings("xs", {"x", "W", "b"})
        .attr_string("y", "y")
        .output("dx")
        .output("dW")
        .output("db")
        .build();
  }
  return builder.build();
}

double sum_of_y(Session& session, const Tensor& x, const Tensor& w, const Tensor& b) {
  const Tensor y = session.run({{"x", x}, {"W", w}, {"b", b}})[0].tensor();
  double total = 0;
  for (int64_t i = 0; i < y.element_count(); ++i) total += y.data<float>()[i];
  return total;
}

TEST(GradientExpansionTest, MatchesFiniteDifferences) {
  const Tensor x = random_floats({3, 4}, 1), w = random_floats({4, 2}, 2), b = random_floats({2}, 3);
  Session with_gradient(network(true));
  const auto outputs = with_gradient.run({{"x", x}, {"W", w}, {"b", b}});
  ASSERT_EQ(outputs.size(), 4u);
  Session forward(network(false));
  const Tensor* inputs[3] = {&x, &w, &b};
  for (int k = 0; k < 3; ++k) {
    const Tensor& analytic = outputs[static_cast<size_t>(k) + 1].tensor();
    ASSERT_EQ(analytic.shape(), inputs[k]->shape());
    for (int64_t i = 0; i < analytic.element_count(); ++i) {
      Tensor plus = inputs[k]->clone(), minus = inputs[k]->clone();
      plus.data<float>()[i] += 1e-2f;
      minus.data<float>()[i] -= 1e-2f;
      const Tensor* p[3] = {&x, &w, &b};
      const Tensor* m[3] = {&x, &w, &b};
      p[k] = &plus;
      m[k] = &minus;
      const double numeric = (sum_of_y(forward, *p[0], *p[1], *p[2]) - sum_of_y(forward, *m[0], *m[1], *m[2])) / 2e-2;
      EXPECT_NEAR(analytic.data<float>()[i], numeric, 2e-3) << "input " << k << " element " << i;
    }
  }
}

TEST(GradientExpansionTest, NamesAnOpItCannotDifferentiate) {
  GraphBuilder builder(12);
  Model model = builder.input("x", DType::kFloat, {3})
                    .node("Softmax", {"x"}, {"y"})
                    .output("y")
                    .opset("ai.onnx.preview.training", 1)
                    .node("Gradient", {"x"}, {"dx"}, "ai.onnx.preview.training")
                    .attr_strings("xs", {"x"})
                    .attr_string("y", "y")
                    .output("dx")
                    .build();
  try {
    Session session(std::move(model));
    FAIL() << "Softmax has no derivative here";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("(Softmax)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tessera

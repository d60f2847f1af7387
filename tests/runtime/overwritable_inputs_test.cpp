// Inputs a kernel may write over (KernelContext::input_overwritable) and the kernel that does: FusedConv taking over
// its residual Z as the output. Z must only be overwritten when nothing else can see it: not while a later node
// still reads it, not a caller's feed, not memory held twice or borrowed.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "onnx/test_models.h"
#include "ops/kernel.h"
#include "runtime/runtime_test_util.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using testing::add_input;
using testing::add_node;
using testing::add_output;
using testing::filled;
using testing::serialize;
using testing::values_of;

constexpr int64_t kIn = 8, kOut = 4, kSide = 6, kPlane = kSide * kSide;

// y = Relu(Conv1x1(x, W, B) + residual), residual = Relu(z) (an intermediate) or z itself (the feed). With
// `read_after`, `also` = residual * y, which can only run after y (the residual is still needed then).
Session residual_session(bool residual_is_feed, bool read_after) {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", 1, {int64_t{1}, kIn, kSide, kSide});
  add_input(g, "z", 1, {int64_t{1}, kOut, kSide, kSide});
  std::vector<float> w(kOut * kIn), b(kOut);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(static_cast<int>(i % 7) - 3);
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.25f * static_cast<float>(i);
  testing::add_float_initializer(g, "W", {kOut, kIn, 1, 1}, w);
  testing::add_float_initializer(g, "B", {kOut}, b);
  const std::string residual = residual_is_feed ? "z" : "r";
  if (!residual_is_feed) add_node(g, "Relu", {"z"}, {"r"});
  add_node(g, "Conv", {"x", "W", "B"}, {"c"});
  add_node(g, "Add", {"c", residual}, {"s"});
  add_node(g, "Relu", {"s"}, {"y"});
  add_output(g, "y", 1);
  if (read_after) {
    add_node(g, "Mul", {residual, "y"}, {"also"});
    add_output(g, "also", 1);
  }
  return Session::from_bytes(serialize(model), {.intra_op_threads = 1, .optimization_level = OptimizationLevel::kAll});
}

std::vector<float> expected_y(const Tensor& x, const Tensor& residual) {
  std::vector<float> y(kOut * kPlane);
  for (int64_t m = 0; m < kOut; ++m) {
    for (int64_t p = 0; p < kPlane; ++p) {
      double sum = 0.25 * static_cast<double>(m);
      for (int64_t c = 0; c < kIn; ++c)
        sum += 0.1 * static_cast<double>(static_cast<int>((m * kIn + c) % 7) - 3) * x.data<float>()[c * kPlane + p];
      sum += residual.data<float>()[m * kPlane + p];
      y[static_cast<size_t>(m * kPlane + p)] = static_cast<float>(std::max(sum, 0.0));
    }
  }
  return y;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4f) << "element " << i;
}

Tensor relu_of(const Tensor& t) {
  Tensor r(DType::kFloat, t.shape());
  for (int64_t i = 0; i < t.element_count(); ++i) r.data<float>()[i] = std::max(t.data<float>()[i], 0.0f);
  return r;
}

TEST(OverwritableInputsTest, ResidualIntermediateReadOnlyByTheConvolution) {
  const Session session = residual_session(false, false);
  const Tensor x = filled({1, kIn, kSide, kSide}, 0.37f, 0.0f), z = filled({1, kOut, kSide, kSide}, 0.11f, -0.2f);
  for (int run = 0; run < 3; ++run) {
    const std::vector<RuntimeValue> out = session.run({{"x", x}, {"z", z}});
    expect_near(values_of(out[0].tensor()), expected_y(x, relu_of(z)));
  }
}

TEST(OverwritableInputsTest, ResidualStillReadLaterIsKept) {
  const Session session = residual_session(false, true);
  const Tensor x = filled({1, kIn, kSide, kSide}, 0.37f, 0.0f), z = filled({1, kOut, kSide, kSide}, 0.11f, -0.2f);
  const Tensor r = relu_of(z);
  const std::vector<RuntimeValue> out = session.run({{"x", x}, {"z", z}});
  const std::vector<float> y = expected_y(x, r);
  expect_near(values_of(out[0].tensor()), y);
  std::vector<float> products(y.size());
  for (size_t i = 0; i < products.size(); ++i) products[i] = r.data<float>()[i] * y[i];
  expect_near(values_of(out[1].tensor()), products);
}

TEST(OverwritableInputsTest, AFeedIsNeverWrittenOver) {
  const Session session = residual_session(true, false);
  const Tensor x = filled({1, kIn, kSide, kSide}, 0.37f, 0.0f), z = filled({1, kOut, kSide, kSide}, 0.11f, -0.2f);
  const std::vector<float> z_before = values_of(z);
  const std::vector<RuntimeValue> out = session.run({{"x", x}, {"z", z}});
  expect_near(values_of(out[0].tensor()), expected_y(x, z));
  EXPECT_EQ(values_of(z), z_before);
  EXPECT_NE(out[0].tensor().raw_data(), z.raw_data());
}

// An inverted-residual block on an 8x8 plane (the layout pass runs it channels-last as NhwcConv): the residual `a`
// is an intermediate the projection adds into in place. Checked against the unoptimized plan.
std::string inverted_residual_model() {
  onnx::ModelProto model = testing::make_model(17);
  auto* g = model.mutable_graph();
  constexpr int64_t c = 16;
  add_input(g, "x", 1, {int64_t{1}, c, int64_t{8}, int64_t{8}});
  auto weights = [](size_t count, int salt) {
    std::vector<float> w(count);
    for (size_t i = 0; i < count; ++i) w[i] = 0.05f * static_cast<float>(static_cast<int>((i * 7 + salt) % 11) - 5);
    return w;
  };
  testing::add_float_initializer(g, "W1", {c, c, 1, 1}, weights(c * c, 1));
  testing::add_float_initializer(g, "Wd", {c, 1, 3, 3}, weights(c * 9, 2));
  testing::add_float_initializer(g, "W2", {c, c, 1, 1}, weights(c * c, 3));
  add_node(g, "Conv", {"x", "W1"}, {"e"});
  add_node(g, "Relu", {"e"}, {"a"});
  auto* dw = add_node(g, "Conv", {"a", "Wd"}, {"d"});
  testing::add_int_attribute(dw, "group", c);
  testing::add_ints_attribute(dw, "pads", {1, 1, 1, 1});
  add_node(g, "Relu", {"d"}, {"dr"});
  add_node(g, "Conv", {"dr", "W2"}, {"p"});
  add_node(g, "Add", {"p", "a"}, {"s"});
  add_node(g, "Conv", {"s", "W1"}, {"y"});
  add_output(g, "y", 1);
  return serialize(model);
}

TEST(OverwritableInputsTest, ChannelsLastResidualMatchesTheUnoptimizedPlan) {
  const std::string bytes = inverted_residual_model();
  const Session optimized = Session::from_bytes(bytes, {.intra_op_threads = 1});
  const Session plain =
      Session::from_bytes(bytes, {.intra_op_threads = 1, .optimization_level = OptimizationLevel::kDisabled});
  const Tensor x = filled({1, 16, 8, 8}, 0.23f, 0.1f);
  const std::vector<float> want = values_of(plain.run({{"x", x}})[0].tensor());
  for (int run = 0; run < 2; ++run) expect_near(values_of(optimized.run({{"x", x}})[0].tensor()), want);
}

TEST(OverwritableInputsTest, OnlyMarkedUnsharedOwnedTensors) {
  Node node;
  node.op_type = "Test";
  const RuntimeValue owned(Tensor(DType::kFloat, {64, 64}));
  std::vector<float> memory(16);
  const RuntimeValue borrowed(Tensor(DType::kFloat, {16}, Storage::borrow(memory.data(), 64, nullptr)));
  std::vector<RuntimeValue> outputs(1);
  SerialParallelism parallelism;
  KernelContext context(node, {&owned, &borrowed}, outputs, parallelism, ValueLookup());
  EXPECT_FALSE(context.input_overwritable(0)) << "outside a run nothing is marked";
  const std::vector<bool> marks = {true, true};
  context.set_last_use_inputs(&marks);
  EXPECT_TRUE(context.input_overwritable(0));
  EXPECT_FALSE(context.input_overwritable(1)) << "borrowed memory";
  EXPECT_FALSE(context.input_overwritable(2)) << "no such input";
  {
    const Tensor copy = owned.tensor();  // a second holder (an alias, an observer)
    EXPECT_FALSE(context.input_overwritable(0));
  }
  EXPECT_TRUE(context.input_overwritable(0));
  const std::vector<bool> unmarked = {false, true};
  context.set_last_use_inputs(&unmarked);
  EXPECT_FALSE(context.input_overwritable(0));
}

}  // namespace
}  // namespace tessera

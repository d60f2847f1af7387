// qdq_fusion: static INT8 QDQ groups (DQ -> Conv/MatMul/Gemm -> [Relu/Clip] -> Q, as quantize_static writes them)
// become QLinearConv / QLinearMatMul / com.microsoft QGemm, with outputs within one quantization step of the unfused
// graph (most elements identical); groups whose activation would change quantized values, whose bias scale is not xs *
// ws, or whose intermediate values are read elsewhere stay.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "ir/graph_builder.h"
#include "pass_test_util.h"
#include "passes/pass.h"
#include "runtime/session.h"

namespace tessera {
namespace {

using pass_test::floats;
using pass_test::random_floats;
using pass_test::random_int8;

Tensor zero_point(DType type, int32_t value) {
  return type == DType::kInt8 ? Tensor::scalar<int8_t>(DType::kInt8, static_cast<int8_t>(value))
                              : Tensor::scalar<uint8_t>(DType::kUint8, static_cast<uint8_t>(value));
}

struct ConvCase {
  DType act = DType::kUint8;  // the activations' (x and y) type
  bool per_channel = false;
  bool bias = true;
  std::string activation;  // "", "Relu" or "Clip" (min 0, max clip_max)
  float clip_max = 6.0f;
  bool y_zp_min = false;  // yz = the type's minimum (else its middle)
  float ys = 0.25f;
  bool bad_bias_scale = false;
  bool conv_output_also_graph_output = false;
  bool float_bias = false;  // the bias a float initializer (as onnxruntime's quantize_static leaves some)
};

constexpr int64_t kIn = 8, kOut = 6;

// x (float) -> Q -> DQ -> Conv(., DQ(w), DQ(b)) -> [act] -> Q -> y_q (the graph output).
Model conv_model(const ConvCase& c) {
  const bool s8 = c.act == DType::kInt8;
  const float xs = 4.0f / 255.0f;
  std::vector<float> ws(kOut, 0.02f);
  if (c.per_channel) {
    for (int64_t m = 0; m < kOut; ++m) ws[m] = 0.01f + 0.004f * static_cast<float>(m);
  }
  Tensor b_q(DType::kInt32, {kOut});
  std::vector<float> bs(kOut);
  for (int64_t m = 0; m < kOut; ++m) {
    b_q.data<int32_t>()[m] = static_cast<int32_t>(m * 700 - 2000);
    bs[m] = xs * ws[m];
  }
  if (c.bad_bias_scale) bs[1] *= 1.0001f;
  const int32_t yz = c.y_zp_min ? (s8 ? -128 : 0) : (s8 ? 0 : 128);
  GraphBuilder b(13);
  b.input("x", DType::kFloat, {1, kIn, 10, 9})
      .initializer("xs", Tensor::scalar<float>(DType::kFloat, xs))
      .initializer("xz", zero_point(c.act, s8 ? -3 : 125))
      .initializer("w_q", random_int8({kOut, kIn, 3, 3}, 4))
      .initializer("ws", c.per_channel ? floats(ws) : Tensor::scalar<float>(DType::kFloat, ws[0]))
      .initializer("wz", c.per_channel ? Tensor(DType::kInt8, {kOut}) : Tensor::scalar<int8_t>(DType::kInt8, 0))
      .initializer("ys", Tensor::scalar<float>(DType::kFloat, c.ys))
      .initializer("yz", zero_point(c.act, yz))
      .node("QuantizeLinear", {"x", "xs", "xz"}, {"x_q"})
      .node("DequantizeLinear", {"x_q", "xs", "xz"}, {"x_dq"})
      .node("DequantizeLinear", {"w_q", "ws", "wz"}, {"w_dq"})
      .attr_int("axis", 0);
  std::vector<std::string> conv_inputs = {"x_dq", "w_dq"};
  if (c.bias && c.float_bias) {
    Tensor b_f(DType::kFloat, {kOut});
    for (int64_t m = 0; m < kOut; ++m)
      b_f.data<float>()[m] = static_cast<float>(b_q.data<int32_t>()[m]) * bs[m] + 0.0013f;
    b.initializer("b_f", b_f);
    conv_inputs.push_back("b_f");
  } else if (c.bias) {
    b.initializer("b_q", b_q)
        .initializer("bs", floats(bs))
        .node("DequantizeLinear", {"b_q", "bs"}, {"b_dq"})
        .attr_int("axis", 0);
    conv_inputs.push_back("b_dq");
  }
  b.node("Conv", conv_inputs, {"conv"}).attr_ints("pads", {1, 1, 1, 1});
  std::string pre_q = "conv";
  if (c.activation == "Relu") {
    b.node("Relu", {"conv"}, {"act"});
    pre_q = "act";
  } else if (c.activation == "Clip") {
    b.initializer("lo", Tensor::scalar<float>(DType::kFloat, 0.0f))
        .initializer("hi", Tensor::scalar<float>(DType::kFloat, c.clip_max))
        .node("Clip", {"conv", "lo", "hi"}, {"act"});
    pre_q = "act";
  }
  b.node("QuantizeLinear", {pre_q, "ys", "yz"}, {"y_q"}).output("y_q");
  if (c.conv_output_also_graph_output) b.output("conv");
  return b.build();
}

// Runs the model at kDisabled and at kAll on the same random input: int8/uint8 outputs within one step, at least
// `exact_fraction` of them identical, and not all one value.
void expect_within_one_step(const std::function<Model()>& make_model,
                            const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                            double exact_fraction = 0.9) {
  SessionOptions off;
  off.optimization_level = OptimizationLevel::kDisabled;
  SessionOptions on;
  on.optimization_level = OptimizationLevel::kAll;
  Session plain(make_model(), off);
  Session optimized(make_model(), on);
  const auto a = plain.run(feeds);
  const auto b = optimized.run(feeds);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    const Tensor& x = a[k].tensor();
    const Tensor& y = b[k].tensor();
    ASSERT_EQ(x.shape(), y.shape());
    ASSERT_EQ(x.dtype(), y.dtype());
    int64_t exact = 0, distinct_from_first = 0;
    for (int64_t i = 0; i < x.element_count(); ++i) {
      int e = 0, g = 0;
      if (x.dtype() == DType::kInt8) {
        e = x.data<int8_t>()[i], g = y.data<int8_t>()[i];
        distinct_from_first += e != x.data<int8_t>()[0];
      } else if (x.dtype() == DType::kUint8) {
        e = x.data<uint8_t>()[i], g = y.data<uint8_t>()[i];
        distinct_from_first += e != x.data<uint8_t>()[0];
      } else {
        FAIL() << "output " << k << " is " << dtype_name(x.dtype());
      }
      ASSERT_LE(std::abs(e - g), 1) << "output " << k << " element " << i;
      exact += e == g;
    }
    EXPECT_GE(static_cast<double>(exact), exact_fraction * static_cast<double>(x.element_count())) << "output " << k;
    EXPECT_GT(distinct_from_first, x.element_count() / 4) << "output " << k << ": too uniform to show anything";
  }
}

void check_conv(const ConvCase& c, bool fused) {
  Model model = conv_model(c);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  if (fused) {
    EXPECT_EQ(pass_test::count_ops(*model.graph, "QLinearConv"), 1);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "Conv"), 0);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "Relu") + pass_test::count_ops(*model.graph, "Clip"), 0);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "DequantizeLinear"), 0);
    EXPECT_EQ(pass_test::count_ops(*model.graph, "QuantizeLinear"), 1);  // the input's own
    EXPECT_EQ(model.graph->nodes.size(), 2u);
    const Node& qconv = *model.graph->nodes.back();
    EXPECT_EQ(qconv.op_type, "QLinearConv");
    EXPECT_EQ(qconv.inputs.size(), c.bias ? 9u : 8u);
    EXPECT_EQ(qconv.inputs[0], "x_q");
    EXPECT_EQ(qconv.inputs[3], "w_q");
    EXPECT_EQ(qconv.outputs[0], "y_q");
    EXPECT_EQ(qconv.attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  } else {
    EXPECT_EQ(pass_test::count_ops(*model.graph, "QLinearConv"), 0);
  }
  expect_within_one_step([&] { return conv_model(c); }, {{"x", random_floats({1, kIn, 10, 9}, 21)}}, fused ? 0.9 : 1.0);
}

TEST(QdqFusionTest, ConvPerTensorUint8WithBias) { check_conv({}, true); }

TEST(QdqFusionTest, ConvPerChannelInt8WithBias) {
  ConvCase c;
  c.act = DType::kInt8;
  c.per_channel = true;
  check_conv(c, true);
}

TEST(QdqFusionTest, ConvWithAFloatBiasQuantizesIt) {
  for (const bool per_channel : {false, true}) {
    ConvCase c;
    c.float_bias = true;
    c.per_channel = per_channel;
    check_conv(c, true);
  }
}

TEST(QdqFusionTest, ConvWithoutBias) {
  for (const DType act : {DType::kUint8, DType::kInt8}) {
    for (const bool per_channel : {false, true}) {
      ConvCase c;
      c.act = act;
      c.per_channel = per_channel;
      c.bias = false;
      check_conv(c, true);
    }
  }
}

TEST(QdqFusionTest, ReluTakenInOnlyWhenTheZeroPointIsTheMinimum) {
  for (const DType act : {DType::kUint8, DType::kInt8}) {
    ConvCase c;
    c.act = act;
    c.per_channel = true;
    c.activation = "Relu";
    c.y_zp_min = true;
    c.ys = 0.12f;
    check_conv(c, true);
    c.y_zp_min = false;  // Relu changes values Q would keep apart: not fused
    check_conv(c, false);
  }
}

TEST(QdqFusionTest, ClipTakenInWhenItsBoundsQuantizeToTheTypeRange) {
  ConvCase c;
  c.activation = "Clip";
  c.y_zp_min = true;
  c.clip_max = 6.0f;
  c.ys = 6.0f / 255.0f;  // ReLU6 with the output range [0, 6]: Q(6) = 255
  check_conv(c, true);
  c.ys = 0.1f;  // Q(6) = 60: the Clip matters
  check_conv(c, false);
}

TEST(QdqFusionTest, LeavesGroupsItCannotFuse) {
  ConvCase bad_bias;
  bad_bias.bad_bias_scale = true;
  check_conv(bad_bias, false);
  ConvCase shared;
  shared.conv_output_also_graph_output = true;
  Model model = conv_model(shared);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "QLinearConv"), 0);
  // Basic level keeps the QDQ form.
  Model basic = conv_model({});
  optimize_graph(*basic.graph, OptimizationLevel::kBasic);
  EXPECT_EQ(pass_test::count_ops(*basic.graph, "QLinearConv"), 0);
  EXPECT_EQ(pass_test::count_ops(*basic.graph, "Conv"), 1);
}

// a (float) -> Q -> DQ -> MatMul(., DQ(b_q)) -> Q -> y_q.
Model matmul_model(const std::vector<int64_t>& a_shape, bool per_column, DType act) {
  const bool s8 = act == DType::kInt8;
  constexpr int64_t kK = 16, kN = 12;
  std::vector<float> bs(kN);
  for (int64_t j = 0; j < kN; ++j) bs[j] = 0.01f + 0.002f * static_cast<float>(j);
  return GraphBuilder(13)
      .input("a", DType::kFloat, a_shape)
      .initializer("as", Tensor::scalar<float>(DType::kFloat, 4.0f / 255.0f))
      .initializer("az", zero_point(act, s8 ? 1 : 127))
      .initializer("b_q", random_int8({kK, kN}, 8))
      .initializer("bs", per_column ? floats(bs) : Tensor::scalar<float>(DType::kFloat, 0.02f))
      .initializer("bz", per_column ? Tensor(DType::kInt8, {kN}) : Tensor::scalar<int8_t>(DType::kInt8, 0))
      .initializer("ys", Tensor::scalar<float>(DType::kFloat, 0.06f))
      .initializer("yz", zero_point(act, s8 ? -2 : 130))
      .node("QuantizeLinear", {"a", "as", "az"}, {"a_q"})
      .node("DequantizeLinear", {"a_q", "as", "az"}, {"a_dq"})
      .node("DequantizeLinear", {"b_q", "bs", "bz"}, {"b_dq"})
      .attr_int("axis", 1)
      .node("MatMul", {"a_dq", "b_dq"}, {"p"})
      .node("QuantizeLinear", {"p", "ys", "yz"}, {"y_q"})
      .output("y_q")
      .build();
}

TEST(QdqFusionTest, MatMulBecomesQLinearMatMul) {
  for (const auto& shape : std::vector<std::vector<int64_t>>{{7, 16}, {2, 5, 16}}) {
    for (const bool per_column : {false, true}) {
      for (const DType act : {DType::kUint8, DType::kInt8}) {
        Model model = matmul_model(shape, per_column, act);
        optimize_graph(*model.graph, OptimizationLevel::kExtended);
        EXPECT_EQ(pass_test::count_ops(*model.graph, "QLinearMatMul"), 1);
        EXPECT_EQ(pass_test::count_ops(*model.graph, "MatMul"), 0);
        EXPECT_EQ(pass_test::count_ops(*model.graph, "DequantizeLinear"), 0);
        EXPECT_EQ(model.graph->nodes.size(), 2u);
        expect_within_one_step([&] { return matmul_model(shape, per_column, act); }, {{"a", random_floats(shape, 3)}});
      }
    }
  }
}

// a (float) -> Q -> DQ -> Gemm(., DQ(b_q), bias) -> Q -> y_q, as quantize_static writes a classifier: B stored [N, K]
// with transB (or [K, N]), per tensor or per output column, the bias an int32 vector through a DQ of scale
// as * bs[j] or a float vector; alpha 2 is left alone.
struct GemmCase {
  bool trans_b = true, per_column = false, float_bias = false;
  DType act = DType::kUint8;
  float alpha = 1.0f;
};

Model gemm_model(const GemmCase& c) {
  const bool s8 = c.act == DType::kInt8;
  constexpr int64_t kK = 20, kN = 9;
  const float as = 4.0f / 255.0f;
  std::vector<float> bs(kN);
  for (int64_t j = 0; j < kN; ++j) bs[j] = c.per_column ? 0.01f + 0.002f * static_cast<float>(j) : 0.02f;
  Tensor bias_q(DType::kInt32, {kN}), bias_scale(DType::kFloat, {kN});
  std::vector<float> bias_f(kN);
  for (int64_t j = 0; j < kN; ++j) {
    bias_q.data<int32_t>()[j] = static_cast<int32_t>(40 * j - 150);
    bias_scale.data<float>()[j] = as * bs[static_cast<size_t>(j)];
    bias_f[static_cast<size_t>(j)] = 0.05f * static_cast<float>(j) - 0.2f;
  }
  GraphBuilder builder(13);
  builder.input("a", DType::kFloat, {3, kK})
      .initializer("as", Tensor::scalar<float>(DType::kFloat, as))
      .initializer("az", zero_point(c.act, s8 ? 1 : 127))
      .initializer("b_q", random_int8(c.trans_b ? std::vector<int64_t>{kN, kK} : std::vector<int64_t>{kK, kN}, 9))
      .initializer("bs", c.per_column ? floats(bs) : Tensor::scalar<float>(DType::kFloat, 0.02f))
      .initializer("bz", c.per_column ? Tensor(DType::kInt8, {kN}) : Tensor::scalar<int8_t>(DType::kInt8, 0))
      .initializer("ys", Tensor::scalar<float>(DType::kFloat, 0.05f))
      .initializer("yz", zero_point(c.act, s8 ? -3 : 128))
      .node("QuantizeLinear", {"a", "as", "az"}, {"a_q"})
      .node("DequantizeLinear", {"a_q", "as", "az"}, {"a_dq"})
      .node("DequantizeLinear", {"b_q", "bs", "bz"}, {"b_dq"})
      .attr_int("axis", c.trans_b ? 0 : 1);
  if (c.float_bias) {
    builder.initializer("bias", floats(bias_f));
  } else {
    builder.initializer("bias_q", bias_q)
        .initializer("bias_s", c.per_column ? bias_scale : Tensor::scalar<float>(DType::kFloat, as * 0.02f))
        .node("DequantizeLinear", {"bias_q", "bias_s"}, {"bias"})
        .attr_int("axis", 0);
  }
  return builder.node("Gemm", {"a_dq", "b_dq", "bias"}, {"p"})
      .attr_int("transB", c.trans_b ? 1 : 0)
      .attr_float("alpha", c.alpha)
      .node("QuantizeLinear", {"p", "ys", "yz"}, {"y_q"})
      .output("y_q")
      .build();
}

TEST(QdqFusionTest, GemmBecomesQGemm) {
  for (const bool trans_b : {true, false}) {
    for (const bool per_column : {false, true}) {
      for (const bool float_bias : {false, true}) {
        for (const DType act : {DType::kUint8, DType::kInt8}) {
          const GemmCase c{trans_b, per_column, float_bias, act};
          Model model = gemm_model(c);
          optimize_graph(*model.graph, OptimizationLevel::kExtended);
          EXPECT_EQ(pass_test::count_ops(*model.graph, "QGemm"), 1);
          EXPECT_EQ(pass_test::count_ops(*model.graph, "Gemm"), 0);
          EXPECT_EQ(pass_test::count_ops(*model.graph, "DequantizeLinear"), 0);
          EXPECT_EQ(model.graph->nodes.size(), 2u);
          expect_within_one_step([&] { return gemm_model(c); }, {{"a", random_floats({3, 20}, 4)}});
        }
      }
    }
  }
  GemmCase scaled;
  scaled.alpha = 2.0f;
  Model model = gemm_model(scaled);
  optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "QGemm"), 0);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Gemm"), 1);
}

// Two convolutions in a row, as quantize_static writes a small conv net: the activation between them is quantized
// once and dequantized for the second Conv; the float output at the end is dequantized.
Model two_conv_model() {
  const float xs = 4.0f / 255.0f, ws = 0.02f, ys1 = 0.1f, ys2 = 0.2f;
  Tensor b1(DType::kInt32, {kOut}), b2(DType::kInt32, {4});
  for (int64_t m = 0; m < kOut; ++m) b1.data<int32_t>()[m] = static_cast<int32_t>(300 * m - 800);
  for (int64_t m = 0; m < 4; ++m) b2.data<int32_t>()[m] = static_cast<int32_t>(100 * m - 150);
  return GraphBuilder(13)
      .input("x", DType::kFloat, {1, kIn, 12, 12})
      .initializer("xs", Tensor::scalar<float>(DType::kFloat, xs))
      .initializer("xz", zero_point(DType::kUint8, 128))
      .initializer("w1", random_int8({kOut, kIn, 3, 3}, 1))
      .initializer("w2", random_int8({4, kOut, 1, 1}, 2))
      .initializer("ws", Tensor::scalar<float>(DType::kFloat, ws))
      .initializer("wz", Tensor::scalar<int8_t>(DType::kInt8, 0))
      .initializer("b1", b1)
      .initializer("b2", b2)
      .initializer("bs1", Tensor::scalar<float>(DType::kFloat, xs * ws))
      .initializer("bs2", Tensor::scalar<float>(DType::kFloat, ys1 * ws))
      .initializer("ys1", Tensor::scalar<float>(DType::kFloat, ys1))
      .initializer("yz1", zero_point(DType::kUint8, 0))
      .initializer("ys2", Tensor::scalar<float>(DType::kFloat, ys2))
      .initializer("yz2", zero_point(DType::kUint8, 128))
      .node("QuantizeLinear", {"x", "xs", "xz"}, {"x_q"})
      .node("DequantizeLinear", {"x_q", "xs", "xz"}, {"x_dq"})
      .node("DequantizeLinear", {"w1", "ws", "wz"}, {"w1_dq"})
      .node("DequantizeLinear", {"b1", "bs1"}, {"b1_dq"})
      .node("Conv", {"x_dq", "w1_dq", "b1_dq"}, {"c1"})
      .attr_ints("pads", {1, 1, 1, 1})
      .node("Relu", {"c1"}, {"r1"})
      .node("QuantizeLinear", {"r1", "ys1", "yz1"}, {"h_q"})
      .node("DequantizeLinear", {"h_q", "ys1", "yz1"}, {"h_dq"})
      .node("DequantizeLinear", {"w2", "ws", "wz"}, {"w2_dq"})
      .node("DequantizeLinear", {"b2", "bs2"}, {"b2_dq"})
      .node("Conv", {"h_dq", "w2_dq", "b2_dq"}, {"c2"})
      .node("QuantizeLinear", {"c2", "ys2", "yz2"}, {"y_q"})
      .node("DequantizeLinear", {"y_q", "ys2", "yz2"}, {"y"})
      .output("y")
      .build();
}

TEST(QdqFusionTest, SmallConvNetRunsOnIntegerOps) {
  Model model = two_conv_model();
  const auto reports = optimize_graph(*model.graph, OptimizationLevel::kExtended);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "QLinearConv"), 2);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Conv"), 0);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "Relu"), 0);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "QuantizeLinear"), 1);
  EXPECT_EQ(pass_test::count_ops(*model.graph, "DequantizeLinear"), 1);
  bool noted = false;
  for (const PassReport& r : reports) {
    if (r.pass == "qdq_fusion" && !r.changes.empty()) {
      noted = true;
      EXPECT_NE(r.changes[0].find("QLinearConv"), std::string::npos) << r.changes[0];
    }
  }
  EXPECT_TRUE(noted);
  // The float output: a step of the second layer can move by one unit of the first layer's step times the
  // weights, so allow a few output steps; most elements still agree exactly.
  SessionOptions off;
  off.optimization_level = OptimizationLevel::kDisabled;
  Session plain(two_conv_model(), off);
  Session optimized(two_conv_model(), SessionOptions{});
  const std::vector<std::pair<std::string, RuntimeValue>> feeds = {{"x", random_floats({1, kIn, 12, 12}, 5)}};
  const Tensor a = plain.run(feeds)[0].tensor();
  const Tensor b = optimized.run(feeds)[0].tensor();
  ASSERT_EQ(a.shape(), b.shape());
  int64_t exact = 0;
  for (int64_t i = 0; i < a.element_count(); ++i) {
    EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 3 * 0.2f + 1e-6f) << i;
    exact += a.data<float>()[i] == b.data<float>()[i];
  }
  EXPECT_GE(exact, a.element_count() * 8 / 10);
}

}  // namespace
}  // namespace tessera

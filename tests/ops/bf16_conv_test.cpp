// Convolutions on the bf16 GEMM (ops/conv/bf16_conv.h, and NhwcConv's pointwise path): float32 graphs under
// SessionOptions::matmul_precision = kBFloat16 against the float32 engine on operands rounded to bfloat16 (what the
// bf16 GEMM multiplies; bias and Z stay float32), for every bf16-gemm variant this CPU runs, on one thread and on
// three: pointwise, k x k with pads, strides and dilations, 1-D and 3-D, batch 2, bias, FusedConv's Z and
// activations, NhwcConv with channels-last X and NCHW Y. bfloat16 Conv against float32 on the same values;
// convolutions shallower than conv::kBf16ConvMinDepth or to fewer than conv::kBf16ConvMinChannels channels, grouped
// ones and fed weights stay on the float32 engine, bit for bit.
#include "ops/conv/bf16_conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../passes/pass_test_util.h"
#include "base/float_types.h"
#include "ir/graph_builder.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "runtime/session.h"

namespace tessera {
namespace {

struct ConvCase {
  std::string name;
  std::string domain;         // "" (Conv), com.microsoft (FusedConv) or com.tessera (NhwcConv)
  std::vector<int64_t> x, w;  // X and W shapes (X channels-last for NhwcConv)
  bool bias = true;
  bool z = false;          // FusedConv / NhwcConv sum input, of Y's shape
  std::vector<int64_t> y;  // Y's shape, for Z
  std::vector<std::pair<std::string, std::vector<int64_t>>> ints;
  std::string activation;  // FusedConv / NhwcConv
  int64_t group = 1;
  bool constant_w = true;
  bool nchw_output = false;  // NhwcConv: Y (and Z) channels-first
};

// Values of `shape` in [-1, 1]; with `rounded`, each rounded to bfloat16 (still float32).
Tensor values(const std::vector<int64_t>& shape, unsigned seed, bool rounded, DType dtype = DType::kFloat) {
  const Tensor f = pass_test::random_floats(shape, seed, 1.0f);
  Tensor out(dtype, shape);
  for (int64_t i = 0; i < f.element_count(); ++i) {
    const float v = f.data<float>()[i];
    const uint16_t bits = float_to_bfloat16(v);
    if (dtype == DType::kBFloat16) {
      static_cast<uint16_t*>(out.raw_data())[i] = bits;
    } else {
      out.data<float>()[i] = rounded ? bfloat16_to_float(bits) : v;
    }
  }
  return out;
}

// X and W rounded when `round_operands`; bias and Z never (the bf16 path keeps them float32).
Model model(const ConvCase& c, bool round_operands, DType dtype = DType::kFloat) {
  GraphBuilder g(17);
  g.opset(kMicrosoftDomain, 1).opset(kTesseraDomain, 1);
  std::vector<std::string> names = {"x", "w"};
  g.input("x", dtype, c.x);
  if (c.constant_w) {
    g.initializer("w", values(c.w, 2, round_operands, dtype));
  } else {
    g.input("w", dtype, c.w);
  }
  if (c.bias || c.z) {
    names.push_back(c.bias ? "b" : "");
    if (c.bias) g.initializer("b", values({c.w[0]}, 3, false, dtype));
  }
  if (c.z) {
    names.push_back("z");
    g.input("z", dtype, c.y);
  }
  const std::string op = c.domain.empty() ? "Conv" : (c.domain == kMicrosoftDomain ? "FusedConv" : "NhwcConv");
  g.node(op, names, {"y"}, c.domain);
  for (const auto& [name, v] : c.ints) g.attr_ints(name, v);
  if (c.group != 1) g.attr_int("group", c.group);
  if (c.nchw_output) g.attr_int("nchw_output", 1);
  if (!c.activation.empty()) g.attr_string("activation", c.activation);
  return g.output("y").build();
}

Tensor run(const ConvCase& c, bool round_operands, MatMulPrecision precision, int threads,
           DType dtype = DType::kFloat) {
  SessionOptions options;
  options.optimization_level = OptimizationLevel::kDisabled;
  options.intra_op_threads = threads;
  options.matmul_precision = precision;
  Session session(model(c, round_operands, dtype), options);
  std::vector<std::pair<std::string, RuntimeValue>> feeds = {{"x", values(c.x, 1, round_operands, dtype)}};
  if (!c.constant_w) feeds.emplace_back("w", values(c.w, 2, round_operands, dtype));
  if (c.z) feeds.emplace_back("z", values(c.y, 4, false, dtype));
  return session.run(feeds)[0].tensor();
}

std::vector<ConvCase> bf16_cases() {
  return {
      {"pointwise", "", {2, 70, 9, 11}, {65, 70, 1, 1}},
      {"pointwise no bias", "", {1, 64, 5, 7}, {64, 64, 1, 1}, false},
      {"3x3 pads", "", {2, 8, 10, 13}, {70, 8, 3, 3}, true, false, {}, {{"pads", {1, 1, 1, 1}}}},
      {"3x3 stride 2",
       "",
       {1, 16, 13, 15},
       {97, 16, 3, 3},
       true,
       false,
       {},
       {{"pads", {1, 1, 1, 1}}, {"strides", {2, 2}}}},
      {"7x7 stem", "", {1, 3, 20, 18}, {64, 3, 7, 7}, true, false, {}, {{"pads", {3, 3, 3, 3}}, {"strides", {2, 2}}}},
      {"dilated uneven pads",
       "",
       {1, 9, 12, 12},
       {66, 9, 3, 3},
       true,
       false,
       {},
       {{"pads", {2, 0, 1, 2}}, {"dilations", {2, 2}}}},
      {"strided pointwise", "", {1, 66, 9, 9}, {72, 66, 1, 1}, true, false, {}, {{"strides", {2, 2}}}},
      {"1-D", "", {2, 20, 31}, {67, 20, 5}, true, false, {}, {{"pads", {2, 1}}, {"strides", {2}}, {"dilations", {2}}}},
      {"3-D", "", {1, 3, 6, 7, 5}, {64, 3, 3, 3, 3}, true, false, {}, {{"pads", {1, 1, 1, 1, 1, 1}}}},
      {"FusedConv Z Relu",
       kMicrosoftDomain,
       {2, 16, 8, 9},
       {75, 16, 3, 3},
       true,
       true,
       {2, 75, 8, 9},
       {{"pads", {1, 1, 1, 1}}},
       "Relu"},
      {"FusedConv pointwise Z", kMicrosoftDomain, {1, 96, 7, 7}, {130, 96, 1, 1}, true, true, {1, 130, 7, 7}, {}, ""},
      {"FusedConv Sigmoid", kMicrosoftDomain, {1, 72, 6, 6}, {64, 72, 1, 1}, true, false, {}, {}, "Sigmoid"},
      {"NhwcConv pointwise", kTesseraDomain, {2, 7, 6, 80}, {81, 80, 1, 1}, true, false, {}, {}, "Relu"},
      {"NhwcConv pointwise Z", kTesseraDomain, {1, 5, 5, 96}, {65, 96, 1, 1}, true, true, {1, 5, 5, 65}, {}, ""},
      // Channels-last X to NCHW Y (a chain's last edge): conv_bf16 with X's rows packed as transposed B strips.
      {"NhwcConv pointwise NCHW Y",
       kTesseraDomain,
       {2, 7, 6, 81},
       {70, 81, 1, 1},
       true,
       false,
       {},
       {},
       "Relu",
       1,
       true,
       true},
      {"NhwcConv pointwise NCHW Y and Z",
       kTesseraDomain,
       {1, 5, 9, 96},
       {65, 96, 1, 1},
       true,
       true,
       {1, 65, 5, 9},
       {},
       "",
       1,
       true,
       true},
  };
}

TEST(Bf16Conv, Float32UnderBf16PrecisionMatchesFloat32OnRoundedOperands) {
  for (const std::string& kernel : bf16_gemm_kernel_names()) {
    ASSERT_TRUE(bf16_gemm_select_kernel(kernel));
    for (const ConvCase& c : bf16_cases()) {
      const Tensor rounded = run(c, true, MatMulPrecision::kFloat32, 1);
      const Tensor fp32 = run(c, false, MatMulPrecision::kFloat32, 1);
      for (const int threads : {1, 3}) {
        SCOPED_TRACE(kernel + " " + c.name + " threads " + std::to_string(threads));
        const Tensor got = run(c, false, MatMulPrecision::kBFloat16, threads);
        ASSERT_EQ(got.dtype(), DType::kFloat);
        ASSERT_EQ(got.shape(), rounded.shape());
        double worst = 0.0;
        for (int64_t i = 0; i < got.element_count(); ++i) {
          const float e = rounded.data<float>()[i], g = got.data<float>()[i];
          ASSERT_NEAR(g, e, 2e-4f * (1.0f + std::fabs(e))) << "element " << i;
          worst = std::max(worst, static_cast<double>(std::fabs(g - fp32.data<float>()[i])));
        }
        EXPECT_GT(worst, 1e-4) << "no bfloat16 rounding seen: the float32 engine ran";
      }
      if (HasFatalFailure()) break;
    }
    bf16_gemm_select_kernel("");
  }
}

TEST(Bf16Conv, BFloat16ConvMatchesFloat32OnTheSameValues) {
  for (const std::string& kernel : bf16_gemm_kernel_names()) {
    ASSERT_TRUE(bf16_gemm_select_kernel(kernel));
    for (const ConvCase& c : bf16_cases()) {
      if (c.domain == kTesseraDomain) continue;  // NhwcConv is float32 only
      SCOPED_TRACE(kernel + " " + c.name);
      // The same values as bfloat16 tensors and as float32 ones; bias and Z bfloat16 in both.
      ConvCase exact = c;
      const Tensor expected = run(exact, true, MatMulPrecision::kFloat32, 1);
      const Tensor got = run(exact, true, MatMulPrecision::kFloat32, 3, DType::kBFloat16);
      ASSERT_EQ(got.dtype(), DType::kBFloat16);
      ASSERT_EQ(got.shape(), expected.shape());
      for (int64_t i = 0; i < got.element_count(); ++i) {
        const float e = expected.data<float>()[i];
        const float g = bfloat16_to_float(static_cast<const uint16_t*>(got.raw_data())[i]);
        // The float32 run's bias and Z are the float32 values the bfloat16 ones were rounded from.
        ASSERT_NEAR(g, e, std::ldexp(std::fabs(e), -7) + 2e-2f) << "element " << i;
      }
    }
    bf16_gemm_select_kernel("");
  }
}

TEST(Bf16Conv, ShallowGroupedAndFedWeightsStayOnTheFloat32Engine) {
  ConvCase shallow{"shallow", "", {1, 7, 9, 9}, {80, 7, 3, 3}, true, false, {}, {{"pads", {1, 1, 1, 1}}}};
  ASSERT_LT(7 * 9, conv::kBf16ConvMinDepth);
  ConvCase few_channels{"few channels", "", {1, 96, 9, 9}, {24, 96, 1, 1}};
  ASSERT_LT(24, conv::kBf16ConvMinChannels);
  ConvCase grouped{"grouped", "", {1, 128, 6, 6}, {64, 64, 1, 1}};
  grouped.group = 2;
  ConvCase fed{"fed", "", {1, 96, 5, 5}, {20, 96, 1, 1}};
  fed.constant_w = false;
  ConvCase nhwc_shallow{"NhwcConv shallow", kTesseraDomain, {1, 4, 4, 32}, {96, 32, 1, 1}};
  ConvCase nhwc_few{"NhwcConv few channels", kTesseraDomain, {1, 4, 4, 96}, {24, 96, 1, 1}};
  for (const ConvCase& c : {shallow, few_channels, grouped, fed, nhwc_shallow, nhwc_few}) {
    SCOPED_TRACE(c.name);
    const Tensor fp32 = run(c, false, MatMulPrecision::kFloat32, 1);
    const Tensor bf16 = run(c, false, MatMulPrecision::kBFloat16, 1);
    ASSERT_EQ(fp32.shape(), bf16.shape());
    EXPECT_EQ(0, std::memcmp(fp32.raw_data(), bf16.raw_data(), static_cast<size_t>(fp32.element_count()) * 4));
  }
}

}  // namespace
}  // namespace tessera

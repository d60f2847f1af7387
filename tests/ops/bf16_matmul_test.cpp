// MatMul, FusedMatMul, Gemm and FusedGemm on bfloat16 inputs (the bf16 GEMM route, kernels/bf16-gemm) against
// the same graphs in float32 on the same values (the widened f32 path), within bfloat16 rounding: constant and
// fed B, shared and batched B, 1-D A, alpha, transB, every form of Gemm's C, fused activations, and transA (which
// still goes through float32); for every bf16-gemm variant this CPU runs, on one thread and on three. And float32
// graphs under SessionOptions::matmul_precision = kBFloat16: a constant B runs on the bf16 GEMM (the float32 result
// on operands rounded to bfloat16), a fed B stays on the f32 GEMM, bit for bit.
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

// A node's inputs: shape and whether it is a constant initializer (input 0 is always fed).
struct Operand {
  std::vector<int64_t> shape;
  bool constant = false;
};

struct Case {
  std::string domain;  // "" (ai.onnx) or com.microsoft
  std::string op;
  std::vector<Operand> inputs;
  std::vector<std::pair<std::string, int64_t>> ints;
  std::vector<std::pair<std::string, float>> floats;
  std::vector<std::pair<std::string, std::string>> strings;
};

// Which inputs get values that bfloat16 holds exactly: all, only A and B (inputs 0 and 1), or none (float32).
enum class Exact { kAll, kOperands, kNone };

bool exact_input(Exact exact, size_t input) { return exact == Exact::kAll || (exact == Exact::kOperands && input < 2); }

// Random values that bfloat16 holds exactly, as a tensor of `dtype` (bfloat16 or float32); with `exact` false,
// the float32 values they were rounded from.
Tensor values(const std::vector<int64_t>& shape, unsigned seed, DType dtype, bool exact = true) {
  const Tensor f = pass_test::random_floats(shape, seed);
  if (!exact) return f;
  Tensor out(dtype, shape);
  for (int64_t i = 0; i < f.element_count(); ++i) {
    const uint16_t bits = float_to_bfloat16(f.data<float>()[i]);
    if (dtype == DType::kBFloat16) {
      static_cast<uint16_t*>(out.raw_data())[i] = bits;
    } else {
      out.data<float>()[i] = bfloat16_to_float(bits);
    }
  }
  return out;
}

Model model(const Case& c, DType dtype, Exact exact = Exact::kAll) {
  GraphBuilder g(17);
  g.opset(kMicrosoftDomain, 1).opset(kTesseraDomain, 1);
  std::vector<std::string> names;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    names.push_back(name);
    if (c.inputs[i].constant) {
      g.initializer(name, values(c.inputs[i].shape, static_cast<unsigned>(10 + i), dtype, exact_input(exact, i)));
    } else {
      g.input(name, dtype, c.inputs[i].shape);
    }
  }
  g.node(c.op, names, {"y"}, c.domain);
  for (const auto& [name, v] : c.ints) g.attr_int(name, v);
  for (const auto& [name, v] : c.floats) g.attr_float(name, v);
  for (const auto& [name, v] : c.strings) g.attr_string(name, v);
  return g.output("y").build();
}

Tensor run(const Case& c, DType dtype, int threads, MatMulPrecision precision = MatMulPrecision::kFloat32,
           Exact exact = Exact::kAll) {
  SessionOptions options;
  options.optimization_level = OptimizationLevel::kDisabled;
  options.intra_op_threads = threads;
  options.matmul_precision = precision;
  Session session(model(c, dtype, exact), options);
  std::vector<std::pair<std::string, RuntimeValue>> feeds;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i].constant) {
      feeds.emplace_back("in" + std::to_string(i),
                         values(c.inputs[i].shape, static_cast<unsigned>(10 + i), dtype, exact_input(exact, i)));
    }
  }
  return session.run(feeds)[0].tensor();
}

// The bfloat16 result is the float32 one rounded to bfloat16 (half an ulp: 2^-8 relative), give or take the
// float32 rounding of sums taken in another order.
void expect_bf16_close(const Case& c, int threads) {
  const Tensor expected = run(c, DType::kFloat, 1);
  const Tensor got = run(c, DType::kBFloat16, threads);
  ASSERT_EQ(got.dtype(), DType::kBFloat16);
  ASSERT_EQ(got.shape(), expected.shape());
  for (int64_t i = 0; i < got.element_count(); ++i) {
    const float e = expected.data<float>()[i];
    const float g = bfloat16_to_float(static_cast<const uint16_t*>(got.raw_data())[i]);
    ASSERT_NEAR(g, e, std::ldexp(std::fabs(e), -8) + 1e-3f) << c.op << " element " << i;
  }
}

std::vector<Case> cases() {
  return {
      {"", "MatMul", {{{2, 13, 37}}, {{37, 29}, true}}, {}, {}, {}},
      {"", "MatMul", {{{5, 33}}, {{33, 17}}}, {}, {}, {}},
      {"", "MatMul", {{{3, 2, 11, 24}}, {{3, 2, 24, 19}}}, {}, {}, {}},
      {"", "MatMul", {{{2, 9, 20}}, {{20, 35}}}, {}, {}, {}},
      {"", "MatMul", {{{37}}, {{37, 29}, true}}, {}, {}, {}},
      {"", "MatMul", {{{3, 0}}, {{0, 4}}}, {}, {}, {}},
      {"", "Gemm", {{{3, 0}}, {{0, 4}, true}, {{4}, true}}, {}, {}, {}},
      {kMicrosoftDomain, "FusedMatMul", {{{17, 40}}, {{23, 40}, true}}, {{"transB", 1}}, {{"alpha", 0.5f}}, {}},
      {kMicrosoftDomain, "FusedMatMul", {{{4, 17, 40}}, {{4, 23, 40}}}, {{"transB", 1}}, {{"alpha", 2.0f}}, {}},
      {kMicrosoftDomain, "FusedMatMul", {{{40, 17}}, {{40, 23}, true}}, {{"transA", 1}}, {}, {}},
      {"",
       "Gemm",
       {{{19, 45}}, {{31, 45}, true}, {{31}, true}},
       {{"transB", 1}},
       {{"alpha", 1.5f}, {"beta", 0.5f}},
       {}},
      {"", "Gemm", {{{19, 45}}, {{45, 31}}, {{19, 31}}}, {}, {{"beta", 2.0f}}, {}},
      {"", "Gemm", {{{19, 45}}, {{45, 31}, true}, {{19, 1}, true}}, {}, {}, {}},
      {"", "Gemm", {{{45, 19}}, {{45, 31}, true}, {{31}, true}}, {{"transA", 1}}, {}, {}},
      {kMicrosoftDomain, "FusedGemm", {{{19, 45}}, {{45, 31}, true}, {{31}, true}}, {}, {}, {{"activation", "Relu"}}},
      {kMicrosoftDomain,
       "FusedGemm",
       {{{19, 45}}, {{45, 31}, true}, {{19, 31}, true}},
       {},
       {},
       {{"activation", "LeakyRelu"}}},
  };
}

TEST(Bf16MatMul, MatchesTheFloat32PathWithinBf16Rounding) {
  for (const std::string& kernel : bf16_gemm_kernel_names()) {
    ASSERT_TRUE(bf16_gemm_select_kernel(kernel));
    for (const Case& c : cases()) {
      for (const int threads : {1, 3}) {
        SCOPED_TRACE(kernel + " " + c.op + " threads " + std::to_string(threads));
        expect_bf16_close(c, threads);
        if (HasFatalFailure()) break;
      }
    }
    bf16_gemm_select_kernel("");
  }
}

TEST(Bf16MatMul, Float32UnderBf16PrecisionRoundsOperandsOfConstantWeights) {
  const std::vector<Case> constant_b = {
      {"", "MatMul", {{{2, 13, 37}}, {{37, 29}, true}}, {}, {}, {}},
      {"", "Gemm", {{{19, 45}}, {{31, 45}, true}, {{31}, true}}, {{"transB", 1}}, {{"alpha", 1.5f}}, {}},
      {kTesseraDomain, "MatMulBias", {{{3, 7, 40}}, {{40, 33}, true}, {{33}, true}}, {}, {}, {{"activation", "Gelu"}}},
  };
  for (const Case& c : constant_b) {
    SCOPED_TRACE(c.op);
    // The float32 graph on A and B rounded to bfloat16 (what the bf16 GEMM multiplies; biases stay float32).
    const Tensor rounded = run(c, DType::kFloat, 1, MatMulPrecision::kFloat32, Exact::kOperands);
    const Tensor fp32 = run(c, DType::kFloat, 1, MatMulPrecision::kFloat32, Exact::kNone);
    const Tensor bf16 = run(c, DType::kFloat, 3, MatMulPrecision::kBFloat16, Exact::kNone);
    ASSERT_EQ(bf16.dtype(), DType::kFloat);
    double worst = 0.0;
    for (int64_t i = 0; i < bf16.element_count(); ++i) {
      const float e = rounded.data<float>()[i], g = bf16.data<float>()[i];
      ASSERT_NEAR(g, e, 1e-4f * (1.0f + std::fabs(e))) << "element " << i;
      worst = std::max(worst, static_cast<double>(std::fabs(g - fp32.data<float>()[i])));
    }
    EXPECT_GT(worst, 1e-3) << "no bfloat16 rounding seen: the f32 GEMM ran";
  }
  // A fed B stays on the f32 GEMM.
  const Case fed = {"", "MatMul", {{{5, 33}}, {{33, 17}}}, {}, {}, {}};
  const Tensor fp32 = run(fed, DType::kFloat, 1, MatMulPrecision::kFloat32, Exact::kNone);
  const Tensor bf16 = run(fed, DType::kFloat, 1, MatMulPrecision::kBFloat16, Exact::kNone);
  ASSERT_EQ(0, std::memcmp(fp32.raw_data(), bf16.raw_data(), static_cast<size_t>(fp32.element_count()) * 4));
}

}  // namespace
}  // namespace tessera

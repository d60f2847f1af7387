// Tests of the elementwise, activation and cast families: broadcast plans, the fast (contiguous, scalar and
// merged-broadcast, serial and two-thread) paths against naive references on random odd-sized inputs, the
// vectorizable float approximations against libm, integer and float edge cases, Cast's conversion rules, and
// the error cases (bad shapes, types and attributes).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "ops/cast/cast_convert.h"
#include "ops/cast/cast_string.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

Attribute int_attr(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInt;
  a.i = v;
  return a;
}

Attribute float_attr(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloat;
  a.f = v;
  return a;
}

Attribute string_attr(const std::string& name, std::string v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kString;
  a.s = std::move(v);
  return a;
}

// Runs one node of `op_type` at `opset` on `inputs` (an undefined Tensor is a missing input).
Tensor run_op(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
              const std::vector<Tensor>& inputs, Parallelism* parallelism = nullptr) {
  Node node;
  node.name = "n";
  node.op_type = op_type;
  node.opset = opset;
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(inputs[i].defined() ? "in" + std::to_string(i) : "");
  node.outputs.push_back("out");
  for (const Attribute& a : attrs) node.attributes[a.name] = a;
  const OpRegistration* reg = OpRegistry::instance().find("", op_type, opset);
  if (reg == nullptr) throw Error(ErrorCode::kUnsupported, "no kernel for " + op_type);
  std::vector<TypeInfo> input_types;
  for (const Tensor& t : inputs) {
    input_types.push_back(t.defined() ? TypeInfo::tensor_of_shape(t.dtype(), t.shape()) : TypeInfo{});
  }
  KernelInfo info{node, opset, input_types, {}, std::vector<const Tensor*>(inputs.size(), nullptr), {}};
  std::unique_ptr<Kernel> kernel = reg->factory(info);
  std::vector<RuntimeValue> values;
  for (const Tensor& t : inputs) values.emplace_back(t.defined() ? RuntimeValue(t) : RuntimeValue());
  std::vector<const RuntimeValue*> input_ptrs;
  for (const RuntimeValue& v : values) input_ptrs.push_back(&v);
  std::vector<RuntimeValue> outputs(1);
  SerialParallelism serial;
  KernelContext ctx(node, input_ptrs, outputs, parallelism ? *parallelism : serial, {});
  kernel->compute(ctx);
  return outputs[0].tensor();
}

Tensor random_float(const std::vector<int64_t>& shape, uint32_t seed, float lo = -3.0f, float hi = 3.0f) {
  Tensor t(DType::kFloat, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

template <typename T>
Tensor make_tensor(DType dtype, const std::vector<int64_t>& shape, const std::vector<T>& values) {
  Tensor t(dtype, shape);
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.element_count());
}

// Element offset of output index `flat` in an input of shape `in` broadcast to `out`.
int64_t broadcast_offset(int64_t flat, const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  int64_t offset = 0;
  int64_t stride = 1;
  for (size_t k = 0; k < out.size(); ++k) {
    const size_t axis = out.size() - 1 - k;
    const int64_t index = flat % out[axis];
    flat /= out[axis];
    if (k < in.size()) {
      const int64_t dim = in[in.size() - 1 - k];
      if (dim != 1) offset += index * stride;
      stride *= dim;
    }
  }
  return offset;
}

// Naive broadcast binary op on floats.
Tensor naive_binary(const Tensor& a, const Tensor& b, const std::function<float(float, float)>& f) {
  const std::vector<int64_t> shape = broadcast_shape(a.shape(), b.shape());
  Tensor out(DType::kFloat, shape);
  for (int64_t i = 0; i < out.element_count(); ++i) {
    out.data<float>()[i] = f(a.data<float>()[broadcast_offset(i, a.shape(), shape)],
                             b.data<float>()[broadcast_offset(i, b.shape(), shape)]);
  }
  return out;
}

void expect_same_floats(const Tensor& actual, const Tensor& expected, float rtol = 0.0f) {
  ASSERT_EQ(actual.shape(), expected.shape());
  for (int64_t i = 0; i < actual.element_count(); ++i) {
    const float x = actual.data<float>()[i];
    const float y = expected.data<float>()[i];
    if (std::isnan(y)) {
      ASSERT_TRUE(std::isnan(x)) << "at " << i;
    } else {
      ASSERT_NEAR(x, y, rtol * std::fabs(y) + 1e-30f) << "at " << i;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Broadcast plans

TEST(ElementwiseBroadcast, SameShapesMergeIntoOneRun) {
  const std::vector<int64_t> s = {3, 5, 7};
  const auto plan = elementwise::plan_broadcast<2>({&s, &s}, s);
  EXPECT_EQ(plan.dims, std::vector<int64_t>({105}));
  EXPECT_EQ(plan.inner_stride(0), 1);
  EXPECT_EQ(plan.inner_stride(1), 1);
}

TEST(ElementwiseBroadcast, ScalarAndPerChannelOperands) {
  const std::vector<int64_t> x = {2, 3, 4, 5};
  const std::vector<int64_t> scalar = {};
  const auto scalar_plan = elementwise::plan_broadcast<2>({&x, &scalar}, x);
  EXPECT_EQ(scalar_plan.dims, std::vector<int64_t>({120}));
  EXPECT_EQ(scalar_plan.inner_stride(1), 0);
  const std::vector<int64_t> channel = {3, 1, 1};
  const auto channel_plan = elementwise::plan_broadcast<2>({&x, &channel}, x);
  EXPECT_EQ(channel_plan.dims, std::vector<int64_t>({2, 3, 20}));
  EXPECT_EQ(channel_plan.strides[1], std::vector<int64_t>({0, 1, 0}));
}

TEST(ElementwiseBroadcast, AllOnesOutputIsOneElement) {
  const std::vector<int64_t> one = {1, 1};
  const auto plan = elementwise::plan_broadcast<1>({&one}, one);
  EXPECT_EQ(plan.dims, std::vector<int64_t>({1}));
  EXPECT_EQ(plan.count, 1);
}

// ---------------------------------------------------------------------------------------------------------
// Binary arithmetic: fast paths against the naive reference

struct ShapePair {
  std::vector<int64_t> a;
  std::vector<int64_t> b;
};

const std::vector<ShapePair> kShapePairs = {
    {{7, 13}, {7, 13}},        {{7, 13}, {}},          {{}, {7, 13}},
    {{3, 5, 7}, {5, 1}},       {{3, 1, 7}, {1, 5, 1}}, {{1}, {9, 11}},
    {{2, 3, 4, 5}, {3, 1, 1}}, {{11, 1}, {1, 17}},     {{4, 0, 3}, {3}},
    {{257, 263}, {263}},       {{263, 257}, {263, 1}}, {{70001}, {70001}},
};

TEST(ElementwiseArithmetic, MatchesNaiveReferenceSeriallyAndOnTwoThreads) {
  ThreadPool pool(2);
  const std::vector<std::pair<std::string, std::function<float(float, float)>>> ops = {
      {"Add", [](float x, float y) { return x + y; }},
      {"Sub", [](float x, float y) { return x - y; }},
      {"Mul", [](float x, float y) { return x * y; }},
      {"Div", [](float x, float y) { return x / y; }},
  };
  uint32_t seed = 1;
  for (const ShapePair& shapes : kShapePairs) {
    const Tensor a = random_float(shapes.a, seed++);
    const Tensor b = random_float(shapes.b, seed++, 0.5f, 2.0f);
    for (const auto& [op, f] : ops) {
      SCOPED_TRACE(op + " " + shape_to_string(shapes.a) + " " + shape_to_string(shapes.b));
      const Tensor expected = naive_binary(a, b, f);
      expect_same_floats(run_op(op, 14, {}, {a, b}), expected);
      expect_same_floats(run_op(op, 14, {}, {a, b}, &pool), expected);
    }
  }
}

TEST(ElementwiseArithmetic, LegacyBroadcastWithAxis) {
  const Tensor a = random_float({2, 3, 4, 5}, 3);
  const Tensor b = random_float({3, 4}, 4);
  const Tensor out = run_op("Add", 6, {int_attr("broadcast", 1), int_attr("axis", 1)}, {a, b});
  ASSERT_EQ(out.shape(), a.shape());
  for (int64_t i = 0; i < out.element_count(); ++i) {
    const int64_t b_index = (i / 5) % 12;
    ASSERT_EQ(out.data<float>()[i], a.data<float>()[i] + b.data<float>()[b_index]);
  }
  // Without axis B aligns with the trailing dims.
  const Tensor c = random_float({5}, 5);
  const Tensor out2 = run_op("Mul", 1, {int_attr("broadcast", 1)}, {a, c});
  EXPECT_EQ(out2.data<float>()[7], a.data<float>()[7] * c.data<float>()[2]);
  EXPECT_THROW(run_op("Add", 6, {int_attr("broadcast", 1), int_attr("axis", 3)}, {a, b}), Error);
}

TEST(ElementwiseArithmetic, IntegersWrapAndDivisionTruncates) {
  const Tensor a = make_tensor<int32_t>(DType::kInt32, {4}, {INT32_MAX, -7, 7, INT32_MIN});
  const Tensor b = make_tensor<int32_t>(DType::kInt32, {4}, {1, 2, -2, -1});
  EXPECT_EQ(values_of<int32_t>(run_op("Add", 14, {}, {a, b})), (std::vector<int32_t>{INT32_MIN, -5, 5, INT32_MAX}));
  EXPECT_EQ(values_of<int32_t>(run_op("Div", 14, {}, {a, b})), (std::vector<int32_t>{INT32_MAX, -3, -3, INT32_MIN}));
  const Tensor u = make_tensor<uint8_t>(DType::kUint8, {2}, {250, 3});
  const Tensor v = make_tensor<uint8_t>(DType::kUint8, {2}, {10, 5});
  EXPECT_EQ(values_of<uint8_t>(run_op("Add", 14, {}, {u, v})), (std::vector<uint8_t>{4, 8}));
  EXPECT_EQ(values_of<uint8_t>(run_op("Sub", 14, {}, {u, v})), (std::vector<uint8_t>{240, 254}));
}

TEST(ElementwiseArithmetic, Float16ComputesInFloat) {
  Tensor a(DType::kFloat16, {3});
  Tensor b(DType::kFloat16, {});
  for (int i = 0; i < 3; ++i) a.data<Float16>()[i] = Float16{float_to_half(0.5f * static_cast<float>(i + 1))};
  b.data<Float16>()[0] = Float16{float_to_half(2.0f)};
  const Tensor out = run_op("Mul", 14, {}, {a, b});
  EXPECT_EQ(half_to_float(out.data<Float16>()[2].bits), 3.0f);
}

TEST(ElementwiseArithmetic, Errors) {
  const Tensor a = random_float({2, 3}, 1);
  EXPECT_THROW(run_op("Add", 14, {}, {a, random_float({4}, 2)}), Error);  // shapes do not broadcast
  const Tensor i = make_tensor<int32_t>(DType::kInt32, {2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(run_op("Add", 14, {}, {a, i}), Error);  // mixed types
  const Tensor zero = make_tensor<int32_t>(DType::kInt32, {1}, {0});
  EXPECT_THROW(run_op("Div", 14, {}, {i, zero}), Error);  // integer division by zero
  EXPECT_THROW(run_op("Mod", 13, {}, {i, zero}), Error);
  Tensor s(DType::kString, {1});
  EXPECT_THROW(run_op("Add", 14, {}, {s, s}), Error);  // no arithmetic on strings
  EXPECT_THROW(run_op("Sqrt", 13, {}, {i}), Error);    // float-only op
}

// ---------------------------------------------------------------------------------------------------------
// Pow, Mod, bit ops

TEST(ElementwisePow, MixedTypesAndIntegerExponents) {
  const Tensor x = make_tensor<int64_t>(DType::kInt64, {4}, {2, -3, 5, 2});
  const Tensor y = make_tensor<int64_t>(DType::kInt64, {4}, {10, 3, 0, -1});
  EXPECT_EQ(values_of<int64_t>(run_op("Pow", 15, {}, {x, y})), (std::vector<int64_t>{1024, -27, 1, 0}));
  const Tensor f = make_tensor<float>(DType::kFloat, {3}, {2.0f, 9.0f, -2.0f});
  const Tensor e = make_tensor<int32_t>(DType::kInt32, {3}, {3, 0, 2});
  EXPECT_EQ(values_of<float>(run_op("Pow", 15, {}, {f, e})), (std::vector<float>{8.0f, 1.0f, 4.0f}));
  const Tensor half = make_tensor<float>(DType::kFloat, {1}, {0.5f});
  EXPECT_EQ(values_of<int64_t>(run_op("Pow", 15, {}, {x, half}))[0], 1);  // sqrt(2) truncated
  EXPECT_THROW(run_op("Pow", 7, {}, {f, e}), Error);                      // one type before opset 12
}

TEST(ElementwiseMod, IntegerAndFloatSignRules) {
  const Tensor a = make_tensor<int32_t>(DType::kInt32, {4}, {-7, 7, -7, INT32_MIN});
  const Tensor b = make_tensor<int32_t>(DType::kInt32, {4}, {3, -3, -3, -1});
  EXPECT_EQ(values_of<int32_t>(run_op("Mod", 13, {}, {a, b})), (std::vector<int32_t>{2, -2, -1, 0}));
  EXPECT_EQ(values_of<int32_t>(run_op("Mod", 13, {int_attr("fmod", 1)}, {a, b})), (std::vector<int32_t>{-1, 1, -1, 0}));
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = make_tensor<float>(DType::kFloat, {5}, {-7.5f, 3.0f, inf, 2.0f, -2.0f});
  const Tensor y = make_tensor<float>(DType::kFloat, {5}, {2.0f, 0.0f, 1.0f, -inf, -inf});
  const std::vector<float> floor_mod = values_of<float>(run_op("Mod", 13, {}, {x, y}));
  EXPECT_EQ(floor_mod[0], 0.5f);
  EXPECT_TRUE(std::isnan(floor_mod[1]));
  EXPECT_TRUE(std::isnan(floor_mod[2]));
  EXPECT_EQ(floor_mod[3], -inf);   // signs differ: the divisor
  EXPECT_EQ(floor_mod[4], -2.0f);  // signs agree: the dividend
  EXPECT_EQ(values_of<float>(run_op("Mod", 13, {int_attr("fmod", 1)}, {x, y}))[0], -1.5f);
  EXPECT_THROW(run_op("Mod", 13, {int_attr("fmod", 2)}, {x, y}), Error);
}

TEST(ElementwiseBitShift, SignedAndOutOfRangeShifts) {
  const Tensor x = make_tensor<int8_t>(DType::kInt8, {4}, {-8, 64, -1, 4});
  const Tensor s = make_tensor<int8_t>(DType::kInt8, {4}, {1, 1, 8, -1});
  EXPECT_EQ(values_of<int8_t>(run_op("BitShift", 11, {string_attr("direction", "RIGHT")}, {x, s})),
            (std::vector<int8_t>{-4, 32, -1, 0}));
  EXPECT_EQ(values_of<int8_t>(run_op("BitShift", 11, {string_attr("direction", "LEFT")}, {x, s})),
            (std::vector<int8_t>{-16, -128, 0, 0}));
  const Tensor u = make_tensor<uint64_t>(DType::kUint64, {2}, {1, 1});
  const Tensor us = make_tensor<uint64_t>(DType::kUint64, {2}, {63, 64});
  EXPECT_EQ(values_of<uint64_t>(run_op("BitShift", 11, {string_attr("direction", "LEFT")}, {u, us})),
            (std::vector<uint64_t>{uint64_t{1} << 63, 0}));
  EXPECT_THROW(run_op("BitShift", 11, {string_attr("direction", "UP")}, {u, us}), Error);
  EXPECT_THROW(run_op("BitShift", 11, {}, {u, us}), Error);
  EXPECT_EQ(values_of<uint64_t>(run_op("BitwiseXor", 18, {}, {u, us})), (std::vector<uint64_t>{62, 65}));
  EXPECT_EQ(values_of<int8_t>(run_op("BitwiseNot", 18, {}, {x}))[0], 7);
}

// ---------------------------------------------------------------------------------------------------------
// Comparison, logic, Where, variadic ops

TEST(ElementwiseCompare, NanAndStrings) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor a = make_tensor<float>(DType::kFloat, {3}, {nan, 1.0f, 2.0f});
  const Tensor b = make_tensor<float>(DType::kFloat, {}, {1.0f});
  EXPECT_EQ(values_of<bool>(run_op("Equal", 13, {}, {a, b})), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(values_of<bool>(run_op("GreaterOrEqual", 16, {}, {a, b})), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(values_of<bool>(run_op("Less", 13, {}, {a, b})), (std::vector<bool>{false, false, false}));
  const Tensor s = make_tensor<std::string>(DType::kString, {2}, {"ab", "cd"});
  const Tensor t = make_tensor<std::string>(DType::kString, {1}, {"cd"});
  EXPECT_EQ(values_of<bool>(run_op("Equal", 19, {}, {s, t})), (std::vector<bool>{false, true}));
  EXPECT_THROW(run_op("Less", 13, {}, {s, t}), Error);
}

TEST(ElementwiseWhere, ThreeWayBroadcastMatchesNaive) {
  ThreadPool pool(2);
  Tensor condition(DType::kBool, {301, 1});
  std::mt19937 rng(7);
  for (int64_t i = 0; i < condition.element_count(); ++i) condition.data<bool>()[i] = (rng() & 1) != 0;
  const Tensor x = random_float({1, 257}, 8);
  const Tensor y = random_float({}, 9);
  for (Parallelism* p : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
    const Tensor out = run_op("Where", 16, {}, {condition, x, y}, p);
    ASSERT_EQ(out.shape(), (std::vector<int64_t>{301, 257}));
    for (int64_t i = 0; i < out.element_count(); ++i) {
      const float expected = condition.data<bool>()[i / 257] ? x.data<float>()[i % 257] : y.data<float>()[0];
      ASSERT_EQ(out.data<float>()[i], expected);
    }
  }
  const Tensor strings = make_tensor<std::string>(DType::kString, {2}, {"yes", "no"});
  const Tensor other = make_tensor<std::string>(DType::kString, {1}, {"-"});
  const Tensor picked = run_op("Where", 16, {}, {make_tensor<bool>(DType::kBool, {2}, {true, false}), strings, other});
  EXPECT_EQ(values_of<std::string>(picked), (std::vector<std::string>{"yes", "-"}));
}

TEST(ElementwiseVariadic, NWayBroadcastAndNan) {
  const Tensor a = random_float({3, 1, 5}, 11);
  const Tensor b = random_float({4, 1}, 12);
  const Tensor c = random_float({5}, 13);
  const Tensor sum = run_op("Sum", 13, {}, {a, b, c});
  const Tensor mean = run_op("Mean", 13, {}, {a, b, c});
  const Tensor max = run_op("Max", 13, {}, {a, b, c});
  ASSERT_EQ(sum.shape(), (std::vector<int64_t>{3, 4, 5}));
  for (int64_t i = 0; i < sum.element_count(); ++i) {
    const float x = a.data<float>()[broadcast_offset(i, a.shape(), sum.shape())];
    const float y = b.data<float>()[broadcast_offset(i, b.shape(), sum.shape())];
    const float z = c.data<float>()[broadcast_offset(i, c.shape(), sum.shape())];
    ASSERT_EQ(sum.data<float>()[i], (x + y) + z);
    ASSERT_EQ(mean.data<float>()[i], ((x + y) + z) / 3.0f);
    ASSERT_EQ(max.data<float>()[i], std::max(std::max(x, y), z));
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor n = make_tensor<float>(DType::kFloat, {2}, {nan, 1.0f});
  const Tensor m = make_tensor<float>(DType::kFloat, {2}, {0.0f, nan});
  const std::vector<float> min = values_of<float>(run_op("Min", 13, {}, {n, m}));
  EXPECT_TRUE(std::isnan(min[0]) && std::isnan(min[1]));
  EXPECT_EQ(values_of<float>(run_op("Max", 13, {}, {a}))[0], a.data<float>()[0]);  // one input passes through
  EXPECT_THROW(run_op("Sum", 13, {}, {a, random_float({2, 2}, 1)}), Error);
}

// ---------------------------------------------------------------------------------------------------------
// Fast float approximations against libm

// Largest relative error of `fast` against `exact` over a dense sweep of [lo, hi].
double max_relative_error(float lo, float hi, const std::function<float(float)>& fast,
                          const std::function<double(double)>& exact) {
  double worst = 0;
  const int steps = 200001;
  for (int i = 0; i < steps; ++i) {
    const float x = lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(steps - 1);
    const double want = exact(static_cast<double>(x));
    if (want == 0 || std::fabs(want) < 1e-30) continue;
    worst = std::max(worst, std::fabs(static_cast<double>(fast(x)) - want) / std::fabs(want));
  }
  return worst;
}

TEST(FastMath, AccurateToAFewUlps) {
  EXPECT_LT(max_relative_error(-86.9f, 88.7f, fast_math::exp_f32, [](double x) { return std::exp(x); }), 1e-6);
  EXPECT_LT(max_relative_error(-10.0f, 10.0f, fast_math::tanh_f32, [](double x) { return std::tanh(x); }), 1e-6);
  EXPECT_LT(max_relative_error(-1e-3f, 1e-3f, fast_math::tanh_f32, [](double x) { return std::tanh(x); }), 1e-6);
  EXPECT_LT(
      max_relative_error(-80.0f, 30.0f, fast_math::sigmoid_f32, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }),
      1e-6);
  EXPECT_LT(max_relative_error(-6.0f, 6.0f, fast_math::erf_f32, [](double x) { return std::erf(x); }), 1e-6);
  EXPECT_LT(max_relative_error(-1e-3f, 1e-3f, fast_math::erf_f32, [](double x) { return std::erf(x); }), 1e-6);
  EXPECT_LT(max_relative_error(-3.0f, 4.0f, fast_math::erfc_f32, [](double x) { return std::erfc(x); }), 2e-6);
}

TEST(FastMath, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(fast_math::exp_f32(inf), inf);
  EXPECT_EQ(fast_math::exp_f32(-inf), 0.0f);
  EXPECT_EQ(fast_math::exp_f32(100.0f), inf);
  EXPECT_TRUE(std::isnan(fast_math::exp_f32(nan)));
  EXPECT_EQ(fast_math::tanh_f32(inf), 1.0f);
  EXPECT_EQ(fast_math::tanh_f32(-inf), -1.0f);
  EXPECT_TRUE(std::isnan(fast_math::tanh_f32(nan)));
  EXPECT_EQ(fast_math::sigmoid_f32(-inf), 0.0f);
  EXPECT_EQ(fast_math::sigmoid_f32(inf), 1.0f);
  EXPECT_EQ(fast_math::erf_f32(inf), 1.0f);
  EXPECT_EQ(fast_math::erf_f32(-inf), -1.0f);
  EXPECT_TRUE(std::isnan(fast_math::erf_f32(nan)));
}

// ---------------------------------------------------------------------------------------------------------
// Unary math and activations against double-precision formulas

void expect_unary(const std::string& op, int64_t opset, const std::vector<Attribute>& attrs,
                  const std::function<double(double)>& f, float lo, float hi, double rtol, double atol = 1e-7) {
  SCOPED_TRACE(op);
  ThreadPool pool(2);
  const Tensor x = random_float({70001}, 21, lo, hi);
  for (Parallelism* p : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
    const Tensor y = run_op(op, opset, attrs, {x}, p);
    for (int64_t i = 0; i < x.element_count(); ++i) {
      const double want = f(static_cast<double>(x.data<float>()[i]));
      ASSERT_NEAR(y.data<float>()[i], want, atol + rtol * std::fabs(want)) << "x = " << x.data<float>()[i];
    }
  }
}

TEST(ElementwiseUnary, MathOps) {
  expect_unary(
      "Exp", 13, {}, [](double x) { return std::exp(x); }, -20, 20, 1e-6);
  expect_unary(
      "Erf", 13, {}, [](double x) { return std::erf(x); }, -4, 4, 1e-6);
  expect_unary(
      "Round", 11, {}, [](double x) { return std::nearbyint(x); }, -5, 5, 0, 0);
  expect_unary(
      "Sign", 13, {}, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }, -2, 2, 0, 0);
  expect_unary(
      "Atanh", 9, {}, [](double x) { return std::atanh(x); }, -0.99f, 0.99f, 1e-6);
  const Tensor halves = make_tensor<float>(DType::kFloat, {4}, {0.5f, 1.5f, 2.5f, -0.5f});
  EXPECT_EQ(values_of<float>(run_op("Round", 11, {}, {halves})), (std::vector<float>{0.0f, 2.0f, 2.0f, -0.0f}));
  const Tensor m = make_tensor<int8_t>(DType::kInt8, {2}, {-128, -5});
  EXPECT_EQ(values_of<int8_t>(run_op("Abs", 13, {}, {m})), (std::vector<int8_t>{-128, 5}));
  EXPECT_EQ(values_of<int8_t>(run_op("Neg", 13, {}, {m})), (std::vector<int8_t>{-128, 5}));
}

TEST(ElementwiseUnary, IsNanIsInf) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = make_tensor<float>(DType::kFloat, {4}, {inf, -inf, std::nanf(""), 1.0f});
  EXPECT_EQ(values_of<bool>(run_op("IsNaN", 13, {}, {x})), (std::vector<bool>{false, false, true, false}));
  EXPECT_EQ(values_of<bool>(run_op("IsInf", 10, {int_attr("detect_negative", 0)}, {x})),
            (std::vector<bool>{true, false, false, false}));
  Tensor f8(DType::kFloat8E4M3FN, {2});
  f8.data<Float8E4M3FN>()[0] = Float8E4M3FN{0x7F};
  f8.data<Float8E4M3FN>()[1] = Float8E4M3FN{0x7E};
  EXPECT_EQ(values_of<bool>(run_op("IsNaN", 20, {}, {f8})), (std::vector<bool>{true, false}));
}

TEST(Activation, MatchDoubleFormulas) {
  const auto sigmoid = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  expect_unary("Sigmoid", 13, {}, sigmoid, -30, 30, 1e-6);
  expect_unary(
      "Tanh", 13, {}, [](double x) { return std::tanh(x); }, -6, 6, 1e-6);
  expect_unary(
      "Gelu", 20, {}, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, -8, 8, 1e-5);
  expect_unary(
      "Gelu", 20, {string_attr("approximate", "tanh")},
      [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }, -8, 8,
      1e-5);
  expect_unary(
      "Elu", 6, {float_attr("alpha", 0.5f)}, [](double x) { return x < 0 ? 0.5 * std::expm1(x) : x; }, -3, 3, 1e-6);
  expect_unary(
      "Selu", 6, {},
      [](double x) { return 1.05070102214813232421875 * (x > 0 ? x : 1.67326319217681884765625 * std::expm1(x)); }, -3,
      3, 1e-6);
  expect_unary(
      "Celu", 12, {float_attr("alpha", 2.0f)},
      [](double x) { return std::max(0.0, x) + std::min(0.0, 2.0 * std::expm1(x / 2.0)); }, -3, 3, 1e-6);
  expect_unary(
      "Softplus", 1, {}, [](double x) { return std::log1p(std::exp(x)); }, -20, 20, 1e-6);
  expect_unary(
      "Mish", 18, {}, [](double x) { return x * std::tanh(std::log1p(std::exp(x))); }, -10, 10, 1e-6);
  expect_unary(
      "HardSwish", 14, {}, [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }, -5, 5, 1e-6);
  expect_unary(
      "HardSigmoid", 6, {float_attr("alpha", 0.3f)}, [](double x) { return std::clamp(0.3 * x + 0.5, 0.0, 1.0); }, -5,
      5, 1e-6);
  expect_unary(
      "LeakyRelu", 16, {}, [](double x) { return x < 0 ? 0.01 * x : x; }, -5, 5, 1e-6);
  expect_unary(
      "ThresholdedRelu", 10, {}, [](double x) { return x > 1 ? x : 0; }, -5, 5, 0, 0);
  expect_unary(
      "Softsign", 1, {}, [](double x) { return x / (1 + std::fabs(x)); }, -5, 5, 1e-6);
  expect_unary(
      "Shrink", 9, {float_attr("lambd", 1.0f), float_attr("bias", 0.5f)},
      [](double x) { return x < -1 ? x + 0.5 : (x > 1 ? x - 0.5 : 0); }, -3, 3, 1e-6);
  EXPECT_THROW(run_op("Gelu", 20, {string_attr("approximate", "fast")}, {random_float({2}, 1)}), Error);
}

TEST(Activation, ReluOnIntegersAndNan) {
  const Tensor i = make_tensor<int32_t>(DType::kInt32, {3}, {-3, 0, 4});
  EXPECT_EQ(values_of<int32_t>(run_op("Relu", 14, {}, {i})), (std::vector<int32_t>{0, 0, 4}));
  const Tensor n = make_tensor<float>(DType::kFloat, {1}, {std::nanf("")});
  EXPECT_TRUE(std::isnan(values_of<float>(run_op("Relu", 14, {}, {n}))[0]));
}

TEST(Activation, ClipVersions) {
  const Tensor x = make_tensor<float>(DType::kFloat, {4}, {-2.0f, 0.5f, 3.0f, std::nanf("")});
  const std::vector<float> old =
      values_of<float>(run_op("Clip", 6, {float_attr("min", -1.0f), float_attr("max", 1.0f)}, {x}));
  EXPECT_EQ(std::vector<float>(old.begin(), old.begin() + 3), (std::vector<float>{-1.0f, 0.5f, 1.0f}));
  EXPECT_TRUE(std::isnan(old[3]));
  const Tensor lo = make_tensor<float>(DType::kFloat, {}, {0.0f});
  const Tensor hi = make_tensor<float>(DType::kFloat, {}, {-1.0f});
  const std::vector<float> only_min = values_of<float>(run_op("Clip", 13, {}, {x, lo, Tensor()}));
  EXPECT_EQ(only_min[2], 3.0f);
  EXPECT_EQ(only_min[0], 0.0f);
  const std::vector<float> crossed = values_of<float>(run_op("Clip", 13, {}, {x, lo, hi}));
  EXPECT_EQ(crossed[0], -1.0f);  // min > max: everything becomes max
  EXPECT_EQ(crossed[2], -1.0f);
  const Tensor i8 = make_tensor<int8_t>(DType::kInt8, {3}, {-100, 5, 100});
  const Tensor i8_max = make_tensor<int8_t>(DType::kInt8, {}, {10});
  EXPECT_EQ(values_of<int8_t>(run_op("Clip", 13, {}, {i8, Tensor(), i8_max})), (std::vector<int8_t>{-100, 5, 10}));
  EXPECT_THROW(run_op("Clip", 13, {}, {x, random_float({2}, 1)}), Error);  // bound must be a scalar
}

TEST(Activation, PReluBroadcastAndPerChannel) {
  const Tensor x = random_float({2, 3, 4}, 31);
  const Tensor slope = make_tensor<float>(DType::kFloat, {3, 1}, {0.1f, 0.2f, 0.3f});
  const Tensor y = run_op("PRelu", 16, {}, {x, slope});
  for (int64_t i = 0; i < x.element_count(); ++i) {
    const float v = x.data<float>()[i];
    ASSERT_EQ(y.data<float>()[i], v < 0 ? slope.data<float>()[(i / 4) % 3] * v : v);
  }
  const Tensor per_channel = make_tensor<float>(DType::kFloat, {3}, {0.1f, 0.2f, 0.3f});
  const Tensor z = run_op("PRelu", 6, {}, {x, per_channel});
  expect_same_floats(z, y);
  EXPECT_THROW(run_op("PRelu", 16, {}, {x, random_float({5}, 1)}), Error);
}

// ---------------------------------------------------------------------------------------------------------
// Cast

Tensor cast_to(const Tensor& x, DType to, std::vector<Attribute> attrs = {}, int64_t opset = 25) {
  attrs.push_back(int_attr("to", static_cast<int64_t>(to)));
  return run_op("Cast", opset, attrs, {x});
}

TEST(Cast, FloatToIntegerTruncatesAndWraps) {
  const Tensor x = make_tensor<float>(DType::kFloat, {6}, {-1.7f, 300.7f, -9.0f, 15.0f, 1e10f, std::nanf("")});
  EXPECT_EQ(values_of<int8_t>(cast_to(x, DType::kInt8)), (std::vector<int8_t>{-1, 44, -9, 15, 0, 0}));
  EXPECT_EQ(values_of<uint8_t>(cast_to(x, DType::kUint8)), (std::vector<uint8_t>{255, 44, 247, 15, 0, 0}));
  EXPECT_EQ(values_of<int64_t>(cast_to(x, DType::kInt64))[4], 10000000000);
  const Tensor big = make_tensor<int64_t>(DType::kInt64, {2}, {200, -56});
  EXPECT_EQ(values_of<int8_t>(cast_to(big, DType::kInt8)), (std::vector<int8_t>{-56, -56}));
  EXPECT_EQ(values_of<bool>(cast_to(x, DType::kBool)), (std::vector<bool>{true, true, true, true, true, true}));
}

// Float -> int4/uint4/int2/uint2 out of range is undefined by the spec; Tessera saturates (NaN gives 0), the
// same on every CPU. Expected values written out by hand, not taken from NumPy.
TEST(Cast, FloatToSubByteIntegerSaturates) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = make_tensor<float>(DType::kFloat, {10},
                                      {-9.0f, -8.9f, -1.7f, 0.9f, 7.99f, 8.0f, 15.0f, 1e10f, -inf, std::nanf("")});
  auto values = [](const Tensor& t) {
    std::vector<int> out;
    visit_dtype(t.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsSubByteInt<T>) {
        for (int64_t i = 0; i < t.element_count(); ++i) out.push_back(t.data<T>()[i].value);
      }
    });
    return out;
  };
  EXPECT_EQ(values(cast_to(x, DType::kInt4)), (std::vector<int>{-8, -8, -1, 0, 7, 7, 7, 7, -8, 0}));
  EXPECT_EQ(values(cast_to(x, DType::kUint4)), (std::vector<int>{0, 0, 0, 0, 7, 8, 15, 15, 0, 0}));
  EXPECT_EQ(values(cast_to(x, DType::kInt2)), (std::vector<int>{-2, -2, -1, 0, 1, 1, 1, 1, -2, 0}));
  EXPECT_EQ(values(cast_to(x, DType::kUint2)), (std::vector<int>{0, 0, 0, 0, 3, 3, 3, 3, 0, 0}));
  // The same rule from float16 and double sources.
  const Tensor h = make_tensor<Float16>(DType::kFloat16, {3}, {Float16{float_to_half(-9.0f)}, Float16{float_to_half(12.5f)},
                                                               Float16{float_to_half(-0.5f)}});
  EXPECT_EQ(values(cast_to(h, DType::kInt4)), (std::vector<int>{-8, 7, 0}));
  const Tensor d = make_tensor<double>(DType::kDouble, {2}, {-3.5, 4.0});
  EXPECT_EQ(values(cast_to(d, DType::kInt2)), (std::vector<int>{-2, 1}));
  // Integer -> sub-byte integer stays two's complement wrapping (defined by the spec).
  const Tensor i = make_tensor<int32_t>(DType::kInt32, {2}, {-9, 15});
  EXPECT_EQ(values(cast_to(i, DType::kInt4)), (std::vector<int>{7, -1}));
}

TEST(Cast, NarrowFloatsRoundOnce) {
  // 1 + 2^-11 + 2^-40 is just above a float16 tie: one rounding goes up, double rounding through float would not.
  const double v = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  const Tensor d = make_tensor<double>(DType::kDouble, {1}, {v});
  EXPECT_EQ(cast_to(d, DType::kFloat16).data<Float16>()[0].bits, 0x3C01);
  const Tensor f = make_tensor<float>(DType::kFloat, {2}, {0.48033667f, std::nanf("")});
  const Tensor bf = cast_to(f, DType::kBFloat16);
  EXPECT_EQ(bf.data<BFloat16>()[0].bits, 0x3EF6);  // round to nearest even, not truncation
  EXPECT_TRUE(std::isnan(bfloat16_to_float(bf.data<BFloat16>()[1].bits)));
}

TEST(Cast, Float8SaturationTables) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = make_tensor<float>(DType::kFloat, {5}, {1e6f, -inf, 464.0f, 470.0f, std::nanf("")});
  const Tensor saturated = cast_to(x, DType::kFloat8E4M3FN);
  EXPECT_EQ(saturated.data<Float8E4M3FN>()[0].bits, 0x7E);  // 448
  EXPECT_EQ(saturated.data<Float8E4M3FN>()[1].bits, 0xFE);  // -448
  const Tensor plain = cast_to(x, DType::kFloat8E4M3FN, {int_attr("saturate", 0)});
  EXPECT_EQ(plain.data<Float8E4M3FN>()[0].bits, 0x7F);  // NaN
  EXPECT_EQ(plain.data<Float8E4M3FN>()[1].bits, 0xFF);  // -NaN
  EXPECT_EQ(plain.data<Float8E4M3FN>()[2].bits, 0x7E);  // the tie rounds to even: 448
  EXPECT_EQ(plain.data<Float8E4M3FN>()[3].bits, 0x7F);
  const Tensor e5m2 = cast_to(x, DType::kFloat8E5M2, {int_attr("saturate", 0)});
  EXPECT_EQ(e5m2.data<Float8E5M2>()[0].bits, 0x7C);  // +inf
  EXPECT_EQ(e5m2.data<Float8E5M2>()[1].bits, 0xFC);  // -inf
  EXPECT_EQ(cast_to(x, DType::kFloat8E5M2FNUZ).data<Float8E5M2FNUZ>()[4].bits, 0x80);
  const Tensor f4 = cast_to(x, DType::kFloat4E2M1);
  EXPECT_EQ(f4.data<Float4E2M1>()[0].bits, 0x7);  // 6.0: float4 always saturates
  EXPECT_EQ(f4.data<Float4E2M1>()[1].bits, 0xF);
}

TEST(Cast, E8M0RoundingModes) {
  const Tensor x = make_tensor<float>(DType::kFloat, {4}, {1.1f, 1.5f, 0.124f, 4.0f});
  const auto codes = [&](const std::string& mode) {
    const Tensor y = cast_to(x, DType::kFloat8E8M0, {string_attr("round_mode", mode)});
    std::vector<int> out;
    for (int64_t i = 0; i < 4; ++i) out.push_back(y.data<Float8E8M0>()[i].bits);
    return out;
  };
  EXPECT_EQ(codes("up"), (std::vector<int>{128, 128, 124, 129}));
  EXPECT_EQ(codes("down"), (std::vector<int>{127, 127, 123, 129}));
  EXPECT_EQ(codes("nearest"), (std::vector<int>{127, 128, 124, 129}));
  EXPECT_THROW(codes("sideways"), Error);
}

TEST(Cast, NumbersToStringsAsNumPy) {
  const Tensor f = make_tensor<float>(DType::kFloat, {8},
                                      {0.9767611f, 1.0f, 1e-5f, 1e-4f, 123456789.0f, -0.0f, std::nanf(""), -INFINITY});
  EXPECT_EQ(values_of<std::string>(cast_to(f, DType::kString)),
            (std::vector<std::string>{"0.9767611", "1.0", "1e-05", "1e-04", "1.2345679e+08", "-0.0", "nan", "-inf"}));
  const Tensor d = make_tensor<double>(DType::kDouble, {3}, {0.1, 123456789.0, 1e16});
  EXPECT_EQ(values_of<std::string>(cast_to(d, DType::kString)),
            (std::vector<std::string>{"0.1", "123456789.0", "1e+16"}));
  Tensor h(DType::kFloat16, {2});
  h.data<Float16>()[0] = Float16{float_to_half(0.1f)};
  h.data<Float16>()[1] = Float16{float_to_half(1024.0f)};
  EXPECT_EQ(values_of<std::string>(cast_to(h, DType::kString)), (std::vector<std::string>{"0.1", "1.024e+03"}));
  const Tensor i = make_tensor<int64_t>(DType::kInt64, {2}, {-5, INT64_MAX});
  EXPECT_EQ(values_of<std::string>(cast_to(i, DType::kString)),
            (std::vector<std::string>{"-5", "9223372036854775807"}));
}

TEST(Cast, StringsToNumbers) {
  const Tensor s = make_tensor<std::string>(DType::kString, {6}, {"0.5", " 1e3 ", "+INF", "-inf", "NaN", "100"});
  const std::vector<float> f = values_of<float>(cast_to(s, DType::kFloat));
  EXPECT_EQ(f[0], 0.5f);
  EXPECT_EQ(f[1], 1000.0f);
  EXPECT_EQ(f[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(f[3], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f[4]));
  const Tensor ints = make_tensor<std::string>(DType::kString, {3}, {"100.5", "-7", "18446744073709551615"});
  EXPECT_EQ(values_of<int32_t>(cast_to(ints, DType::kInt32))[0], 100);
  EXPECT_EQ(values_of<uint64_t>(cast_to(ints, DType::kUint64))[2], UINT64_MAX);
  const Tensor bad = make_tensor<std::string>(DType::kString, {1}, {"Hello World!"});
  EXPECT_THROW(cast_to(bad, DType::kFloat), Error);
}

TEST(Cast, VersionsAndErrors) {
  const Tensor x = make_tensor<float>(DType::kFloat, {2}, {1.5f, -2.5f});
  EXPECT_EQ(values_of<int32_t>(run_op("Cast", 1, {string_attr("to", "INT32")}, {x})), (std::vector<int32_t>{1, -2}));
  const Tensor like = make_tensor<double>(DType::kDouble, {1}, {0.0});
  EXPECT_EQ(values_of<double>(run_op("CastLike", 15, {}, {x, like})), (std::vector<double>{1.5, -2.5}));
  EXPECT_THROW(cast_to(x, DType::kComplex64), Error);
  EXPECT_THROW(run_op("Cast", 13, {int_attr("to", 99)}, {x}), Error);
  EXPECT_THROW(run_op("Cast", 13, {}, {x}), Error);
}

TEST(Cast, EveryPairRoundTripsSmallIntegers) {
  // Every castable type holds 0..1 exactly; a round trip through each pair must preserve them.
  const std::vector<DType> types = {
      DType::kFloat,      DType::kUint8,          DType::kInt8,     DType::kUint16,       DType::kInt16,
      DType::kInt32,      DType::kInt64,          DType::kBool,     DType::kFloat16,      DType::kDouble,
      DType::kUint32,     DType::kUint64,         DType::kBFloat16, DType::kFloat8E4M3FN, DType::kFloat8E4M3FNUZ,
      DType::kFloat8E5M2, DType::kFloat8E5M2FNUZ, DType::kUint4,    DType::kInt4,         DType::kFloat4E2M1,
      DType::kUint2,      DType::kInt2,           DType::kString};
  const Tensor x = make_tensor<float>(DType::kFloat, {2}, {0.0f, 1.0f});
  for (DType a : types) {
    for (DType b : types) {
      SCOPED_TRACE(dtype_name(a) + " -> " + dtype_name(b));
      if (a == DType::kBool && b == DType::kString) continue;  // "False" / "True" do not parse as numbers
      const Tensor back = cast_to(cast_to(cast_to(x, a), b), DType::kFloat);
      EXPECT_EQ(values_of<float>(back), (std::vector<float>{0.0f, 1.0f}));
    }
  }
}

}  // namespace
}  // namespace tessera

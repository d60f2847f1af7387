// Tests of the ai.onnx.ml operators (trees, linear models, SVMs, encoders, scalers) on small models whose
// outputs are computed by hand, of the newer ai.onnx operators CumProd, BitCast, Swish, LpNormalization and
// DeformConv against naive references, and of their error cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

constexpr const char* kMl = "ai.onnx.ml";
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Attribute attr_int(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInt;
  a.i = v;
  return a;
}
Attribute attr_float(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloat;
  a.f = v;
  return a;
}
Attribute attr_ints(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute attr_floats(const std::string& name, std::vector<float> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloats;
  a.floats = std::move(v);
  return a;
}
Attribute attr_string(const std::string& name, std::string v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kString;
  a.s = std::move(v);
  return a;
}
Attribute attr_strings(const std::string& name, std::vector<std::string> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kStrings;
  a.strings = std::move(v);
  return a;
}
Attribute attr_tensor(const std::string& name, Tensor t) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kTensor;
  a.t = std::move(t);
  return a;
}

// Runs one node at `opset` of `domain` on `inputs` (an undefined Tensor is a missing input).
std::vector<Tensor> run_op(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                           const std::vector<Tensor>& inputs, size_t output_count = 1, const std::string& domain = "",
                           Parallelism* parallelism = nullptr) {
  Node node;
  node.name = "n";
  node.op_type = op_type;
  node.domain = domain;
  node.opset = opset;
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(inputs[i].defined() ? "in" + std::to_string(i) : "");
  for (size_t i = 0; i < output_count; ++i) node.outputs.push_back("out" + std::to_string(i));
  for (const Attribute& a : attrs) node.attributes[a.name] = a;
  const OpRegistration* reg = OpRegistry::instance().find(domain, op_type, opset);
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
  std::vector<RuntimeValue> outputs(output_count);
  SerialParallelism serial;
  KernelContext ctx(node, input_ptrs, outputs, parallelism ? *parallelism : serial, {});
  kernel->compute(ctx);
  std::vector<Tensor> result;
  for (RuntimeValue& v : outputs) result.push_back(v.tensor());
  return result;
}

std::vector<Tensor> run_ml(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                           const std::vector<Tensor>& inputs, size_t output_count = 1) {
  return run_op(op_type, opset, attrs, inputs, output_count, kMl);
}

ErrorCode error_code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected an Error";
  return ErrorCode::kRuntime;
}

template <typename T>
Tensor make(DType dtype, const std::vector<int64_t>& shape, const std::vector<T>& values) {
  Tensor t(dtype, shape);
  EXPECT_EQ(t.element_count(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}
Tensor floats(const std::vector<int64_t>& shape, const std::vector<float>& v) { return make(DType::kFloat, shape, v); }
Tensor doubles(const std::vector<int64_t>& shape, const std::vector<double>& v) {
  return make(DType::kDouble, shape, v);
}
Tensor int64s(const std::vector<int64_t>& shape, const std::vector<int64_t>& v) {
  return make(DType::kInt64, shape, v);
}
Tensor strings(const std::vector<int64_t>& shape, const std::vector<std::string>& v) {
  return make(DType::kString, shape, v);
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.element_count());
}

void expect_floats(const Tensor& actual, const std::vector<double>& expected, double tolerance = 1e-5) {
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size())) << actual.description();
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = actual.dtype() == DType::kDouble ? actual.data<double>()[i] : actual.data<float>()[i];
    if (std::isnan(expected[i]))
      EXPECT_TRUE(std::isnan(a)) << "at " << i;
    else
      EXPECT_NEAR(a, expected[i], tolerance * (1 + std::fabs(expected[i]))) << "at " << i;
  }
}

// ---- tree ensembles ------------------------------------------------------------------------------------

// Tree 0: x[0] <= 0.5 ? leaf 1 : leaf 2. Tree 1: a single leaf. Weights per target given by the caller.
std::vector<Attribute> two_trees(const std::string& weight_prefix, std::vector<int64_t> leaf_nodes,
                                 std::vector<int64_t> leaf_trees, std::vector<int64_t> ids, std::vector<float> weights,
                                 int64_t missing_true = 0) {
  return {attr_ints("nodes_treeids", {0, 0, 0, 1}),
          attr_ints("nodes_nodeids", {0, 1, 2, 0}),
          attr_ints("nodes_featureids", {0, 0, 0, 0}),
          attr_floats("nodes_values", {0.5f, 0, 0, 0}),
          attr_strings("nodes_modes", {"BRANCH_LEQ", "LEAF", "LEAF", "LEAF"}),
          attr_ints("nodes_truenodeids", {1, 0, 0, 0}),
          attr_ints("nodes_falsenodeids", {2, 0, 0, 0}),
          attr_ints("nodes_missing_value_tracks_true", {missing_true, 0, 0, 0}),
          attr_ints(weight_prefix + "_treeids", std::move(leaf_trees)),
          attr_ints(weight_prefix + "_nodeids", std::move(leaf_nodes)),
          attr_ints(weight_prefix + "_ids", std::move(ids)),
          attr_floats(weight_prefix + "_weights", std::move(weights))};
}

TEST(MlTreeEnsembleRegressor, SumAverageBaseAndMissing) {
  const Tensor x = floats({3, 1}, {0.2f, 0.9f, kNaN});
  auto attrs = two_trees("target", {1, 2, 0}, {0, 0, 1}, {0, 0, 0}, {2.0f, -1.0f, 0.5f});
  expect_floats(run_ml("TreeEnsembleRegressor", 3, attrs, {x})[0], {2.5, -0.5, -0.5});
  auto average = attrs;
  average.push_back(attr_string("aggregate_function", "AVERAGE"));
  average.push_back(attr_floats("base_values", {1.0f}));
  expect_floats(run_ml("TreeEnsembleRegressor", 1, average, {x})[0], {2.25, 0.75, 0.75});
  auto missing = two_trees("target", {1, 2, 0}, {0, 0, 1}, {0, 0, 0}, {2.0f, -1.0f, 0.5f}, 1);
  expect_floats(run_ml("TreeEnsembleRegressor", 3, missing, {x})[0], {2.5, -0.5, 2.5});
  // Double inputs compare in double and give the same result.
  expect_floats(run_ml("TreeEnsembleRegressor", 3, attrs, {doubles({2, 1}, {0.5, 0.50001})})[0], {2.5, -0.5});
}

TEST(MlTreeEnsembleRegressor, MinMaxAndTwoTargets) {
  const Tensor x = floats({2, 1}, {0.2f, 0.9f});
  auto attrs = two_trees("target", {1, 2, 0, 0}, {0, 0, 1, 1}, {0, 1, 0, 1}, {2.0f, -1.0f, 0.5f, 3.0f});
  attrs.push_back(attr_int("n_targets", 2));
  // Row 0 reaches leaf 1 (target 0: 2) and tree 1 (target 0: 0.5, target 1: 3); row 1 leaf 2 (target 1: -1).
  expect_floats(run_ml("TreeEnsembleRegressor", 3, attrs, {x})[0], {2.5, 3.0, 0.5, 2.0});
  auto mins = attrs;
  mins.push_back(attr_string("aggregate_function", "MIN"));
  expect_floats(run_ml("TreeEnsembleRegressor", 3, mins, {x})[0], {0.5, 3.0, 0.5, -1.0});
  auto maxs = attrs;
  maxs.push_back(attr_string("aggregate_function", "MAX"));
  expect_floats(run_ml("TreeEnsembleRegressor", 3, maxs, {x})[0], {2.0, 3.0, 0.5, 3.0});
  auto softmax = attrs;
  softmax.push_back(attr_string("post_transform", "SOFTMAX"));
  const double e = std::exp(-0.5);
  expect_floats(run_ml("TreeEnsembleRegressor", 3, softmax, {x})[0],
                {e / (1 + e), 1 / (1 + e), 1 / (1 + std::exp(1.5)), std::exp(1.5) / (1 + std::exp(1.5))});
}

TEST(MlTreeEnsembleRegressor, RootNeedNotBeListedFirst) {
  const std::vector<Attribute> attrs{attr_ints("nodes_treeids", {0, 0, 0}),
                                     attr_ints("nodes_nodeids", {2, 0, 1}),
                                     attr_ints("nodes_featureids", {0, 0, 0}),
                                     attr_floats("nodes_values", {0, 0.5f, 0}),
                                     attr_strings("nodes_modes", {"LEAF", "BRANCH_LEQ", "LEAF"}),
                                     attr_ints("nodes_truenodeids", {0, 1, 0}),
                                     attr_ints("nodes_falsenodeids", {0, 2, 0}),
                                     attr_ints("target_treeids", {0, 0}),
                                     attr_ints("target_nodeids", {1, 2}),
                                     attr_ints("target_ids", {0, 0}),
                                     attr_floats("target_weights", {2, -1})};
  expect_floats(run_ml("TreeEnsembleRegressor", 1, attrs, {floats({2, 1}, {0.2f, 0.9f})})[0], {2, -1});
}

TEST(MlTreeEnsembleClassifier, MulticlassLabelsAndScores) {
  // Leaf 1 votes class 0 (0.8) and class 2 (0.2); leaf 2 votes class 1; tree 1 adds nothing.
  auto attrs = two_trees("class", {1, 1, 2}, {0, 0, 0}, {0, 2, 1}, {0.8f, 0.2f, 1.0f});
  attrs.push_back(attr_ints("classlabels_int64s", {10, 20, 30}));
  const auto out = run_ml("TreeEnsembleClassifier", 3, attrs, {floats({2, 1}, {0.2f, 0.9f})}, 2);
  EXPECT_EQ(values_of<int64_t>(out[0]), (std::vector<int64_t>{10, 20}));
  expect_floats(out[1], {0.8, 0, 0.2, 0, 1, 0});
  auto with_base = attrs;
  with_base.push_back(attr_floats("base_values", {0.0f, 0.5f, 0.7f}));
  const auto based = run_ml("TreeEnsembleClassifier", 3, with_base, {floats({2, 1}, {0.2f, 0.9f})}, 2);
  EXPECT_EQ(values_of<int64_t>(based[0]), (std::vector<int64_t>{30, 20}));
  expect_floats(based[1], {0.8, 0.5, 0.9, 0, 1.5, 0.7});
}

TEST(MlTreeEnsembleClassifier, BinaryWithOneScoreColumn) {
  // Only class 0 gets weights: the score s stands for class 1 and Z is [1 - s, s]; s > 0.5 picks class 1.
  auto attrs = two_trees("class", {1, 2}, {0, 0}, {0, 0}, {0.3f, 0.8f});
  attrs.push_back(attr_strings("classlabels_strings", {"no", "yes"}));
  const auto out = run_ml("TreeEnsembleClassifier", 3, attrs, {floats({2, 1}, {0.2f, 0.9f})}, 2);
  EXPECT_EQ(values_of<std::string>(out[0]), (std::vector<std::string>{"no", "yes"}));
  expect_floats(out[1], {0.7, 0.3, 0.2, 0.8});
  auto logistic = attrs;
  logistic.push_back(attr_string("post_transform", "LOGISTIC"));
  const auto lg = run_ml("TreeEnsembleClassifier", 3, logistic, {floats({1, 1}, {0.2f})}, 2);
  expect_floats(lg[1], {1 / (1 + std::exp(0.3)), 1 / (1 + std::exp(-0.3))});
}

TEST(MlTreeEnsembleClassifier, RejectsBadModels) {
  // Node 2 sends both branches back to node 0.
  const std::vector<Attribute> cycle{attr_ints("nodes_treeids", {0, 0, 0}),
                                     attr_ints("nodes_nodeids", {0, 1, 2}),
                                     attr_ints("nodes_featureids", {0, 0, 0}),
                                     attr_floats("nodes_values", {0.5f, 0, 0.5f}),
                                     attr_strings("nodes_modes", {"BRANCH_LEQ", "LEAF", "BRANCH_LEQ"}),
                                     attr_ints("nodes_truenodeids", {1, 0, 0}),
                                     attr_ints("nodes_falsenodeids", {2, 0, 0}),
                                     attr_ints("class_treeids", {0}),
                                     attr_ints("class_nodeids", {1}),
                                     attr_ints("class_ids", {0}),
                                     attr_floats("class_weights", {1}),
                                     attr_ints("classlabels_int64s", {0, 1})};
  EXPECT_EQ(error_code_of([&] {
              run_ml("TreeEnsembleClassifier", 3, cycle, {floats({1, 1}, {0})}, 2);
            }),
            ErrorCode::kInvalidModel);
  auto missing_child = two_trees("class", {1}, {0}, {0}, {1.0f});
  missing_child[5] = attr_ints("nodes_truenodeids", {7, 0, 0, 0});
  missing_child.push_back(attr_ints("classlabels_int64s", {0, 1}));
  EXPECT_EQ(error_code_of([&] {
              run_ml("TreeEnsembleClassifier", 3, missing_child, {floats({1, 1}, {0})}, 2);
            }),
            ErrorCode::kInvalidModel);
  auto attrs = two_trees("target", {1}, {0}, {0}, {1.0f});
  attrs[2] = attr_ints("nodes_featureids", {3, 0, 0, 0});
  EXPECT_EQ(error_code_of([&] {
              run_ml("TreeEnsembleRegressor", 3, attrs, {floats({1, 2}, {0, 0})});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(MlTreeEnsemble, SingleTreeAndSetMembership) {
  // The two examples of the ONNX specification.
  std::vector<Attribute> single{attr_int("n_targets", 2),
                                attr_int("aggregate_function", 1),
                                attr_int("post_transform", 0),
                                attr_ints("tree_roots", {0}),
                                attr_tensor("nodes_modes", make<uint8_t>(DType::kUint8, {3}, {0, 0, 0})),
                                attr_ints("nodes_featureids", {0, 0, 0}),
                                attr_tensor("nodes_splits", doubles({3}, {3.14, 1.2, 4.2})),
                                attr_ints("nodes_truenodeids", {1, 0, 1}),
                                attr_ints("nodes_trueleafs", {0, 1, 1}),
                                attr_ints("nodes_falsenodeids", {2, 2, 3}),
                                attr_ints("nodes_falseleafs", {0, 1, 1}),
                                attr_ints("leaf_targetids", {0, 1, 0, 1}),
                                attr_tensor("leaf_weights", doubles({4}, {5.23, 12.12, -12.23, 7.21}))};
  const Tensor y = run_ml("TreeEnsemble", 5, single, {doubles({3, 2}, {1.2, 3.4, -0.12, 1.66, 4.14, 1.77})})[0];
  EXPECT_EQ(y.dtype(), DType::kDouble);
  expect_floats(y, {5.23, 0, 5.23, 0, 0, 12.12});

  std::vector<Attribute> member{attr_int("n_targets", 4),
                                attr_int("aggregate_function", 1),
                                attr_int("post_transform", 0),
                                attr_tensor("membership_values", floats({8}, {1.2f, 3.7f, 8, 9, kNaN, 12, 7, kNaN})),
                                attr_ints("tree_roots", {0}),
                                attr_tensor("nodes_modes", make<uint8_t>(DType::kUint8, {3}, {0, 6, 6})),
                                attr_ints("nodes_featureids", {0, 0, 0}),
                                attr_tensor("nodes_splits", floats({3}, {11, 232344.0f, kNaN})),
                                attr_ints("nodes_trueleafs", {0, 1, 1}),
                                attr_ints("nodes_truenodeids", {1, 0, 1}),
                                attr_ints("nodes_falseleafs", {1, 0, 1}),
                                attr_ints("nodes_falsenodeids", {2, 2, 3}),
                                attr_ints("leaf_targetids", {0, 1, 2, 3}),
                                attr_tensor("leaf_weights", floats({4}, {1, 10, 1000, 100}))};
  const Tensor m = run_ml("TreeEnsemble", 5, member, {floats({6, 1}, {1.2f, 3.4f, -0.12f, kNaN, 12, 7})})[0];
  expect_floats(m, {1, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 1000, 0, 0, 0, 1000, 0, 0, 10, 0, 0});
}

TEST(MlTreeEnsemble, AverageOfTwoTreesOnPool) {
  // Two stumps on different features; 400 rows so the pool splits the work.
  std::vector<Attribute> attrs{attr_int("n_targets", 1),
                               attr_int("aggregate_function", 0),
                               attr_ints("tree_roots", {0, 1}),
                               attr_tensor("nodes_modes", make<uint8_t>(DType::kUint8, {2}, {0, 3})),
                               attr_ints("nodes_featureids", {0, 1}),
                               attr_tensor("nodes_splits", floats({2}, {0.0f, 1.0f})),
                               attr_ints("nodes_truenodeids", {0, 2}),
                               attr_ints("nodes_trueleafs", {1, 1}),
                               attr_ints("nodes_falsenodeids", {1, 3}),
                               attr_ints("nodes_falseleafs", {1, 1}),
                               attr_ints("leaf_targetids", {0, 0, 0, 0}),
                               attr_tensor("leaf_weights", floats({4}, {1, 2, 10, 20}))};
  Tensor x(DType::kFloat, {400, 2});
  std::vector<double> expected;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-2, 2);
  for (int64_t r = 0; r < 400; ++r) {
    const float a = dist(rng), b = dist(rng);
    x.data<float>()[2 * r] = a;
    x.data<float>()[2 * r + 1] = b;
    expected.push_back(((a <= 0 ? 1 : 2) + (b > 1 ? 10 : 20)) / 2.0);
  }
  ThreadPool pool(2);
  expect_floats(run_op("TreeEnsemble", 5, attrs, {x}, 1, kMl, &pool)[0], expected);
}

TEST(MlTreeEnsemble, Float16InputGivesFloat16Output) {
  std::vector<Attribute> attrs{attr_int("n_targets", 1),
                               attr_ints("tree_roots", {0}),
                               attr_tensor("nodes_modes", make<uint8_t>(DType::kUint8, {1}, {0})),
                               attr_ints("nodes_featureids", {1}),
                               attr_tensor("nodes_splits", floats({1}, {0.5f})),
                               attr_ints("nodes_truenodeids", {0}),
                               attr_ints("nodes_trueleafs", {1}),
                               attr_ints("nodes_falsenodeids", {1}),
                               attr_ints("nodes_falseleafs", {1}),
                               attr_ints("leaf_targetids", {0, 0}),
                               attr_tensor("leaf_weights", floats({2}, {1.5f, -2.25f}))};
  Tensor x(DType::kFloat16, {2, 2});
  for (int i = 0; i < 4; ++i) x.data<Float16>()[i] = Float16{float_to_half(i * 0.5f)};  // rows [0, .5], [1, 1.5]
  const Tensor y = run_ml("TreeEnsemble", 5, attrs, {x})[0];
  ASSERT_EQ(y.dtype(), DType::kFloat16);
  EXPECT_EQ(half_to_float(y.data<Float16>()[0].bits), 1.5f);
  EXPECT_EQ(half_to_float(y.data<Float16>()[1].bits), -2.25f);
}

// ---- linear models and SVMs ----------------------------------------------------------------------------

TEST(MlLinear, BinaryAndMulticlassClassifier) {
  std::vector<Attribute> binary{attr_floats("coefficients", {1, -1}), attr_floats("intercepts", {0.5f}),
                                attr_ints("classlabels_ints", {4, 7})};
  const auto b = run_ml("LinearClassifier", 1, binary, {floats({2, 2}, {1, 0, 0, 2})}, 2);
  EXPECT_EQ(values_of<int64_t>(b[0]), (std::vector<int64_t>{7, 4}));
  expect_floats(b[1], {-0.5, 1.5, 2.5, -1.5});  // [1 - s, s]
  std::vector<Attribute> multi{
      attr_floats("coefficients", {1, 0, 0, 1, 1, 1}), attr_floats("intercepts", {0, 0, -0.5f}),
      attr_strings("classlabels_strings", {"a", "b", "c"}), attr_string("post_transform", "SOFTMAX")};
  const auto m = run_ml("LinearClassifier", 1, multi, {int64s({1, 2}, {2, 1})}, 2);
  EXPECT_EQ(values_of<std::string>(m[0]), (std::vector<std::string>{"c"}));
  const double s = std::exp(2.0) + std::exp(1.0) + std::exp(2.5);
  expect_floats(m[1], {std::exp(2.0) / s, std::exp(1.0) / s, std::exp(2.5) / s});
}

TEST(MlLinear, Regressor) {
  std::vector<Attribute> attrs{attr_floats("coefficients", {2, 3, 1, -1}), attr_floats("intercepts", {1, 0}),
                               attr_int("targets", 2)};
  expect_floats(run_ml("LinearRegressor", 1, attrs, {floats({2, 2}, {1, 1, 0, 2})})[0], {6, 0, 7, -2});
  EXPECT_EQ(error_code_of([&] {
              run_ml("LinearRegressor", 1, attrs, {floats({1, 3}, {1, 1, 1})});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(MlSvm, RegressorAndBinaryClassifier) {
  // Linear kernel: y = 0.5 * (x . v0) - 1 * (x . v1) + 0.25.
  std::vector<Attribute> reg{attr_string("kernel_type", "LINEAR"), attr_int("n_supports", 2),
                             attr_floats("support_vectors", {1, 0, 0, 1}), attr_floats("coefficients", {0.5f, -1}),
                             attr_floats("rho", {0.25f})};
  expect_floats(run_ml("SVMRegressor", 1, reg, {floats({2, 2}, {2, 1, 0, 3})})[0], {0.25, -2.75});
  auto one_class = reg;
  one_class.push_back(attr_int("one_class", 1));
  expect_floats(run_ml("SVMRegressor", 1, one_class, {floats({2, 2}, {2, 1, 0, 3})})[0], {1, -1});
  // RBF kernel with gamma 1, one vector per class: s = k0 - k1 + 0 where ki = exp(-|x - vi|^2); s > 0 votes class 0.
  std::vector<Attribute> cls{attr_string("kernel_type", "RBF"),      attr_floats("kernel_params", {1, 0, 0}),
                             attr_ints("vectors_per_class", {1, 1}), attr_floats("support_vectors", {0, 0, 1, 1}),
                             attr_floats("coefficients", {1, -1}),   attr_floats("rho", {0}),
                             attr_ints("classlabels_ints", {5, 6})};
  const auto out = run_ml("SVMClassifier", 1, cls, {floats({2, 2}, {0.1f, 0, 0.9f, 1})}, 2);
  EXPECT_EQ(values_of<int64_t>(out[0]), (std::vector<int64_t>{5, 6}));
  const double s0 = std::exp(-0.01) - std::exp(-(0.81 + 1)), s1 = std::exp(-(0.81 + 1)) - std::exp(-0.01);
  expect_floats(out[1], {-s0, s0, -s1, s1});
}

// ---- encoders and scalers ------------------------------------------------------------------------------

TEST(MlPreprocessing, ScalerNormalizerBinarizerImputer) {
  expect_floats(run_ml("Scaler", 1, {attr_floats("offset", {1, 0}), attr_floats("scale", {2, -1})},
                       {int64s({2, 2}, {3, 4, 0, -1})})[0],
                {4, -4, -2, 1});
  expect_floats(run_ml("Normalizer", 1, {attr_string("norm", "L1")}, {floats({2, 2}, {1, -3, 0, 0})})[0],
                {0.25, -0.75, 0, 0});
  expect_floats(run_ml("Normalizer", 1, {attr_string("norm", "L2")}, {floats({1, 2}, {3, 4})})[0], {0.6, 0.8});
  expect_floats(run_ml("Normalizer", 1, {attr_string("norm", "MAX")}, {floats({1, 2}, {2, 4})})[0], {0.5, 1});
  expect_floats(run_ml("Binarizer", 1, {attr_float("threshold", 1)}, {floats({3}, {0.5f, 1, 2})})[0], {0, 0, 1});
  expect_floats(
      run_ml("Imputer", 1, {attr_floats("imputed_value_floats", {9, 8}), attr_float("replaced_value_float", kNaN)},
             {floats({2, 2}, {kNaN, 1, 2, kNaN})})[0],
      {9, 1, 2, 8});
  EXPECT_EQ(values_of<int64_t>(run_ml("Imputer", 1,
                                      {attr_ints("imputed_value_int64s", {0}), attr_int("replaced_value_int64", -1)},
                                      {int64s({3}, {-1, 4, -1})})[0]),
            (std::vector<int64_t>{0, 4, 0}));
  EXPECT_EQ(error_code_of([&] { run_ml("Normalizer", 1, {attr_string("norm", "L3")}, {floats({1}, {1})}); }),
            ErrorCode::kInvalidModel);
}

TEST(MlEncoders, OneHotFeatureVectorizerArrayFeatureExtractor) {
  const Tensor onehot = run_ml("OneHotEncoder", 1, {attr_ints("cats_int64s", {1, 3})}, {floats({2}, {3, 2})})[0];
  EXPECT_EQ(onehot.shape(), (std::vector<int64_t>{2, 2}));
  expect_floats(onehot, {0, 1, 0, 0});
  EXPECT_EQ(error_code_of([&] {
              run_ml("OneHotEncoder", 1, {attr_ints("cats_int64s", {1, 3}), attr_int("zeros", 0)}, {floats({1}, {2})});
            }),
            ErrorCode::kInvalidArgument);
  const Tensor strings_hot =
      run_ml("OneHotEncoder", 1, {attr_strings("cats_strings", {"b", "a"})}, {strings({1, 2}, {"a", "c"})})[0];
  EXPECT_EQ(strings_hot.shape(), (std::vector<int64_t>{1, 2, 2}));
  expect_floats(strings_hot, {0, 1, 0, 0});

  const Tensor fv = run_ml("FeatureVectorizer", 1, {attr_ints("inputdimensions", {1, 3})},
                           {int64s({2, 2}, {1, 2, 3, 4}), doubles({2, 1}, {0.5, 0.25})})[0];
  EXPECT_EQ(fv.shape(), (std::vector<int64_t>{2, 4}));
  expect_floats(fv, {1, 0.5, 0, 0, 3, 0.25, 0, 0});

  const Tensor afe =
      run_ml("ArrayFeatureExtractor", 1, {}, {strings({2, 3}, {"a", "b", "c", "d", "e", "f"}), int64s({2}, {2, 0})})[0];
  EXPECT_EQ(afe.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values_of<std::string>(afe), (std::vector<std::string>{"c", "a", "f", "d"}));
  EXPECT_EQ(run_ml("ArrayFeatureExtractor", 1, {}, {floats({3}, {1, 2, 3}), int64s({1}, {1})})[0].shape(),
            (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(error_code_of([&] {
              run_ml("ArrayFeatureExtractor", 1, {}, {floats({3}, {1, 2, 3}), int64s({1}, {3})});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(MlEncoders, LabelEncoderAllVersionsAndCategoryMapper) {
  const Tensor words = strings({4}, {"a", "b", "q", "c"});
  EXPECT_EQ(
      values_of<int64_t>(run_ml("LabelEncoder", 1, {attr_strings("classes_strings", {"c", "b", "a"})}, {words})[0]),
      (std::vector<int64_t>{2, 1, -1, 0}));
  EXPECT_EQ(values_of<std::string>(run_ml("LabelEncoder", 1, {attr_strings("classes_strings", {"c", "b", "a"})},
                                          {int64s({2}, {1, 7})})[0]),
            (std::vector<std::string>{"b", "_Unused"}));
  expect_floats(
      run_ml("LabelEncoder", 2, {attr_strings("keys_strings", {"a", "c"}), attr_floats("values_floats", {0.5f, 1.5f})},
             {words})[0],
      {0.5, -0.0, -0.0, 1.5});
  // Opset 4: float keys match NaN; the last of repeated keys wins; tensor values and default.
  const Tensor by_float =
      run_ml("LabelEncoder", 4, {attr_floats("keys_floats", {kNaN, 1, 1}), attr_ints("values_int64s", {7, 8, 9})},
             {floats({3}, {kNaN, 1, 2})})[0];
  EXPECT_EQ(values_of<int64_t>(by_float), (std::vector<int64_t>{7, 9, -1}));
  const Tensor by_tensor = run_ml("LabelEncoder", 4,
                                  {attr_tensor("keys_tensor", strings({2}, {"a", "b"})),
                                   attr_tensor("values_tensor", make<int16_t>(DType::kInt16, {2}, {3, 4})),
                                   attr_tensor("default_tensor", make<int16_t>(DType::kInt16, {1}, {42}))},
                                  {words})[0];
  EXPECT_EQ(by_tensor.dtype(), DType::kInt16);
  EXPECT_EQ(values_of<int16_t>(by_tensor), (std::vector<int16_t>{3, 4, 42, 42}));
  EXPECT_EQ(error_code_of([&] {
              run_ml("LabelEncoder", 2,
                     {attr_tensor("keys_tensor", strings({1}, {"a"})), attr_ints("values_int64s", {1})}, {words});
            }),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] {
              run_ml("LabelEncoder", 2, {attr_strings("keys_strings", {"a"}), attr_ints("values_int64s", {1})},
                     {int64s({1}, {1})});
            }),
            ErrorCode::kInvalidArgument);

  const std::vector<Attribute> mapper{attr_strings("cats_strings", {"a", "b"}), attr_ints("cats_int64s", {5, 6}),
                                      attr_int("default_int64", -3), attr_string("default_string", "none")};
  EXPECT_EQ(values_of<int64_t>(run_ml("CategoryMapper", 1, mapper, {words})[0]), (std::vector<int64_t>{5, 6, -3, -3}));
  EXPECT_EQ(values_of<std::string>(run_ml("CategoryMapper", 1, mapper, {int64s({2}, {6, 9})})[0]),
            (std::vector<std::string>{"b", "none"}));
}

// ---- CumProd, BitCast, Swish, LpNormalization ---------------------------------------------------------

TEST(CumProd, ExclusiveReverseAndIntegerWrap) {
  const Tensor x = doubles({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor axis = make<int32_t>(DType::kInt32, {}, {1});
  expect_floats(run_op("CumProd", 26, {}, {x, axis})[0], {1, 2, 6, 4, 20, 120});
  expect_floats(run_op("CumProd", 26, {attr_int("exclusive", 1)}, {x, axis})[0], {1, 1, 2, 1, 4, 20});
  expect_floats(run_op("CumProd", 26, {attr_int("reverse", 1)}, {x, axis})[0], {6, 6, 3, 120, 30, 6});
  expect_floats(run_op("CumProd", 26, {attr_int("reverse", 1), attr_int("exclusive", 1)}, {x, int64s({}, {-2})})[0],
                {4, 5, 6, 1, 1, 1});
  const Tensor big = make<int32_t>(DType::kInt32, {3}, {65536, 65536, 3});
  EXPECT_EQ(values_of<int32_t>(run_op("CumProd", 26, {}, {big, int64s({}, {0})})[0]),
            (std::vector<int32_t>{65536, 0, 0}));
  EXPECT_EQ(error_code_of([&] { run_op("CumProd", 26, {}, {x, int64s({}, {2})}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("CumProd", 26, {}, {make<int8_t>(DType::kInt8, {1}, {1}), int64s({}, {0})});
            }),
            ErrorCode::kUnsupported);
}

TEST(BitCast, SameWidthReinterpretsBits) {
  const Tensor x = floats({2}, {1.0f, -2.5f});
  const Tensor y = run_op("BitCast", 26, {attr_int("to", static_cast<int64_t>(DType::kInt32))}, {x})[0];
  ASSERT_EQ(y.dtype(), DType::kInt32);
  int32_t expected[2];
  std::memcpy(expected, x.data<float>(), sizeof(expected));
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{expected[0], expected[1]}));
  // Sub-byte: int4 -1 is the nibble 0xF, which is 15 as uint4 and back.
  Tensor i4(DType::kInt4, {2});
  i4.data<Int4>()[0].value = -1;
  i4.data<Int4>()[1].value = 7;
  const Tensor u4 = run_op("BitCast", 26, {attr_int("to", static_cast<int64_t>(DType::kUint4))}, {i4})[0];
  EXPECT_EQ(u4.data<UInt4>()[0].value, 15);
  EXPECT_EQ(u4.data<UInt4>()[1].value, 7);
  const Tensor back = run_op("BitCast", 26, {attr_int("to", static_cast<int64_t>(DType::kInt4))}, {u4})[0];
  EXPECT_EQ(back.data<Int4>()[0].value, -1);
  const Tensor flags = run_op("BitCast", 26, {attr_int("to", static_cast<int64_t>(DType::kBool))},
                              {make<uint8_t>(DType::kUint8, {3}, {0, 1, 2})})[0];
  EXPECT_EQ(values_of<bool>(flags), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(error_code_of([&] { run_op("BitCast", 26, {attr_int("to", static_cast<int64_t>(DType::kInt64))}, {x}); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { run_op("BitCast", 26, {attr_int("to", static_cast<int64_t>(DType::kString))}, {x}); }),
            ErrorCode::kInvalidModel);
}

TEST(Swish, MatchesDefinitionForFloatAndDouble) {
  const std::vector<float> values{-30, -2, -0.5f, 0, 0.5f, 3, 40};
  for (float alpha : {1.0f, 0.5f, -1.5f}) {
    std::vector<double> expected;
    for (float v : values) expected.push_back(v / (1 + std::exp(-static_cast<double>(alpha) * v)));
    expect_floats(run_op("Swish", 24, {attr_float("alpha", alpha)}, {floats({7}, values)})[0], expected, 1e-5);
    std::vector<double> as_double(values.begin(), values.end());
    expect_floats(run_op("Swish", 24, {attr_float("alpha", alpha)}, {doubles({7}, as_double)})[0], expected, 1e-12);
  }
}

TEST(LpNormalization, NormsAlongAxisAndZeroVector) {
  const Tensor x = floats({2, 2}, {3, -4, 0, 0});
  expect_floats(run_op("LpNormalization", 22, {}, {x})[0], {0.6, -0.8, 0, 0});
  expect_floats(run_op("LpNormalization", 1, {attr_int("p", 1)}, {x})[0], {3.0 / 7, -4.0 / 7, 0, 0});
  expect_floats(run_op("LpNormalization", 1, {attr_int("axis", 0)}, {x})[0], {1, -1, 0, 0});
  EXPECT_EQ(error_code_of([&] { run_op("LpNormalization", 22, {attr_int("p", 3)}, {x}); }), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of([&] { run_op("LpNormalization", 22, {attr_int("axis", 2)}, {x}); }),
            ErrorCode::kInvalidArgument);
}

// ---- DeformConv ----------------------------------------------------------------------------------------

Tensor random_floats(const std::vector<int64_t>& shape, uint32_t seed, float lo = -1, float hi = 1) {
  Tensor t(DType::kFloat, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// Bilinear sample of plane (h x w) at (y, x), zero outside.
double sample(const float* plane, int64_t h, int64_t w, double y, double x) {
  const double y0 = std::floor(y), x0 = std::floor(x);
  double sum = 0;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const auto yy = static_cast<int64_t>(y0) + dy, xx = static_cast<int64_t>(x0) + dx;
      if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
      const double wy = dy ? y - y0 : 1 - (y - y0), wx = dx ? x - x0 : 1 - (x - x0);
      sum += wy * wx * plane[yy * w + xx];
    }
  }
  return sum;
}

TEST(DeformConv, MatchesNaiveReferenceWithGroupsOffsetsAndMask) {
  const int64_t n = 2, c = 4, h = 5, w = 6, oc = 6, group = 2, offset_group = 2, kh = 3, kw = 2;
  const int64_t stride = 2, pad = 1, dil = 1;
  const int64_t oh = (h + 2 * pad - ((kh - 1) * dil + 1)) / stride + 1,
                ow = (w + 2 * pad - ((kw - 1) * dil + 1)) / stride + 1;
  const Tensor x = random_floats({n, c, h, w}, 1);
  const Tensor wt = random_floats({oc, c / group, kh, kw}, 2);
  const Tensor offset = random_floats({n, offset_group * kh * kw * 2, oh, ow}, 3, -1.5f, 1.5f);
  const Tensor mask = random_floats({n, offset_group * kh * kw, oh, ow}, 4, 0, 1);
  const Tensor bias = random_floats({oc}, 5);
  std::vector<Attribute> attrs{attr_ints("strides", {stride, stride}), attr_ints("pads", {pad, pad, pad, pad}),
                               attr_int("group", group), attr_int("offset_group", offset_group)};
  ThreadPool pool(2);
  const Tensor y = run_op("DeformConv", 19, attrs, {x, wt, offset, bias, mask}, 1, "", &pool)[0];
  ASSERT_EQ(y.shape(), (std::vector<int64_t>{n, oc, oh, ow}));
  std::vector<double> expected;
  const float* off = offset.data<float>();
  const float* msk = mask.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < oc; ++o) {
      const int64_t g = o / (oc / group);
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          double sum = bias.data<float>()[o];
          for (int64_t cl = 0; cl < c / group; ++cl) {
            const int64_t ch = g * (c / group) + cl;
            const int64_t og = ch / (c / offset_group);
            for (int64_t ki = 0; ki < kh; ++ki) {
              for (int64_t kj = 0; kj < kw; ++kj) {
                const int64_t k = ki * kw + kj;
                const auto at = [&](int64_t channel) { return ((b * offset.dim(1) + channel) * oh + i) * ow + j; };
                const double dy = off[at((og * kh * kw + k) * 2)], dx = off[at((og * kh * kw + k) * 2 + 1)];
                const double m = msk[((b * mask.dim(1) + og * kh * kw + k) * oh + i) * ow + j];
                const double v = sample(x.data<float>() + (b * c + ch) * h * w, h, w, i * stride - pad + ki * dil + dy,
                                        j * stride - pad + kj * dil + dx);
                sum += m * v * wt.data<float>()[((o * (c / group) + cl) * kh + ki) * kw + kj];
              }
            }
          }
          expected.push_back(sum);
        }
      }
    }
  }
  expect_floats(y, expected, 1e-4);
}

TEST(DeformConv, SpecExampleAndShapeErrors) {
  const Tensor x = floats({1, 1, 3, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8});
  const Tensor w = floats({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor offset(DType::kFloat, {1, 8, 4, 4});
  offset.data<float>()[0] = 0.5f;                     // h of tap (0, 0) at output (0, 0)
  offset.data<float>()[(5 * 4 + 1) * 4 + 2] = -0.1f;  // w of tap (1, 0) at output (1, 2)
  const Tensor y =
      run_op("DeformConv", 22, {attr_ints("kernel_shape", {2, 2}), attr_ints("pads", {1, 1, 1, 1})}, {x, w, offset})[0];
  expect_floats(y, {0, 1, 3, 2, 3, 8, 11.9, 7, 9, 20, 24, 13, 6, 13, 15, 8});
  EXPECT_EQ(error_code_of([&] {
              run_op("DeformConv", 22, {}, {x, w, floats({1, 8, 3, 3}, std::vector<float>(72))});
            }),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera

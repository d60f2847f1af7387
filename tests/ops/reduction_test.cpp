// Tests of the reduction family (Reduce*, ArgMax/ArgMin, CumSum, TopK, Softmax/LogSoftmax/Hardmax,
// MeanVarianceNormalization) and of Einsum and Det: the kernels against naive references on random,
// odd-sized inputs (serially and on a two-thread pool, which takes the parallel paths), identities of empty
// reductions, and the error cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
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

Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInts;
  a.ints = std::move(v);
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
std::vector<Tensor> run_op(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                           const std::vector<Tensor>& inputs, size_t output_count = 1,
                           Parallelism* parallelism = nullptr) {
  Node node;
  node.name = "n";
  node.op_type = op_type;
  node.opset = opset;
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(inputs[i].defined() ? "in" + std::to_string(i) : "");
  for (size_t i = 0; i < output_count; ++i) node.outputs.push_back("out" + std::to_string(i));
  for (const Attribute& a : attrs) node.attributes[a.name] = a;
  const OpRegistration* reg = OpRegistry::instance().find("", op_type, opset);
  if (reg == nullptr) throw Error(ErrorCode::kUnsupported, "no kernel for " + op_type);
  std::vector<TypeInfo> input_types;
  for (const Tensor& t : inputs)
    input_types.push_back(t.defined() ? TypeInfo::tensor_of_shape(t.dtype(), t.shape()) : TypeInfo{});
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

Tensor random_float(const std::vector<int64_t>& shape, uint32_t seed, float lo = -3.0f, float hi = 3.0f) {
  Tensor t(DType::kFloat, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

Tensor random_int(DType dtype, const std::vector<int64_t>& shape, uint32_t seed, int lo, int hi) {
  Tensor t(dtype, shape);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  for (int64_t i = 0; i < t.element_count(); ++i) {
    if (dtype == DType::kInt32)
      t.data<int32_t>()[i] = dist(rng);
    else
      t.data<int64_t>()[i] = dist(rng);
  }
  return t;
}

Tensor int64s(const std::vector<int64_t>& v) { return Tensor::from_vector(DType::kInt64, v); }

double value_at(const Tensor& t, int64_t i) {
  return visit_dtype(t.dtype(), [&](auto tag) -> double {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::complex<float>> ||
                  std::is_same_v<T, std::complex<double>>) {
      return 0.0;
    } else {
      return element_to_double(t.data<T>()[i]);
    }
  });
}

void expect_close(const Tensor& actual, const std::vector<double>& expected, const std::vector<int64_t>& shape,
                  double rtol = 1e-4, double atol = 1e-5) {
  ASSERT_EQ(actual.shape(), shape);
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = value_at(actual, static_cast<int64_t>(i));
    const double e = expected[i];
    if (std::isnan(e)) {
      EXPECT_TRUE(std::isnan(a)) << "at " << i;
    } else if (std::isinf(e)) {
      EXPECT_EQ(a, e) << "at " << i;
    } else {
      EXPECT_NEAR(a, e, atol + rtol * std::abs(e)) << "at " << i;
    }
  }
}

// Calls fn(linear index, multi-index) for every element of shape.
void for_each_index(const std::vector<int64_t>& shape,
                    const std::function<void(int64_t, const std::vector<int64_t>&)>& fn) {
  const int64_t n = shape_element_count(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    fn(i, idx);
    for (size_t k = shape.size(); k-- > 0;) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
}

// ---- Reduce* ------------------------------------------------------------------------------------------

struct NaiveReduce {
  std::string op;
  double init;
  std::function<double(double, double)> combine;    // acc, x
  std::function<double(double, int64_t)> finalize;  // acc, count
};

NaiveReduce naive_reduce(const std::string& op) {
  const double inf = std::numeric_limits<double>::infinity();
  auto sum = [](double a, double x) { return a + x; };
  auto same = [](double a, int64_t) { return a; };
  if (op == "ReduceSum") return {op, 0, sum, same};
  if (op == "ReduceMean") return {op, 0, sum, [](double a, int64_t n) { return a / static_cast<double>(n); }};
  if (op == "ReduceMax") return {op, -inf, [](double a, double x) { return std::max(a, x); }, same};
  if (op == "ReduceMin") return {op, inf, [](double a, double x) { return std::min(a, x); }, same};
  if (op == "ReduceProd") return {op, 1, [](double a, double x) { return a * x; }, same};
  if (op == "ReduceL1") return {op, 0, [](double a, double x) { return a + std::abs(x); }, same};
  if (op == "ReduceL2")
    return {op, 0, [](double a, double x) { return a + x * x; }, [](double a, int64_t) { return std::sqrt(a); }};
  if (op == "ReduceLogSum") return {op, 0, sum, [](double a, int64_t) { return std::log(a); }};
  if (op == "ReduceLogSumExp")
    return {op, 0, [](double a, double x) { return a + std::exp(x); }, [](double a, int64_t) { return std::log(a); }};
  return {op, 0, [](double a, double x) { return a + x * x; }, same};  // ReduceSumSquare
}

std::vector<double> reference_reduce(const NaiveReduce& r, const Tensor& x, const std::vector<bool>& mask,
                                     std::vector<int64_t>* out_shape) {
  *out_shape = reduced_shape(x.shape(), mask, true);
  const int64_t n = shape_element_count(*out_shape);
  std::vector<double> acc(static_cast<size_t>(n), r.init);
  const std::vector<int64_t> out_strides = contiguous_strides(*out_shape);
  int64_t count = 1;
  for (size_t k = 0; k < mask.size(); ++k)
    if (mask[k]) count *= x.dim(k);
  for_each_index(x.shape(), [&](int64_t i, const std::vector<int64_t>& idx) {
    int64_t o = 0;
    for (size_t k = 0; k < idx.size(); ++k) o += (mask[k] ? 0 : idx[k]) * out_strides[k];
    acc[static_cast<size_t>(o)] = r.combine(acc[static_cast<size_t>(o)], value_at(x, i));
  });
  for (double& a : acc) a = r.finalize(a, count);
  return acc;
}

const std::vector<std::string> kReduceOps = {"ReduceSum",       "ReduceMean",     "ReduceMax", "ReduceMin",
                                             "ReduceProd",      "ReduceL1",       "ReduceL2",  "ReduceLogSum",
                                             "ReduceLogSumExp", "ReduceSumSquare"};

TEST(ReduceTest, MatchesNaiveReferenceOnOddShapes) {
  const std::vector<int64_t> shape = {3, 5, 7, 2};
  const std::vector<std::vector<int64_t>> axes_cases = {{},     {0},    {1},    {3},          {-1},
                                                        {0, 2}, {1, 3}, {1, 2}, {0, 1, 2, 3}, {2, 3}};
  uint32_t seed = 1;
  for (const std::string& op : kReduceOps) {
    const bool positive = op == "ReduceLogSum" || op == "ReduceProd";
    const Tensor x = random_float(shape, seed++, positive ? 0.5f : -3.0f, positive ? 1.5f : 3.0f);
    for (const auto& axes : axes_cases) {
      for (int64_t opset : {11, 18}) {
        std::vector<bool> mask(shape.size(), axes.empty());
        for (int64_t a : axes) mask[static_cast<size_t>(a < 0 ? a + 4 : a)] = true;
        std::vector<int64_t> expected_shape;
        const std::vector<double> expected = reference_reduce(naive_reduce(op), x, mask, &expected_shape);
        const bool axes_input = opset >= 18 || (op == "ReduceSum" && opset >= 13);
        std::vector<Attribute> attrs;
        std::vector<Tensor> inputs = {x};
        if (axes_input)
          inputs.push_back(axes.empty() ? Tensor() : int64s(axes));
        else if (!axes.empty())
          attrs.push_back(ints_attr("axes", axes));
        SCOPED_TRACE(op + " opset " + std::to_string(opset) + " axes " + shape_to_string(axes));
        expect_close(run_op(op, opset, attrs, inputs)[0], expected, expected_shape);
      }
    }
  }
}

TEST(ReduceTest, ParallelPathsMatchSerial) {
  ThreadPool pool(2);
  const Tensor x = random_float({37, 41, 29}, 7);
  for (const std::string& op : {std::string("ReduceSum"), std::string("ReduceMax"), std::string("ReduceLogSumExp")}) {
    for (const auto& axes : std::vector<std::vector<int64_t>>{{2}, {0}, {1}, {0, 2}}) {
      const std::vector<Tensor> inputs = {x, int64s(axes)};
      const Tensor serial = run_op(op, 18, {}, inputs)[0];
      const Tensor parallel = run_op(op, 18, {}, inputs, 1, &pool)[0];
      ASSERT_EQ(serial.shape(), parallel.shape());
      for (int64_t i = 0; i < serial.element_count(); ++i) {
        ASSERT_EQ(serial.data<float>()[i], parallel.data<float>()[i]) << op << " at " << i;
      }
    }
  }
}

TEST(ReduceTest, LongRowsSplitIntoChunksMatchReferenceOnAnyThreadCount) {
  ThreadPool pool(2);
  const Tensor x = random_float({2, 100003}, 9, -1.0f, 1.0f);
  for (const std::string& op :
       {std::string("ReduceSum"), std::string("ReduceMax"), std::string("ReduceL2"), std::string("ReduceLogSumExp")}) {
    std::vector<int64_t> shape;
    const std::vector<double> expected = reference_reduce(naive_reduce(op), x, {false, true}, &shape);
    const std::vector<Tensor> inputs = {x, int64s({1})};
    const Tensor serial = run_op(op, 18, {}, inputs)[0];
    const Tensor parallel = run_op(op, 18, {}, inputs, 1, &pool)[0];
    SCOPED_TRACE(op);
    expect_close(serial, expected, shape, 1e-5, 1e-3);
    for (int64_t i = 0; i < serial.element_count(); ++i) EXPECT_EQ(serial.data<float>()[i], parallel.data<float>()[i]);
  }
}

TEST(ReduceTest, KeepdimsZeroDropsAxes) {
  const Tensor x = random_float({2, 3, 4}, 3);
  const Tensor y = run_op("ReduceSum", 13, {int_attr("keepdims", 0)}, {x, int64s({1})})[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 4}));
  const Tensor all = run_op("ReduceMean", 11, {int_attr("keepdims", 0)}, {x})[0];
  EXPECT_EQ(all.rank(), 0u);
}

TEST(ReduceTest, IntegerAndDoubleTypes) {
  const Tensor xi = random_int(DType::kInt32, {4, 5}, 5, -50, 50);
  for (const std::string& op : {std::string("ReduceSum"), std::string("ReduceMax"), std::string("ReduceMin"),
                                std::string("ReduceL1"), std::string("ReduceSumSquare")}) {
    std::vector<int64_t> shape;
    const std::vector<double> expected = reference_reduce(naive_reduce(op), xi, {false, true}, &shape);
    expect_close(run_op(op, 18, {}, {xi, int64s({1})})[0], expected, shape, 0, 0);
  }
  // Integer mean truncates toward zero, as NumPy's mean cast back to the type does.
  const Tensor xm = Tensor::from_vector<int32_t>(DType::kInt32, {-7, 2});
  expect_close(run_op("ReduceMean", 18, {}, {xm})[0], {-2}, {1}, 0, 0);
  Tensor xd(DType::kDouble, {3, 2});
  for (int i = 0; i < 6; ++i) xd.data<double>()[i] = 0.5 * i;
  expect_close(run_op("ReduceL2", 11, {ints_attr("axes", {0})}, {xd})[0],
               {std::sqrt(0.0 + 1.0 + 4.0), std::sqrt(0.25 + 2.25 + 6.25)}, {1, 2}, 1e-12, 0);
}

TEST(ReduceTest, EmptySetsGiveIdentities) {
  const Tensor x(DType::kFloat, {2, 0, 4});
  const double inf = std::numeric_limits<double>::infinity();
  const std::map<std::string, double> identity = {
      {"ReduceSum", 0}, {"ReduceProd", 1},      {"ReduceMax", -inf},       {"ReduceMin", inf},    {"ReduceL1", 0},
      {"ReduceL2", 0},  {"ReduceLogSum", -inf}, {"ReduceLogSumExp", -inf}, {"ReduceSumSquare", 0}};
  for (const auto& [op, value] : identity) {
    SCOPED_TRACE(op);
    expect_close(run_op(op, 18, {}, {x, int64s({1})})[0], std::vector<double>(8, value), {2, 1, 4});
  }
  const Tensor xi(DType::kInt32, {0, 3});
  expect_close(run_op("ReduceMax", 20, {}, {xi, int64s({0})})[0], std::vector<double>(3, INT32_MIN), {1, 3}, 0, 0);
  // Reducing the non-empty axis of an empty tensor gives an empty output.
  EXPECT_EQ(run_op("ReduceSum", 18, {}, {x, int64s({2})})[0].shape(), (std::vector<int64_t>{2, 0, 1}));
}

TEST(ReduceTest, NoopWithEmptyAxesStillAppliesTheElementwiseStep) {
  const Tensor x = Tensor::from_vector<float>(DType::kFloat, {-2.0f, 3.0f});
  const std::vector<Attribute> noop = {int_attr("noop_with_empty_axes", 1)};
  expect_close(run_op("ReduceSum", 13, noop, {x, int64s({})})[0], {-2, 3}, {2});
  expect_close(run_op("ReduceSumSquare", 18, noop, {x})[0], {4, 9}, {2});
  expect_close(run_op("ReduceL1", 18, noop, {x})[0], {2, 3}, {2});
  expect_close(run_op("ReduceLogSumExp", 18, noop, {x})[0], {-2, 3}, {2});
  // Without noop, empty axes mean every axis.
  expect_close(run_op("ReduceSum", 13, {}, {x, int64s({})})[0], {1}, {1});
}

TEST(ReduceTest, BoolMaxMin) {
  Tensor x(DType::kBool, {2, 2});
  x.data<bool>()[1] = true;
  const Tensor mx = run_op("ReduceMax", 20, {int_attr("keepdims", 0)}, {x, int64s({1})})[0];
  const Tensor mn = run_op("ReduceMin", 20, {int_attr("keepdims", 0)}, {x, int64s({1})})[0];
  EXPECT_TRUE(mx.data<bool>()[0]);
  EXPECT_FALSE(mx.data<bool>()[1]);
  EXPECT_FALSE(mn.data<bool>()[0]);
}

TEST(ReduceTest, RejectsBadAxes) {
  const Tensor x = random_float({2, 3}, 1);
  EXPECT_THROW(run_op("ReduceSum", 13, {}, {x, int64s({2})}), Error);
  EXPECT_THROW(run_op("ReduceSum", 13, {}, {x, int64s({-3})}), Error);
  EXPECT_THROW(run_op("ReduceMax", 18, {}, {x, int64s({1, -1})}), Error);
  EXPECT_THROW(run_op("ReduceMean", 11, {ints_attr("axes", {5})}, {x}), Error);
  EXPECT_THROW(run_op("ReduceSum", 13, {}, {x, Tensor::from_vector<float>(DType::kFloat, {0.0f})}), Error);
  EXPECT_THROW(run_op("ReduceSum", 13, {}, {Tensor::from_vector<std::string>(DType::kString, {"a"})}), Error);
}

// ---- ArgMax / ArgMin ------------------------------------------------------------------------------------

TEST(ArgReduceTest, MatchesNaiveReferenceWithTiesAndBothIndexRules) {
  const std::vector<int64_t> shape = {3, 4, 5};
  const Tensor x = random_int(DType::kInt32, shape, 11, 0, 3);  // many ties
  for (const std::string& op : {std::string("ArgMax"), std::string("ArgMin")}) {
    for (int64_t axis = -3; axis < 3; ++axis) {
      for (int64_t last : {0, 1}) {
        const int64_t a = axis < 0 ? axis + 3 : axis;
        std::vector<bool> mask(3, false);
        mask[static_cast<size_t>(a)] = true;
        const std::vector<int64_t> out_shape = reduced_shape(shape, mask, true);
        std::vector<double> expected(static_cast<size_t>(shape_element_count(out_shape)));
        const std::vector<int64_t> in_strides = contiguous_strides(shape);
        for_each_index(out_shape, [&](int64_t o, const std::vector<int64_t>& idx) {
          int64_t base = 0;
          for (size_t k = 0; k < 3; ++k) base += idx[k] * in_strides[k];
          int64_t best = 0;
          for (int64_t i = 1; i < shape[static_cast<size_t>(a)]; ++i) {
            const int32_t v = x.data<int32_t>()[base + i * in_strides[static_cast<size_t>(a)]];
            const int32_t b = x.data<int32_t>()[base + best * in_strides[static_cast<size_t>(a)]];
            const bool better = op == "ArgMax" ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
            if (better) best = i;
          }
          expected[static_cast<size_t>(o)] = static_cast<double>(best);
        });
        const Tensor y = run_op(op, 13, {int_attr("axis", axis), int_attr("select_last_index", last)}, {x})[0];
        EXPECT_EQ(y.dtype(), DType::kInt64);
        SCOPED_TRACE(op + " axis " + std::to_string(axis) + " last " + std::to_string(last));
        expect_close(y, expected, out_shape, 0, 0);
      }
    }
  }
}

TEST(ArgReduceTest, RejectsBadAxisAndEmptyAxis) {
  EXPECT_THROW(run_op("ArgMax", 13, {int_attr("axis", 2)}, {random_float({2, 3}, 1)}), Error);
  EXPECT_THROW(run_op("ArgMin", 13, {int_attr("axis", 1)}, {Tensor(DType::kFloat, {2, 0})}), Error);
}

// ---- CumSum ---------------------------------------------------------------------------------------------

TEST(CumSumTest, MatchesNaiveReferenceForAllModes) {
  const std::vector<int64_t> shape = {3, 4, 5};
  const Tensor x = random_float(shape, 21);
  for (int64_t axis = -3; axis < 3; ++axis) {
    for (int64_t exclusive : {0, 1}) {
      for (int64_t reverse : {0, 1}) {
        const auto a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
        const std::vector<int64_t> strides = contiguous_strides(shape);
        std::vector<double> expected(static_cast<size_t>(x.element_count()));
        for_each_index(shape, [&](int64_t i, const std::vector<int64_t>& idx) {
          double s = 0;
          for (int64_t j = 0; j < shape[a]; ++j) {
            const bool take = reverse ? (exclusive ? j > idx[a] : j >= idx[a]) : (exclusive ? j < idx[a] : j <= idx[a]);
            if (take) s += x.data<float>()[i + (j - idx[a]) * strides[a]];
          }
          expected[static_cast<size_t>(i)] = s;
        });
        const Tensor y = run_op("CumSum", 14, {int_attr("exclusive", exclusive), int_attr("reverse", reverse)},
                                {x, Tensor::scalar<int32_t>(DType::kInt32, static_cast<int32_t>(axis))})[0];
        expect_close(y, expected, shape);
      }
    }
  }
  EXPECT_THROW(run_op("CumSum", 14, {}, {x, int64s({3})}), Error);
  EXPECT_THROW(run_op("CumSum", 14, {}, {x, int64s({0, 1})}), Error);
}

// ---- TopK -----------------------------------------------------------------------------------------------

TEST(TopKTest, SortedWithTiesByLowerIndex) {
  const std::vector<int64_t> shape = {4, 9, 3};
  const Tensor x = random_int(DType::kInt64, shape, 31, 0, 4);
  for (int64_t largest : {0, 1}) {
    for (int64_t axis : {1, -1, 0}) {
      const auto a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
      const int64_t k = std::min<int64_t>(3, shape[a]);
      const std::vector<Tensor> out =
          run_op("TopK", 11, {int_attr("axis", axis), int_attr("largest", largest)}, {x, int64s({k})}, 2);
      std::vector<int64_t> out_shape = shape;
      out_shape[a] = k;
      ASSERT_EQ(out[0].shape(), out_shape);
      const std::vector<int64_t> in_strides = contiguous_strides(shape);
      const std::vector<int64_t> out_strides = contiguous_strides(out_shape);
      std::vector<int64_t> line_shape = shape;
      line_shape[a] = 1;
      for_each_index(line_shape, [&](int64_t, const std::vector<int64_t>& idx) {
        int64_t in_base = 0, out_base = 0;
        for (size_t d = 0; d < 3; ++d) {
          in_base += idx[d] * in_strides[d];
          out_base += idx[d] * out_strides[d];
        }
        std::vector<std::pair<int64_t, int64_t>> line;
        for (int64_t i = 0; i < shape[a]; ++i) line.push_back({x.data<int64_t>()[in_base + i * in_strides[a]], i});
        std::stable_sort(line.begin(), line.end(),
                         [&](const auto& p, const auto& q) { return largest ? p.first > q.first : p.first < q.first; });
        for (int64_t i = 0; i < k; ++i) {
          EXPECT_EQ(out[0].data<int64_t>()[out_base + i * out_strides[a]], line[static_cast<size_t>(i)].first);
          EXPECT_EQ(out[1].data<int64_t>()[out_base + i * out_strides[a]], line[static_cast<size_t>(i)].second);
        }
      });
    }
  }
}

// Floats with ties and NaN (the largest value) at k up to the streaming limit (32) and past it (the partial sort):
// both paths give the order of a stable sort.
TEST(TopKTest, FloatsWithNanAndTiesAtEveryK) {
  std::mt19937 rng(5);
  Tensor x(DType::kFloat, {3, 100});
  for (int64_t i = 0; i < x.element_count(); ++i)
    x.data<float>()[i] = rng() % 9 == 0 ? std::nanf("") : static_cast<float>(static_cast<int>(rng() % 21) - 10);
  for (int64_t largest : {0, 1}) {
    for (int64_t k : {1, 5, 31, 32, 33, 100}) {
      const std::vector<Tensor> out = run_op("TopK", 11, {int_attr("largest", largest)}, {x, int64s({k})}, 2);
      for (int64_t r = 0; r < 3; ++r) {
        std::vector<std::pair<float, int64_t>> line;
        for (int64_t i = 0; i < 100; ++i) line.push_back({x.data<float>()[r * 100 + i], i});
        std::stable_sort(line.begin(), line.end(), [&](const auto& p, const auto& q) {
          const bool pn = std::isnan(p.first), qn = std::isnan(q.first);
          if (pn || qn) return largest ? pn && !qn : qn && !pn;
          return largest ? p.first > q.first : p.first < q.first;
        });
        for (int64_t i = 0; i < k; ++i) {
          const float v = out[0].data<float>()[r * k + i];
          const float e = line[static_cast<size_t>(i)].first;
          ASSERT_TRUE(std::isnan(e) ? std::isnan(v) : v == e) << "k " << k << " largest " << largest << " at " << i;
          ASSERT_EQ(out[1].data<int64_t>()[r * k + i], line[static_cast<size_t>(i)].second)
              << "k " << k << " largest " << largest << " at " << i;
        }
      }
    }
  }
}

TEST(TopKTest, OpsetOneAttributeAndErrors) {
  const Tensor x = Tensor::from_vector<float>(DType::kFloat, {1.0f, 5.0f, 3.0f, 5.0f});
  const std::vector<Tensor> out = run_op("TopK", 1, {int_attr("k", 2)}, {x}, 2);
  expect_close(out[0], {5, 5}, {2});
  expect_close(out[1], {1, 3}, {2});
  EXPECT_THROW(run_op("TopK", 11, {}, {x, int64s({5})}, 2), Error);
  EXPECT_THROW(run_op("TopK", 11, {}, {x, int64s({-1})}, 2), Error);
  EXPECT_THROW(run_op("TopK", 11, {}, {x, int64s({1, 2})}, 2), Error);
  EXPECT_EQ(run_op("TopK", 11, {}, {x, int64s({0})}, 2)[0].element_count(), 0);
}

// ---- Softmax family -------------------------------------------------------------------------------------

std::vector<double> reference_softmax(const std::string& op, const Tensor& x, int64_t outer, int64_t n, int64_t inner) {
  std::vector<double> out(static_cast<size_t>(x.element_count()));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t i) { return o * n * inner + i * inner + j; };
      double m = -INFINITY;
      int64_t arg = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (value_at(x, at(i)) > m) {
          m = value_at(x, at(i));
          arg = i;
        }
      }
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += std::exp(value_at(x, at(i)) - m);
      for (int64_t i = 0; i < n; ++i) {
        const double v = value_at(x, at(i));
        double r = op == "Softmax" ? std::exp(v - m) / sum : v - m - std::log(sum);
        if (op == "Hardmax") r = i == arg ? 1.0 : 0.0;
        out[static_cast<size_t>(at(i))] = r;
      }
    }
  }
  return out;
}

TEST(SoftmaxTest, MatchesNaiveReferenceInBothOpsetSemantics) {
  ThreadPool pool(2);
  const std::vector<int64_t> shape = {3, 7, 33};
  const Tensor x = random_float(shape, 41, -20.0f, 20.0f);
  for (const std::string& op : {std::string("Softmax"), std::string("LogSoftmax"), std::string("Hardmax")}) {
    for (int64_t axis = 0; axis < 3; ++axis) {
      // Opset 13: along one axis.
      const AxisSplit s = split_at_axis(shape, axis);
      SCOPED_TRACE(op + " axis " + std::to_string(axis));
      expect_close(run_op(op, 13, {int_attr("axis", axis)}, {x})[0], reference_softmax(op, x, s.outer, s.axis, s.inner),
                   shape);
      // Opset 11: coerced to 2-D at axis.
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= shape[static_cast<size_t>(d)];
      expect_close(run_op(op, 11, {int_attr("axis", axis)}, {x}, 1, &pool)[0],
                   reference_softmax(op, x, outer, x.element_count() / outer, 1), shape);
    }
  }
  // Defaults: axis 1 (coerced) before 13, -1 after.
  expect_close(run_op("Softmax", 1, {}, {x})[0], reference_softmax("Softmax", x, 3, 7 * 33, 1), shape);
  expect_close(run_op("Softmax", 13, {}, {x})[0], reference_softmax("Softmax", x, 21, 33, 1), shape);
  EXPECT_THROW(run_op("Softmax", 13, {int_attr("axis", 3)}, {x}), Error);
}

TEST(SoftmaxTest, LargeRowsAndDoubleAndFloat16) {
  const Tensor big = random_float({2, 1001}, 43, -50.0f, 50.0f);
  expect_close(run_op("Softmax", 13, {}, {big})[0], reference_softmax("Softmax", big, 2, 1001, 1), {2, 1001}, 1e-4,
               1e-7);
  expect_close(run_op("LogSoftmax", 13, {}, {big})[0], reference_softmax("LogSoftmax", big, 2, 1001, 1), {2, 1001},
               1e-5, 1e-4);
  Tensor xd(DType::kDouble, {2, 3});
  Tensor xh(DType::kFloat16, {2, 3});
  for (int i = 0; i < 6; ++i) {
    xd.data<double>()[i] = 0.3 * i - 1;
    xh.data<Float16>()[i] = Float16{float_to_half(0.3f * static_cast<float>(i) - 1.0f)};
  }
  expect_close(run_op("LogSoftmax", 13, {}, {xd})[0], reference_softmax("LogSoftmax", xd, 2, 3, 1), {2, 3}, 1e-12, 0);
  expect_close(run_op("Softmax", 13, {}, {xh})[0], reference_softmax("Softmax", xh, 2, 3, 1), {2, 3}, 2e-3, 1e-3);
  EXPECT_THROW(run_op("Softmax", 13, {}, {random_int(DType::kInt32, {2}, 1, 0, 1)}), Error);
}

TEST(VectorMathTest, ExpIsAccurate) {
  for (float x = -85.0f; x < 88.0f; x += 0.0137f) {
    const double e = std::exp(static_cast<double>(x));
    EXPECT_NEAR(vector_exp(x), e, 4e-7 * e) << x;
  }
  EXPECT_EQ(vector_exp(-1000.0f), 0.0f);
  EXPECT_TRUE(std::isinf(vector_exp(1000.0f)));
  EXPECT_TRUE(std::isnan(vector_exp(NAN)));
}

// Every vector_f32 variant this CPU runs (portable, AVX2, AVX-512), on lengths that leave every kind of tail.
TEST(VectorMathTest, EveryVariantReducesAndExponentiates) {
  const std::vector<std::string> variants = vector_f32_variant_names();
  EXPECT_FALSE(vector_f32_select_variant("f32_vector__no_such_isa"));
  for (const std::string& variant : variants) {
    ASSERT_TRUE(vector_f32_select_variant(variant));
    for (const int64_t n : {1, 7, 16, 37, 64, 131}) {
      SCOPED_TRACE(variant + " n=" + std::to_string(n));
      std::vector<float> v(static_cast<size_t>(n));
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 41) * 0.5f - 9.0f;
      std::vector<float> y(v.size());
      const float s = exp_shifted_sum_f32(v.data(), y.data(), n, 1.0f);
      double ref = 0, sum = 0, max = -INFINITY;
      for (size_t i = 0; i < v.size(); ++i) {
        ref += std::exp(v[i] - 1.0);
        sum += v[i];
        max = std::max<double>(max, v[i]);
        EXPECT_NEAR(y[i], std::exp(v[i] - 1.0), 1e-6 * std::exp(v[i] - 1.0));
      }
      EXPECT_NEAR(s, ref, 1e-5 * ref);
      EXPECT_NEAR(sum_exp_shifted_f32(v.data(), n, 1.0f), ref, 1e-5 * ref);
      EXPECT_NEAR(sum_f32(v.data(), n), sum, 1e-4 * (1 + std::abs(sum)));
      EXPECT_EQ(max_f32(v.data(), n), max);
      // Softmax of the row and, as columns, of an [n, 3] block (log and plain).
      std::vector<float> row(v.size()), block(v.size() * 3), block_out(block.size());
      for (size_t i = 0; i < block.size(); ++i) block[i] = v[i / 3] + static_cast<float>(i % 3);
      for (const bool log : {false, true}) {
        softmax_row_f32(v.data(), row.data(), n, log);
        softmax_block_f32(block.data(), block_out.data(), n, 3, log);
        for (size_t i = 0; i < v.size(); ++i) {
          const double p = std::exp(v[i] - 1.0) / ref;
          EXPECT_NEAR(row[i], log ? std::log(p) : p, log ? 1e-5 : 1e-6);
          for (size_t c = 0; c < 3; ++c) EXPECT_NEAR(block_out[i * 3 + c], log ? std::log(p) : p, log ? 1e-5 : 1e-6);
        }
      }
      v[v.size() / 2] = NAN;
      EXPECT_TRUE(std::isnan(max_f32(v.data(), n)));
    }
  }
  vector_f32_select_variant("");
}

// ---- MeanVarianceNormalization ------------------------------------------------------------------------------

TEST(MeanVarianceNormalizationTest, NormalizesOverDefaultAxes) {
  const std::vector<int64_t> shape = {2, 3, 2, 3};
  const Tensor x = random_float(shape, 51);
  std::vector<double> expected(static_cast<size_t>(x.element_count()));
  for (int64_t c = 0; c < 3; ++c) {
    double sum = 0, sq = 0;
    int64_t count = 0;
    for_each_index(shape, [&](int64_t i, const std::vector<int64_t>& idx) {
      if (idx[1] != c) return;
      sum += x.data<float>()[i];
      sq += x.data<float>()[i] * static_cast<double>(x.data<float>()[i]);
      ++count;
    });
    const double mean = sum / count;
    const double sd = std::sqrt(sq / count - mean * mean);
    for_each_index(shape, [&](int64_t i, const std::vector<int64_t>& idx) {
      if (idx[1] == c) expected[static_cast<size_t>(i)] = (x.data<float>()[i] - mean) / (sd + 1e-9);
    });
  }
  expect_close(run_op("MeanVarianceNormalization", 13, {}, {x})[0], expected, shape);
  EXPECT_THROW(run_op("MeanVarianceNormalization", 13, {ints_attr("axes", {0, 4})}, {x}), Error);
}

// ---- Einsum ---------------------------------------------------------------------------------------------

// Evaluates a letters-only equation with an explicit output by brute force.
std::vector<double> reference_einsum(const std::string& lhs, const std::string& rhs, const std::vector<Tensor>& xs,
                                     std::vector<int64_t>* out_shape) {
  std::vector<std::string> terms;
  size_t start = 0;
  while (true) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::map<char, int64_t> size;
  for (size_t i = 0; i < terms.size(); ++i)
    for (size_t k = 0; k < terms[i].size(); ++k) size[terms[i][k]] = std::max(size[terms[i][k]], xs[i].dim(k));
  std::string letters;
  std::vector<int64_t> dims;
  for (const auto& [c, d] : size) {
    letters += c;
    dims.push_back(d);
  }
  out_shape->clear();
  for (char c : rhs) out_shape->push_back(size[c]);
  std::vector<double> out(static_cast<size_t>(shape_element_count(*out_shape)), 0.0);
  for_each_index(dims, [&](int64_t, const std::vector<int64_t>& idx) {
    auto index_of = [&](char c) { return idx[letters.find(c)]; };
    double product = 1;
    for (size_t i = 0; i < terms.size(); ++i) {
      int64_t offset = 0;
      for (size_t k = 0; k < terms[i].size(); ++k)
        offset = offset * xs[i].dim(k) + (xs[i].dim(k) == 1 ? 0 : index_of(terms[i][k]));
      product *= value_at(xs[i], offset);
    }
    int64_t o = 0;
    for (size_t k = 0; k < rhs.size(); ++k) o = o * (*out_shape)[k] + index_of(rhs[k]);
    out[static_cast<size_t>(o)] += product;
  });
  return out;
}

TEST(EinsumTest, MatchesBruteForce) {
  struct Case {
    std::string lhs, rhs;
    std::vector<std::vector<int64_t>> shapes;
  };
  const std::vector<Case> cases = {
      {"ij,jk", "ik", {{3, 5}, {5, 4}}},
      {"bij,bjk", "bik", {{2, 3, 5}, {2, 5, 4}}},
      {"ij", "ji", {{3, 5}}},
      {"ij", "", {{3, 5}}},
      {"i,i", "", {{7}, {7}}},
      {"i,j", "ij", {{3}, {4}}},
      {"ijk,ikl,lm", "jm", {{2, 3, 4}, {2, 4, 5}, {5, 3}}},
      {"abc,cd", "dba", {{2, 3, 4}, {4, 5}}},
      {"ij,ij", "ij", {{1, 3}, {2, 3}}},
      {"bhqd,bhkd", "bhqk", {{2, 3, 5, 4}, {2, 3, 6, 4}}},
  };
  uint32_t seed = 61;
  for (const Case& c : cases) {
    std::vector<Tensor> xs;
    for (const auto& s : c.shapes) xs.push_back(random_float(s, seed++));
    std::vector<int64_t> shape;
    const std::vector<double> expected = reference_einsum(c.lhs, c.rhs, xs, &shape);
    SCOPED_TRACE(c.lhs + "->" + c.rhs);
    expect_close(run_op("Einsum", 12, {string_attr("equation", c.lhs + "->" + c.rhs)}, xs)[0], expected, shape);
  }
}

TEST(EinsumTest, DiagonalsImplicitOutputAndEllipsis) {
  Tensor m(DType::kFloat, {3, 3});
  for (int i = 0; i < 9; ++i) m.data<float>()[i] = static_cast<float>(i);
  expect_close(run_op("Einsum", 12, {string_attr("equation", "ii")}, {m})[0], {12}, {});  // trace
  expect_close(run_op("Einsum", 12, {string_attr("equation", "ii->i")}, {m})[0], {0, 4, 8}, {3});
  // Implicit output: letters appearing once, in ASCII order ('B' before 'a').
  const Tensor a = random_float({2, 3}, 71);
  const Tensor ab = run_op("Einsum", 12, {string_attr("equation", "aB")}, {a})[0];
  EXPECT_EQ(ab.shape(), (std::vector<int64_t>{3, 2}));
  // Batched diagonal with ellipsis, and broadcasting ellipses of different ranks.
  const Tensor b = random_float({2, 4, 3, 3}, 72);
  const Tensor d = run_op("Einsum", 12, {string_attr("equation", "...ii ->...i")}, {b})[0];
  ASSERT_EQ(d.shape(), (std::vector<int64_t>{2, 4, 3}));
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(d.data<float>()[i * 3 + j], b.data<float>()[i * 9 + j * 4]);
  const Tensor x = random_float({2, 4, 3, 5}, 73), y = random_float({5, 2}, 74);
  const Tensor xy = run_op("Einsum", 12, {string_attr("equation", "...ij,jk")}, {x, y})[0];
  ASSERT_EQ(xy.shape(), (std::vector<int64_t>{2, 4, 3, 2}));
  for (int64_t bi = 0; bi < 8; ++bi)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t k = 0; k < 2; ++k) {
        double s = 0;
        for (int64_t j = 0; j < 5; ++j)
          s += x.data<float>()[bi * 15 + i * 5 + j] * static_cast<double>(y.data<float>()[j * 2 + k]);
        EXPECT_NEAR(xy.data<float>()[bi * 6 + i * 2 + k], s, 1e-4);
      }
  const Tensor z = random_float({4, 1, 1}, 75);
  EXPECT_EQ(run_op("Einsum", 12, {string_attr("equation", "...ij,...jk->...ik")}, {x, random_float({4, 5, 2}, 76)})[0]
                .shape(),
            (std::vector<int64_t>{2, 4, 3, 2}));
  EXPECT_EQ(run_op("Einsum", 12, {string_attr("equation", "...,...")}, {x, z})[0].shape(),
            (std::vector<int64_t>{2, 4, 3, 5}));
}

TEST(EinsumTest, IntegersAndErrors) {
  const Tensor a = Tensor::from_vector<int32_t>(DType::kInt32, {1, -2, 3});
  expect_close(run_op("Einsum", 12, {string_attr("equation", "i,i->")}, {a, a})[0], {14}, {}, 0, 0);
  const Tensor x = random_float({2, 3}, 81);
  EXPECT_THROW(run_op("Einsum", 12, {string_attr("equation", "ij,jk->ik")}, {x, random_float({4, 2}, 82)}), Error);
  EXPECT_THROW(run_op("Einsum", 12, {string_attr("equation", "ijk->ik")}, {x}), Error);
  EXPECT_THROW(run_op("Einsum", 12, {string_attr("equation", "ij->iz")}, {x}), Error);
  EXPECT_THROW(run_op("Einsum", 12, {string_attr("equation", "i1->i")}, {x}), Error);
  EXPECT_THROW(run_op("Einsum", 12, {string_attr("equation", "ij,jk->ik")}, {x}), Error);
}

TEST(EinsumTest, LargeContractionsOnThePoolMatchBruteForce) {
  ThreadPool pool(2);
  struct Case {
    std::string lhs, rhs;
    std::vector<std::vector<int64_t>> shapes;
  };
  const std::vector<Case> cases = {
      {"bhqd,bhkd", "bhqk", {{2, 3, 17, 33}, {2, 3, 19, 33}}},  // many small products
      {"ij,jk", "ik", {{70, 90}, {90, 80}}},                    // one large product
      {"ij,kj", "ki", {{7, 5}, {9, 5}}},
  };
  uint32_t seed = 91;
  for (const Case& c : cases) {
    std::vector<Tensor> xs;
    for (const auto& shape : c.shapes) xs.push_back(random_float(shape, seed++));
    std::vector<int64_t> shape;
    const std::vector<double> expected = reference_einsum(c.lhs, c.rhs, xs, &shape);
    SCOPED_TRACE(c.lhs + "->" + c.rhs);
    expect_close(run_op("Einsum", 12, {string_attr("equation", c.lhs + "->" + c.rhs)}, xs, 1, &pool)[0], expected,
                 shape, 1e-4, 1e-4);
  }
}

// ---- Det ------------------------------------------------------------------------------------------------

TEST(DetTest, KnownValuesAndBatches) {
  const Tensor m = Tensor::from_vector<float>(DType::kFloat, {1, 2, 3, 4}).reshaped({2, 2});
  expect_close(run_op("Det", 11, {}, {m})[0], {-2}, {});
  const Tensor batch = Tensor::from_vector<double>(DType::kDouble, {2, 0, 0, 0, 3, 0, 0, 0, 4,   // diag: 24
                                                                    0, 1, 0, 1, 0, 0, 0, 0, 1,   // swap: -1
                                                                    1, 2, 3, 2, 4, 6, 0, 1, 1})  // singular
                           .reshaped({3, 3, 3});
  expect_close(run_op("Det", 22, {}, {batch})[0], {24, -1, 0}, {3}, 1e-12, 1e-12);
  EXPECT_THROW(run_op("Det", 11, {}, {random_float({2, 3}, 1)}), Error);
  EXPECT_THROW(run_op("Det", 11, {}, {random_float({3}, 1)}), Error);
}

// ---- Shape inference ----------------------------------------------------------------------------------------

// Runs op_type's inference on inputs of the given types (and constant values, where given).
std::vector<TypeInfo> infer(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                            const std::vector<TypeInfo>& types, const std::vector<const Tensor*>& constants,
                            size_t output_count = 1) {
  Node node;
  node.op_type = op_type;
  node.opset = opset;
  for (size_t i = 0; i < types.size(); ++i) node.inputs.push_back("in" + std::to_string(i));
  for (size_t i = 0; i < output_count; ++i) node.outputs.push_back("out" + std::to_string(i));
  for (const Attribute& a : attrs) node.attributes[a.name] = a;
  std::vector<const TypeInfo*> type_ptrs;
  for (const TypeInfo& t : types) type_ptrs.push_back(&t);
  std::vector<const Tensor*> constant_ptrs = constants;
  constant_ptrs.resize(types.size(), nullptr);
  InferenceContext ctx(node, type_ptrs, constant_ptrs);
  OpRegistry::instance().find("", op_type, opset)->infer(ctx);
  return ctx.output_types();
}

TEST(ReductionInferenceTest, ShapesFollowAttributesAndConstants) {
  const TypeInfo x =
      TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::named("batch"), Dim::known(3), Dim::known(5)});
  EXPECT_EQ(infer("ReduceMean", 11, {ints_attr("axes", {-1})}, {x}, {})[0].to_string(), "float[batch,3,1]");
  const Tensor axes = int64s({1});
  EXPECT_EQ(infer("ReduceSum", 13, {int_attr("keepdims", 0)}, {x, TypeInfo::tensor_of_shape(DType::kInt64, {1})},
                  {nullptr, &axes})[0]
                .to_string(),
            "float[batch,5]");
  EXPECT_EQ(infer("ReduceMax", 18, {}, {x, TypeInfo::tensor_of_shape(DType::kInt64, {1})}, {})[0].to_string(),
            "float[?,?,?]");
  EXPECT_EQ(infer("ArgMax", 13, {int_attr("axis", 1), int_attr("keepdims", 0)}, {x}, {})[0].to_string(),
            "int64[batch,5]");
  const Tensor k = int64s({2});
  const std::vector<TypeInfo> top =
      infer("TopK", 11, {}, {x, TypeInfo::tensor_of_shape(DType::kInt64, {1})}, {nullptr, &k}, 2);
  EXPECT_EQ(top[0].to_string(), "float[batch,3,2]");
  EXPECT_EQ(top[1].to_string(), "int64[batch,3,2]");
  const TypeInfo y =
      TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::named("batch"), Dim::known(5), Dim::known(7)});
  EXPECT_EQ(infer("Einsum", 12, {string_attr("equation", "bij,bjk->bki")}, {x, y}, {})[0].to_string(),
            "float[batch,7,3]");
  EXPECT_EQ(infer("Det", 11, {}, {TypeInfo::tensor_of_shape(DType::kFloat, {4, 3, 3})}, {})[0].to_string(), "float[4]");
}

}  // namespace
}  // namespace tessera

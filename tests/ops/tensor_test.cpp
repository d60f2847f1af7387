// Tests of the tensor-manipulation family (src/ops/tensor/): the strided-copy fast paths (Transpose, Slice,
// Expand, Tile, DepthToSpace, Pad, Concat/Split, Gather) against naive index-by-index references on random,
// odd-sized inputs of several element sizes and strings, serially and on a two-thread pool; opset-dependent
// behaviour; shape inference; and the error cases (bad axes, shapes and indices).
#include <gtest/gtest.h>

#include <algorithm>
#include <complex>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/float_types.h"
#include "kernels/x32-transpose/x32-transpose.h"
#include "ops/common/op_utils.h"
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

Attribute tensor_attr(const std::string& name, Tensor t) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kTensor;
  a.t = std::move(t);
  return a;
}

Node make_node(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs, size_t input_count,
               const std::vector<bool>& present, size_t output_count) {
  Node node;
  node.name = "n";
  node.op_type = op_type;
  node.opset = opset;
  for (size_t i = 0; i < input_count; ++i) node.inputs.push_back(present[i] ? "in" + std::to_string(i) : "");
  for (size_t i = 0; i < output_count; ++i) node.outputs.push_back("out" + std::to_string(i));
  for (const Attribute& a : attrs) node.attributes[a.name] = a;
  return node;
}

// Runs one node of `op_type` at `opset` on values (a kNone value is a missing input).
std::vector<RuntimeValue> run_values(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                                     const std::vector<RuntimeValue>& inputs, size_t output_count = 1,
                                     Parallelism* parallelism = nullptr) {
  std::vector<bool> present;
  for (const RuntimeValue& v : inputs) present.push_back(!v.is_none() || v.is_optional());
  const Node node = make_node(op_type, opset, attrs, inputs.size(), present, output_count);
  const OpRegistration* reg = OpRegistry::instance().find("", op_type, opset);
  if (reg == nullptr) throw Error(ErrorCode::kUnsupported, "no kernel for " + op_type);
  std::vector<TypeInfo> input_types(inputs.size());
  KernelInfo info{node, opset, input_types, {}, std::vector<const Tensor*>(inputs.size(), nullptr), {}};
  std::unique_ptr<Kernel> kernel = reg->factory(info);
  std::vector<const RuntimeValue*> input_ptrs;
  for (const RuntimeValue& v : inputs) input_ptrs.push_back(&v);
  std::vector<RuntimeValue> outputs(output_count);
  SerialParallelism serial;
  KernelContext ctx(node, input_ptrs, outputs, parallelism ? *parallelism : serial, {});
  kernel->compute(ctx);
  return outputs;
}

// Tensor form of run_values; an undefined Tensor is a missing input.
std::vector<Tensor> run_op(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                           const std::vector<Tensor>& inputs, size_t output_count = 1,
                           Parallelism* parallelism = nullptr) {
  std::vector<RuntimeValue> values;
  for (const Tensor& t : inputs) values.push_back(t.defined() ? RuntimeValue(t) : RuntimeValue());
  std::vector<Tensor> result;
  for (RuntimeValue& v : run_values(op_type, opset, attrs, values, output_count, parallelism))
    result.push_back(v.tensor());
  return result;
}

Tensor ints(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(DType::kInt64, v); }
Tensor int_scalar(int64_t v) { return Tensor::scalar<int64_t>(DType::kInt64, v); }

// A tensor whose element i encodes i (so every element is distinguishable), of a dtype of element size 1, 2, 4,
// 8 or 16, or strings.
Tensor iota(DType dtype, const std::vector<int64_t>& shape) {
  Tensor t(dtype, shape);
  for (int64_t i = 0; i < t.element_count(); ++i) {
    switch (dtype) {
      case DType::kFloat:
        t.data<float>()[i] = static_cast<float>(i);
        break;
      case DType::kUint8:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(i * 7 + 1);
        break;
      case DType::kFloat16:
        t.data<Float16>()[i] = Float16{static_cast<uint16_t>(i + 1)};
        break;
      case DType::kInt64:
        t.data<int64_t>()[i] = i * 1000003;
        break;
      case DType::kComplex128:
        t.data<std::complex<double>>()[i] = {double(i), -double(i)};
        break;
      case DType::kString:
        t.data<std::string>()[i] = "s" + std::to_string(i);
        break;
      default:
        ADD_FAILURE() << "iota: unsupported dtype";
    }
  }
  return t;
}

// True when a[ia] == b[ib] for tensors of one dtype.
bool element_equal(const Tensor& a, int64_t ia, const Tensor& b, int64_t ib) {
  if (a.dtype() == DType::kString) return a.data<std::string>()[ia] == b.data<std::string>()[ib];
  const size_t size = dtype_size(a.dtype());
  return std::memcmp(static_cast<const char*>(a.raw_data()) + ia * size,
                     static_cast<const char*>(b.raw_data()) + ib * size, size) == 0;
}

// Checks y[i] == x[source(i)] for every element; source returns -1 for "equals `fill` element 0".
void expect_mapping(const Tensor& y, const Tensor& x, const std::function<int64_t(const std::vector<int64_t>&)>& source,
                    const Tensor* fill = nullptr) {
  std::vector<int64_t> index(y.rank(), 0);
  for (int64_t i = 0; i < y.element_count(); ++i) {
    int64_t rest = i;
    for (size_t d = y.rank(); d-- > 0;) {
      index[d] = rest % y.dim(d);
      rest /= y.dim(d);
    }
    const int64_t s = source(index);
    const bool ok = s < 0 ? (fill != nullptr && element_equal(y, i, *fill, 0)) : element_equal(y, i, x, s);
    if (!ok) {
      ADD_FAILURE() << "element " << i << " of " << y.description() << " differs (source " << s << ")";
      return;
    }
  }
}

int64_t flat_index(const std::vector<int64_t>& index, const std::vector<int64_t>& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

// numpy.pad's source coordinate for one axis, by bouncing or wrapping step by step.
int64_t numpy_pad_source(int64_t i, int64_t n, const std::string& mode) {
  if (i >= 0 && i < n) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return i < 0 ? 0 : n - 1;
  if (mode == "wrap") {
    while (i < 0) i += n;
    return i % n;
  }
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

const std::vector<DType> kMovedTypes = {DType::kUint8, DType::kFloat16,    DType::kFloat,
                                        DType::kInt64, DType::kComplex128, DType::kString};

class TensorOpsTest : public ::testing::Test {
 protected:
  ThreadPool pool_{2};
  std::mt19937 rng_{1234};

  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  std::vector<int64_t> random_shape(size_t rank, int64_t lo, int64_t hi) {
    std::vector<int64_t> shape(rank);
    for (int64_t& d : shape) d = uniform(lo, hi);
    return shape;
  }
};

TEST_F(TensorOpsTest, TransposeMatchesNaiveOnRandomShapes) {
  for (int trial = 0; trial < 60; ++trial) {
    const size_t rank = static_cast<size_t>(uniform(1, 5));
    const DType dtype = kMovedTypes[static_cast<size_t>(trial) % kMovedTypes.size()];
    const std::vector<int64_t> shape = random_shape(rank, 1, rank <= 2 ? 70 : 9);
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng_);
    const Tensor x = iota(dtype, shape);
    Parallelism* par = trial % 2 ? &pool_ : nullptr;
    const Tensor y = run_op("Transpose", 13, {ints_attr("perm", perm)}, {x}, 1, par)[0];
    ASSERT_EQ(y.rank(), rank);
    for (size_t i = 0; i < rank; ++i) ASSERT_EQ(y.dim(i), shape[static_cast<size_t>(perm[i])]);
    expect_mapping(y, x, [&](const std::vector<int64_t>& out) {
      std::vector<int64_t> in(rank);
      for (size_t i = 0; i < rank; ++i) in[static_cast<size_t>(perm[i])] = out[i];
      return flat_index(in, shape);
    });
  }
}

TEST_F(TensorOpsTest, TransposeLargePlaneUsesTilesInParallel) {
  const std::vector<int64_t> shape{3, 301, 257};
  const Tensor x = iota(DType::kFloat, shape);
  const Tensor y = run_op("Transpose", 13, {ints_attr("perm", {0, 2, 1})}, {x}, 1, &pool_)[0];
  expect_mapping(y, x, [&](const std::vector<int64_t>& o) { return flat_index({o[0], o[2], o[1]}, shape); });
  const Tensor d = run_op("Transpose", 1, {}, {x}, 1, &pool_)[0];  // default: reversed axes
  EXPECT_EQ(d.shape(), (std::vector<int64_t>{257, 301, 3}));
  expect_mapping(d, x, [&](const std::vector<int64_t>& o) { return flat_index({o[2], o[1], o[0]}, shape); });
}

TEST_F(TensorOpsTest, TransposeOfFourByteElementsMatchesNaive) {
  // The x32-transpose path of the strided copy: NCHW <-> NHWC, BERT's head split, matrices and reversed axes,
  // odd sizes (register-tile edges), float (random bits: NaN payloads included) and int32, serially and on two
  // threads (the second and third shapes are above the parallel threshold: one plane, and planes split mid-plane), on
  // every kernel variant this CPU runs.
  struct Case {
    std::vector<int64_t> shape, perm;
  };
  const Case cases[] = {{{2, 37, 5, 19}, {0, 2, 3, 1}},
                        {{1, 67, 29, 31}, {0, 2, 3, 1}},
                        {{3, 40, 17, 19}, {0, 2, 3, 1}},
                        {{2, 7, 5, 37}, {0, 3, 1, 2}},
                        {{1, 9, 7, 131}, {0, 3, 1, 2}},
                        {{3, 17, 13, 9}, {0, 2, 1, 3}},
                        {{2, 33, 5, 4}, {0, 2, 1, 3}},
                        {{67, 45}, {1, 0}},
                        {{5, 300}, {1, 0}},
                        {{19, 23, 37}, {2, 1, 0}},
                        {{4, 1, 33}, {2, 1, 0}}};
  for (const std::string& variant : x32_transpose_kernel_names()) {
    SCOPED_TRACE(variant);
    ASSERT_TRUE(x32_transpose_select_kernel(variant));
    for (DType dtype : {DType::kFloat, DType::kInt32}) {
      for (const Case& c : cases) {
        Tensor x(dtype, c.shape);
        uint32_t* bits = static_cast<uint32_t*>(x.raw_data());
        for (int64_t i = 0; i < x.element_count(); ++i) bits[i] = static_cast<uint32_t>(rng_());
        for (Parallelism* par : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool_)}) {
          const Tensor y = run_op("Transpose", 13, {ints_attr("perm", c.perm)}, {x}, 1, par)[0];
          ASSERT_EQ(y.dtype(), dtype);
          const size_t rank = c.shape.size();
          ASSERT_EQ(y.rank(), rank);
          for (size_t i = 0; i < rank; ++i) ASSERT_EQ(y.dim(i), c.shape[static_cast<size_t>(c.perm[i])]);
          expect_mapping(y, x, [&](const std::vector<int64_t>& out) {
            std::vector<int64_t> in(rank);
            for (size_t i = 0; i < rank; ++i) in[static_cast<size_t>(c.perm[i])] = out[i];
            return flat_index(in, c.shape);
          });
        }
      }
    }
  }
  x32_transpose_select_kernel("");
}

TEST_F(TensorOpsTest, LargeCopiesTakeParallelPathsCorrectly) {
  const std::vector<int64_t> shape{37, 61, 45};  // ~400 KB of floats: above the parallel threshold
  const Tensor x = iota(DType::kFloat, shape);
  const Tensor s =
      run_op("Slice", 13, {}, {x, ints({1, -2}), ints({-1, 0}), ints({1, 2}), ints({2, -1})}, 1, &pool_)[0];
  EXPECT_EQ(s.shape(), (std::vector<int64_t>{37, 30, 43}));
  expect_mapping(s, x, [&](const std::vector<int64_t>& o) {
    return flat_index({o[0], 1 + 2 * o[1], 43 - o[2]}, shape);
  });
  const Tensor c = run_op("Concat", 13, {int_attr("axis", 2)}, {x, x}, 1, &pool_)[0];
  expect_mapping(c, x, [&](const std::vector<int64_t>& o) { return flat_index({o[0], o[1], o[2] % 45}, shape); });
  const std::vector<Tensor> parts = run_op("Split", 13, {int_attr("axis", 1)}, {x, ints({20, 41})}, 2, &pool_);
  expect_mapping(parts[1], x, [&](const std::vector<int64_t>& o) {
    return flat_index({o[0], o[1] + 20, o[2]}, shape);
  });
  const Tensor g = run_op("Gather", 13, {int_attr("axis", 2)}, {x, ints({44, 0, -1, 3})}, 1, &pool_)[0];
  const std::vector<int64_t> picks{44, 0, 44, 3};
  expect_mapping(g, x, [&](const std::vector<int64_t>& o) { return flat_index({o[0], o[1], picks[o[2]]}, shape); });
  const Tensor p = run_op("Pad", 13, {string_attr("mode", "reflect")}, {x, ints({0, 2, 3, 0, 1, 2})}, 1, &pool_)[0];
  expect_mapping(p, x, [&](const std::vector<int64_t>& o) {
    return flat_index({o[0], numpy_pad_source(o[1] - 2, 61, "reflect"), numpy_pad_source(o[2] - 3, 45, "reflect")},
                      shape);
  });
  const Tensor e = run_op("Expand", 13, {}, {x.reshaped({37, 61, 1, 45}), ints({3, 1})}, 1, &pool_)[0];
  expect_mapping(e, x, [&](const std::vector<int64_t>& o) { return flat_index({o[0], o[1], o[3]}, shape); });
}

TEST_F(TensorOpsTest, TransposeOfUnitDimsIsAView) {
  const Tensor x = iota(DType::kFloat, {1, 5, 1, 3});
  const Tensor y = run_op("Transpose", 13, {ints_attr("perm", {2, 1, 0, 3})}, {x})[0];
  EXPECT_EQ(y.raw_data(), x.raw_data());
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{1, 5, 1, 3}));
}

TEST_F(TensorOpsTest, TransposeRejectsBadPerm) {
  const Tensor x = iota(DType::kFloat, {2, 3});
  EXPECT_THROW(run_op("Transpose", 13, {ints_attr("perm", {0, 0})}, {x}), Error);
  EXPECT_THROW(run_op("Transpose", 13, {ints_attr("perm", {0, 1, 2})}, {x}), Error);
  EXPECT_THROW(run_op("Transpose", 13, {ints_attr("perm", {0, 5})}, {x}), Error);
}

// The index list Slice takes on one axis, walked element by element. ONNX clamps like NumPy except that a
// start below -dim with a negative step clamps to 0 (NumPy gives an empty slice there).
std::vector<int64_t> onnx_slice(int64_t dim, int64_t start, int64_t end, int64_t step) {
  const bool forward = step > 0;
  auto wrap = [dim](int64_t v) { return v < 0 ? std::max<int64_t>(v, -dim - 1) + dim : v; };
  const int64_t first =
      forward ? std::clamp<int64_t>(wrap(start), 0, dim) : std::clamp<int64_t>(wrap(start), 0, dim - 1);
  const int64_t last = forward ? std::clamp<int64_t>(wrap(end), 0, dim) : std::clamp<int64_t>(wrap(end), -1, dim - 1);
  std::vector<int64_t> out;
  for (int64_t i = first; forward ? i < last : i > last; i += step) out.push_back(i);
  return out;
}

TEST_F(TensorOpsTest, SliceMatchesReferenceOnRandomBounds) {
  for (int trial = 0; trial < 80; ++trial) {
    const size_t rank = static_cast<size_t>(uniform(1, 4));
    const DType dtype = kMovedTypes[static_cast<size_t>(trial) % kMovedTypes.size()];
    const std::vector<int64_t> shape = random_shape(rank, 1, 11);
    std::vector<int64_t> starts, ends, axes, steps;
    std::vector<std::vector<int64_t>> picks(rank);
    for (size_t a = 0; a < rank; ++a) picks[a] = onnx_slice(shape[a], 0, shape[a], 1);
    for (size_t a = 0; a < rank; ++a) {
      if (uniform(0, 2) == 0) continue;
      const int64_t step = uniform(0, 1) ? uniform(1, 3) : -uniform(1, 3);
      const int64_t start = uniform(-shape[a] - 3, shape[a] + 3);
      const int64_t end =
          uniform(0, 5) == 0 ? (step > 0 ? INT64_MAX : INT64_MIN) : uniform(-shape[a] - 3, shape[a] + 3);
      starts.push_back(start);
      ends.push_back(end);
      axes.push_back(uniform(0, 1) ? static_cast<int64_t>(a) : static_cast<int64_t>(a) - static_cast<int64_t>(rank));
      steps.push_back(step);
      picks[a] = onnx_slice(shape[a], start, end, step);
    }
    const Tensor x = iota(dtype, shape);
    const Tensor y = run_op("Slice", 13, {}, {x, ints(starts), ints(ends), ints(axes), ints(steps)}, 1,
                            trial % 2 ? &pool_ : nullptr)[0];
    ASSERT_EQ(y.rank(), rank);
    for (size_t a = 0; a < rank; ++a) ASSERT_EQ(y.dim(a), static_cast<int64_t>(picks[a].size())) << "axis " << a;
    expect_mapping(y, x, [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> in(rank);
      for (size_t a = 0; a < rank; ++a) in[a] = picks[a][static_cast<size_t>(o[a])];
      return flat_index(in, shape);
    });
  }
}

TEST_F(TensorOpsTest, SliceOfLeadingRowsIsAView) {
  const Tensor x = iota(DType::kFloat, {6, 4, 3});
  const Tensor y = run_op("Slice", 13, {}, {x, ints({2}), ints({5}), ints({0})})[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{3, 4, 3}));
  EXPECT_EQ(y.data<float>(), x.data<float>() + 24);
  const Tensor z = run_op("Slice", 13, {}, {x, ints({1, 1}), ints({2, 3}), ints({0, 1})})[0];
  EXPECT_EQ(z.data<float>(), x.data<float>() + 15);
  EXPECT_EQ(z.data<float>()[5], 20.0f);
}

TEST_F(TensorOpsTest, SliceOpset1UsesAttributes) {
  const Tensor x = iota(DType::kFloat, {3, 4});
  const Tensor y =
      run_op("Slice", 1, {ints_attr("starts", {1}), ints_attr("ends", {1000}), ints_attr("axes", {1})}, {x})[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(y.data<float>()[0], 1.0f);
}

TEST_F(TensorOpsTest, SliceRejectsZeroStepAndBadAxes) {
  const Tensor x = iota(DType::kFloat, {3, 4});
  EXPECT_THROW(run_op("Slice", 13, {}, {x, ints({0}), ints({2}), ints({0}), ints({0})}), Error);
  EXPECT_THROW(run_op("Slice", 13, {}, {x, ints({0}), ints({2}), ints({2})}), Error);
  EXPECT_THROW(run_op("Slice", 13, {}, {x, ints({0, 0}), ints({2, 2}), ints({1, -1})}), Error);
}

TEST_F(TensorOpsTest, ConcatAndSplitRoundTrip) {
  for (int trial = 0; trial < 30; ++trial) {
    const size_t rank = static_cast<size_t>(uniform(1, 4));
    const DType dtype = kMovedTypes[static_cast<size_t>(trial) % kMovedTypes.size()];
    const std::vector<int64_t> shape = random_shape(rank, 1, 40);
    const int64_t axis = uniform(0, static_cast<int64_t>(rank) - 1);
    std::vector<int64_t> sizes;
    for (int64_t left = shape[static_cast<size_t>(axis)]; left > 0;) {
      sizes.push_back(std::min(left, uniform(0, 15)));
      left -= sizes.back();
    }
    const Tensor x = iota(dtype, shape);
    Parallelism* par = trial % 2 ? &pool_ : nullptr;
    const std::vector<Tensor> parts =
        run_op("Split", 13, {int_attr("axis", axis)}, {x, ints(sizes)}, sizes.size(), par);
    const Tensor y = run_op("Concat", 13, {int_attr("axis", axis - static_cast<int64_t>(rank))}, parts, 1, par)[0];
    ASSERT_EQ(y.shape(), shape);
    expect_mapping(y, x, [&](const std::vector<int64_t>& o) { return flat_index(o, shape); });
  }
}

// Many outer rows (the row-split copy): 200 rows of 66 one-column pieces, as scikit-learn's PolynomialFeatures
// concatenates them, and pieces with an inner block, for every moved type (strings take the per-piece copy).
TEST_F(TensorOpsTest, ConcatOfManyRowsOfNarrowPieces) {
  for (const DType dtype : kMovedTypes) {
    for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{200, 66}, {70, 9, 3}}) {
      const Tensor x = iota(dtype, shape);
      std::vector<int64_t> sizes(static_cast<size_t>(shape[1] / 3), 3);
      if (shape[1] == 66) sizes.assign(66, 1);
      for (Parallelism* par : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool_)}) {
        const std::vector<Tensor> parts =
            run_op("Split", 13, {int_attr("axis", 1)}, {x, ints(sizes)}, sizes.size(), par);
        const Tensor y = run_op("Concat", 13, {int_attr("axis", 1)}, parts, 1, par)[0];
        ASSERT_EQ(y.shape(), shape);
        expect_mapping(y, x, [&](const std::vector<int64_t>& o) { return flat_index(o, shape); });
      }
    }
  }
}

TEST_F(TensorOpsTest, SplitVariantsAcrossOpsets) {
  const Tensor x = iota(DType::kFloat, {7});
  const std::vector<Tensor> uneven = run_op("Split", 18, {int_attr("num_outputs", 4)}, {x}, 4);
  EXPECT_EQ(uneven[3].shape(), (std::vector<int64_t>{1}));
  EXPECT_EQ(uneven[2].data<float>()[1], 5.0f);
  const std::vector<Tensor> by_attr = run_op("Split", 2, {ints_attr("split", {3, 4})}, {x}, 2);
  EXPECT_EQ(by_attr[1].shape(), (std::vector<int64_t>{4}));
  EXPECT_THROW(run_op("Split", 13, {}, {x}, 2), Error);  // 7 is not divisible by 2
  EXPECT_THROW(run_op("Split", 13, {}, {x, ints({3, 3})}, 2), Error);
}

TEST_F(TensorOpsTest, ConcatRejectsMismatchedShapes) {
  EXPECT_THROW(run_op("Concat", 13, {int_attr("axis", 0)}, {iota(DType::kFloat, {2, 3}), iota(DType::kFloat, {2, 4})}),
               Error);
  EXPECT_THROW(run_op("Concat", 13, {int_attr("axis", 2)}, {iota(DType::kFloat, {2, 3})}), Error);
}

TEST_F(TensorOpsTest, GatherMatchesNaiveWithNegativeIndices) {
  for (int trial = 0; trial < 40; ++trial) {
    const size_t rank = static_cast<size_t>(uniform(1, 4));
    const DType dtype = kMovedTypes[static_cast<size_t>(trial) % kMovedTypes.size()];
    const std::vector<int64_t> shape = random_shape(rank, 1, 12);
    const size_t axis = static_cast<size_t>(uniform(0, static_cast<int64_t>(rank) - 1));
    const std::vector<int64_t> index_shape = random_shape(static_cast<size_t>(uniform(0, 2)), 1, 5);
    Tensor indices(DType::kInt64, index_shape);
    for (int64_t i = 0; i < indices.element_count(); ++i)
      indices.data<int64_t>()[i] = uniform(-shape[axis], shape[axis] - 1);
    const Tensor x = iota(dtype, shape);
    const Tensor y = run_op("Gather", 13, {int_attr("axis", static_cast<int64_t>(axis))}, {x, indices}, 1,
                            trial % 2 ? &pool_ : nullptr)[0];
    ASSERT_EQ(y.rank(), rank - 1 + index_shape.size());
    expect_mapping(y, x, [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> idx_pos(o.begin() + axis, o.begin() + axis + index_shape.size());
      int64_t v = indices.data<int64_t>()[flat_index(idx_pos, index_shape)];
      if (v < 0) v += shape[axis];
      std::vector<int64_t> in(o.begin(), o.begin() + axis);
      in.push_back(v);
      in.insert(in.end(), o.begin() + axis + index_shape.size(), o.end());
      return flat_index(in, shape);
    });
  }
}

TEST_F(TensorOpsTest, OutOfRangeIndicesNameIndexAndDim) {
  const Tensor x = iota(DType::kFloat, {3, 4});
  try {
    run_op("Gather", 13, {int_attr("axis", 1)}, {x, ints({1, 4})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("index 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("size 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run_op("GatherElements", 13, {}, {x, ints({-4}).reshaped({1, 1})}), Error);
  EXPECT_THROW(run_op("GatherND", 13, {}, {x, ints({0, 9}).reshaped({1, 2})}), Error);
  EXPECT_THROW(run_op("ScatterElements", 13, {}, {x, ints({3}).reshaped({1, 1}), iota(DType::kFloat, {1, 1})}), Error);
  EXPECT_THROW(run_op("ScatterND", 13, {}, {x, ints({5}).reshaped({1, 1}), iota(DType::kFloat, {1, 4})}), Error);
}

TEST_F(TensorOpsTest, GatherElementsAndGatherNDBatchDims) {
  const Tensor x = iota(DType::kFloat, {2, 3});
  const Tensor ge = run_op("GatherElements", 13, {int_attr("axis", 1)}, {x, ints({2, -3, 1, 1}).reshaped({2, 2})})[0];
  EXPECT_EQ(std::vector<float>(ge.data<float>(), ge.data<float>() + 4), (std::vector<float>{2, 0, 4, 4}));
  const Tensor data = iota(DType::kFloat, {2, 2, 2});
  const Tensor nd = run_op("GatherND", 13, {int_attr("batch_dims", 1)}, {data, ints({1, 0}).reshaped({2, 1})})[0];
  EXPECT_EQ(nd.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(std::vector<float>(nd.data<float>(), nd.data<float>() + 4), (std::vector<float>{2, 3, 4, 5}));
}

TEST_F(TensorOpsTest, ScatterReductions) {
  Tensor data = Tensor::from_vector<float>(DType::kFloat, {1, 2, 3, 4, 5});
  data = data.reshaped({1, 5});
  const Tensor idx = ints({1, 3, 1}).reshaped({1, 3});
  const Tensor upd = Tensor::from_vector<float>(DType::kFloat, {10, 20, 30}).reshaped({1, 3});
  auto run = [&](const std::string& r, int64_t opset) {
    const Tensor y =
        run_op("ScatterElements", opset, {int_attr("axis", 1), string_attr("reduction", r)}, {data, idx, upd})[0];
    return std::vector<float>(y.data<float>(), y.data<float>() + 5);
  };
  EXPECT_EQ(run("none", 18), (std::vector<float>{1, 30, 3, 20, 5}));
  EXPECT_EQ(run("add", 16), (std::vector<float>{1, 42, 3, 24, 5}));
  EXPECT_EQ(run("mul", 18), (std::vector<float>{1, 600, 3, 80, 5}));
  EXPECT_EQ(run("max", 18), (std::vector<float>{1, 30, 3, 20, 5}));
  EXPECT_EQ(run("min", 18), (std::vector<float>{1, 2, 3, 4, 5}));
  EXPECT_THROW(run("max", 16), Error);  // max arrived in opset 18
  // Input data is left untouched.
  EXPECT_EQ(data.data<float>()[1], 2.0f);
  const Tensor nd =
      run_op("ScatterND", 18, {string_attr("reduction", "add")},
             {iota(DType::kInt64, {3, 2}), ints({2, 2}).reshaped({2, 1}), ints({1, 1, 1, 1}).reshaped({2, 2})})[0];
  EXPECT_EQ(nd.data<int64_t>()[4], 4 * 1000003 + 2);
}

TEST_F(TensorOpsTest, ExpandAndTileMatchNaive) {
  for (int trial = 0; trial < 30; ++trial) {
    const size_t rank = static_cast<size_t>(uniform(1, 4));
    const DType dtype = kMovedTypes[static_cast<size_t>(trial) % kMovedTypes.size()];
    std::vector<int64_t> shape = random_shape(rank, 1, 6);
    std::vector<int64_t> target(rank + 1, 3);
    for (size_t a = 0; a < rank; ++a) {
      if (uniform(0, 1)) shape[a] = 1;
      target[a + 1] = shape[a] == 1 ? uniform(1, 5) : (uniform(0, 1) ? shape[a] : 1);
    }
    const Tensor x = iota(dtype, shape);
    Parallelism* par = trial % 2 ? &pool_ : nullptr;
    const Tensor y = run_op("Expand", 13, {}, {x, ints(target)}, 1, par)[0];
    expect_mapping(y, x, [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> in(rank);
      for (size_t a = 0; a < rank; ++a) in[a] = shape[a] == 1 ? 0 : o[a + 1];
      return flat_index(in, shape);
    });
    const std::vector<int64_t> repeats = random_shape(rank, 0, 3);
    const Tensor t = run_op("Tile", 13, {}, {x, ints(repeats)}, 1, par)[0];
    for (size_t a = 0; a < rank; ++a) ASSERT_EQ(t.dim(a), shape[a] * repeats[a]);
    expect_mapping(t, x, [&](const std::vector<int64_t>& o) {
      std::vector<int64_t> in(rank);
      for (size_t a = 0; a < rank; ++a) in[a] = o[a] % shape[a];
      return flat_index(in, shape);
    });
  }
  EXPECT_THROW(run_op("Expand", 13, {}, {iota(DType::kFloat, {3}), ints({4})}), Error);
  EXPECT_THROW(run_op("Tile", 13, {}, {iota(DType::kFloat, {3}), ints({1, 2})}), Error);
}

TEST_F(TensorOpsTest, TileOpset1RepeatsOneAxis) {
  const Tensor x = iota(DType::kFloat, {2, 3});
  const Tensor y = run_op("Tile", 1, {}, {x, int_scalar(2), int_scalar(1)})[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(y.data<float>()[4], 1.0f);
}

TEST_F(TensorOpsTest, PadModesMatchNumpy) {
  const std::vector<std::string> modes{"constant", "reflect", "edge", "wrap"};
  for (int trial = 0; trial < 60; ++trial) {
    const std::string mode = modes[static_cast<size_t>(trial) % modes.size()];
    const size_t rank = static_cast<size_t>(uniform(1, 3));
    const DType dtype = kMovedTypes[static_cast<size_t>(trial / 4) % kMovedTypes.size()];
    const std::vector<int64_t> shape = random_shape(rank, 1, 6);
    std::vector<int64_t> pads(2 * rank);
    for (size_t a = 0; a < rank; ++a) {
      const int64_t lo = mode == "constant" ? -shape[a] / 2 : 0;
      pads[a] = uniform(lo, 7);
      pads[a + rank] = uniform(lo, 7);
    }
    const Tensor x = iota(dtype, shape);
    Tensor value(dtype, {});
    if (dtype == DType::kString) value.data<std::string>()[0] = "pad";
    const Tensor y = run_op("Pad", 19, {string_attr("mode", mode)},
                            {x, ints(pads), mode == "constant" ? value : Tensor()}, 1, trial % 2 ? &pool_ : nullptr)[0];
    for (size_t a = 0; a < rank; ++a) ASSERT_EQ(y.dim(a), shape[a] + pads[a] + pads[a + rank]);
    expect_mapping(
        y, x,
        [&](const std::vector<int64_t>& o) -> int64_t {
          std::vector<int64_t> in(rank);
          for (size_t a = 0; a < rank; ++a) {
            in[a] = numpy_pad_source(o[a] - pads[a], shape[a], mode);
            if (in[a] < 0) return -1;
          }
          return flat_index(in, shape);
        },
        &value);
  }
}

TEST_F(TensorOpsTest, PadAxesInputAndOldOpsets) {
  const Tensor x = iota(DType::kFloat, {2, 3});
  const Tensor y = run_op("Pad", 18, {}, {x, ints({1, 2}), Tensor::scalar<float>(DType::kFloat, 9.0f), ints({-1})})[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(y.data<float>()[0], 9.0f);
  EXPECT_EQ(y.data<float>()[1], 0.0f);
  const Tensor old = run_op("Pad", 2, {ints_attr("pads", {0, 1, 0, 0}), string_attr("mode", "edge")}, {x})[0];
  EXPECT_EQ(old.shape(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(old.data<float>()[0], 0.0f);
  EXPECT_THROW(run_op("Pad", 18, {string_attr("mode", "wrap")}, {x, ints({1, 1, 1, 1})}), Error);  // wrap is opset 19
  EXPECT_THROW(run_op("Pad", 19, {}, {x, ints({1, 1})}), Error);
}

TEST_F(TensorOpsTest, DepthToSpaceAndSpaceToDepthAreInverse) {
  for (const std::string mode : {"DCR", "CRD"}) {
    const Tensor x = iota(DType::kFloat, {2, 12, 3, 5});
    const Tensor y = run_op("DepthToSpace", 13, {int_attr("blocksize", 2), string_attr("mode", mode)}, {x})[0];
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 3, 6, 10}));
    const Tensor back = run_op("SpaceToDepth", 28, {int_attr("blocksize", 2), string_attr("mode", mode)}, {y})[0];
    ASSERT_EQ(back.shape(), x.shape());
    expect_mapping(back, x, [&](const std::vector<int64_t>& o) { return flat_index(o, x.shape()); });
  }
  // DCR by the spec's reshape/transpose formulation.
  const Tensor x = iota(DType::kFloat, {1, 8, 2, 3});
  const Tensor y = run_op("DepthToSpace", 11, {int_attr("blocksize", 2)}, {x})[0];
  expect_mapping(y, x, [&](const std::vector<int64_t>& o) {
    const int64_t b1 = o[2] % 2, b2 = o[3] % 2;
    return flat_index({0, b1 * 4 + b2 * 2 + o[1], o[2] / 2, o[3] / 2}, x.shape());
  });
  EXPECT_THROW(run_op("DepthToSpace", 13, {int_attr("blocksize", 3)}, {x}), Error);
}

TEST_F(TensorOpsTest, ReshapeSemantics) {
  const Tensor x = iota(DType::kFloat, {2, 3, 4});
  EXPECT_EQ(run_op("Reshape", 13, {}, {x, ints({0, -1})})[0].shape(), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(run_op("Reshape", 5, {}, {x, ints({-1, 0, 2})})[0].shape(), (std::vector<int64_t>{4, 3, 2}));
  EXPECT_EQ(run_op("Reshape", 1, {ints_attr("shape", {24})}, {x})[0].shape(), (std::vector<int64_t>{24}));
  const Tensor empty = iota(DType::kFloat, {0, 3});
  EXPECT_EQ(run_op("Reshape", 14, {int_attr("allowzero", 1)}, {empty, ints({3, 0})})[0].shape(),
            (std::vector<int64_t>{3, 0}));
  EXPECT_THROW(run_op("Reshape", 14, {int_attr("allowzero", 1)}, {empty, ints({0, -1})}), Error);
  EXPECT_THROW(run_op("Reshape", 13, {}, {x, ints({5, -1})}), Error);
  EXPECT_THROW(run_op("Reshape", 13, {}, {x, ints({-1, -1})}), Error);
  EXPECT_THROW(run_op("Reshape", 13, {}, {x, ints({0, 0, 0, 0})}), Error);
  const Tensor y = run_op("Reshape", 13, {}, {x, ints({4, 6})})[0];
  EXPECT_EQ(y.raw_data(), x.raw_data());  // a view
}

TEST_F(TensorOpsTest, SqueezeUnsqueezeFlatten) {
  const Tensor x = iota(DType::kFloat, {1, 3, 1, 2});
  EXPECT_EQ(run_op("Squeeze", 13, {}, {x})[0].shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(run_op("Squeeze", 13, {}, {x, ints({-2})})[0].shape(), (std::vector<int64_t>{1, 3, 2}));
  EXPECT_EQ(run_op("Squeeze", 11, {ints_attr("axes", {0})}, {x})[0].shape(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_THROW(run_op("Squeeze", 13, {}, {x, ints({1})}), Error);
  EXPECT_EQ(run_op("Unsqueeze", 13, {}, {x, ints({-1, 0})})[0].shape(), (std::vector<int64_t>{1, 1, 3, 1, 2, 1}));
  EXPECT_EQ(run_op("Unsqueeze", 1, {ints_attr("axes", {1})}, {x})[0].shape(), (std::vector<int64_t>{1, 1, 3, 1, 2}));
  EXPECT_THROW(run_op("Unsqueeze", 13, {}, {x, ints({0, 0})}), Error);
  EXPECT_THROW(run_op("Unsqueeze", 13, {}, {x, ints({6})}), Error);
  EXPECT_EQ(run_op("Flatten", 13, {int_attr("axis", -1)}, {x})[0].shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(run_op("Flatten", 13, {int_attr("axis", 0)}, {x})[0].shape(), (std::vector<int64_t>{1, 6}));
  EXPECT_THROW(run_op("Flatten", 13, {int_attr("axis", 5)}, {x}), Error);
}

TEST_F(TensorOpsTest, ShapeSizeConstantOfShape) {
  const Tensor x = iota(DType::kFloat, {2, 3, 4});
  const Tensor s = run_op("Shape", 15, {int_attr("start", -2), int_attr("end", 100)}, {x})[0];
  EXPECT_EQ(std::vector<int64_t>(s.data<int64_t>(), s.data<int64_t>() + s.element_count()),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(run_op("Shape", 15, {int_attr("start", 2), int_attr("end", 1)}, {x})[0].element_count(), 0);
  EXPECT_EQ(run_op("Size", 13, {}, {x})[0].data<int64_t>()[0], 24);
  const Tensor c = run_op("ConstantOfShape", 20,
                          {tensor_attr("value", Tensor::from_vector<int32_t>(DType::kInt32, {7}))}, {ints({2, 2})})[0];
  EXPECT_EQ(c.dtype(), DType::kInt32);
  EXPECT_EQ(c.data<int32_t>()[3], 7);
  EXPECT_EQ(run_op("ConstantOfShape", 9, {}, {ints({})})[0].rank(), 0u);
  EXPECT_THROW(run_op("ConstantOfShape", 9, {}, {ints({-1})}), Error);
}

TEST_F(TensorOpsTest, ConstantAttributes) {
  Attribute floats;
  floats.name = "value_floats";
  floats.type = Attribute::Type::kFloats;
  floats.floats = {1.5f, 2.5f};
  const Tensor f = run_op("Constant", 13, {floats}, {})[0];
  EXPECT_EQ(f.shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(f.data<float>()[1], 2.5f);
  Attribute str;
  str.name = "value_string";
  str.type = Attribute::Type::kString;
  str.s = "hello";
  EXPECT_EQ(run_op("Constant", 13, {str}, {})[0].data<std::string>()[0], "hello");
  EXPECT_EQ(run_op("Constant", 13, {int_attr("value_int", 5)}, {})[0].data<int64_t>()[0], 5);
  EXPECT_THROW(run_op("Constant", 13, {}, {}), Error);
  EXPECT_THROW(run_op("Constant", 13, {str, int_attr("value_int", 5)}, {}), Error);
}

TEST_F(TensorOpsTest, IdentityPassesSequencesAndOptionals) {
  const RuntimeValue seq = RuntimeValue::sequence(DType::kFloat, {iota(DType::kFloat, {2})});
  EXPECT_TRUE(run_values("Identity", 14, {}, {seq})[0].is_sequence());
  const RuntimeValue none = RuntimeValue::empty_optional(RuntimeValue::Kind::kTensor, DType::kFloat);
  const RuntimeValue out = run_values("Identity", 16, {}, {none})[0];
  EXPECT_TRUE(out.is_optional());
  EXPECT_TRUE(out.is_none());
}

TEST_F(TensorOpsTest, RangeCounts) {
  const Tensor r = run_op("Range", 11, {}, {int_scalar(10), int_scalar(4), int_scalar(-3)})[0];
  EXPECT_EQ(std::vector<int64_t>(r.data<int64_t>(), r.data<int64_t>() + 2), (std::vector<int64_t>{10, 7}));
  EXPECT_EQ(run_op("Range", 11, {}, {int_scalar(0), int_scalar(5), int_scalar(-1)})[0].element_count(), 0);
  const Tensor f = run_op("Range", 11, {},
                          {Tensor::scalar<float>(DType::kFloat, 1), Tensor::scalar<float>(DType::kFloat, 2),
                           Tensor::scalar<float>(DType::kFloat, 0.3f)})[0];
  EXPECT_EQ(f.element_count(), 4);
  EXPECT_THROW(run_op("Range", 11, {}, {int_scalar(0), int_scalar(5), int_scalar(0)}), Error);
  const Tensor big =
      run_op("Range", 11, {}, {int_scalar(INT64_MIN), int_scalar(INT64_MIN + 3), int_scalar(INT64_MAX)})[0];
  EXPECT_EQ(big.element_count(), 1);
}

TEST_F(TensorOpsTest, OneHotTriluCompressNonZeroEyeLike) {
  const Tensor oh = run_op("OneHot", 11, {int_attr("axis", 0)},
                           {ints({1, -1, 5}), Tensor::scalar<float>(DType::kFloat, 3.0f),
                            Tensor::from_vector<float>(DType::kFloat, {0, 1})})[0];
  EXPECT_EQ(oh.shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(std::vector<float>(oh.data<float>(), oh.data<float>() + 9),
            (std::vector<float>{0, 0, 0, 1, 0, 0, 0, 1, 0}));
  const Tensor x = iota(DType::kFloat, {2, 3, 4});
  for (int64_t k = -4; k <= 4; ++k) {
    for (int64_t upper = 0; upper <= 1; ++upper) {
      const Tensor t = run_op("Trilu", 14, {int_attr("upper", upper)}, {x, int_scalar(k)})[0];
      const Tensor zero(DType::kFloat, {1});
      expect_mapping(
          t, x,
          [&](const std::vector<int64_t>& o) -> int64_t {
            const bool keep = upper ? o[2] - o[1] >= k : o[2] - o[1] <= k;
            return keep ? flat_index(o, x.shape()) : -1;
          },
          &zero);
    }
  }
  const Tensor cond = Tensor::from_vector<bool>(DType::kBool, {false, true, true});
  const Tensor c = run_op("Compress", 11, {int_attr("axis", -1)}, {x, cond})[0];
  EXPECT_EQ(c.shape(), (std::vector<int64_t>{2, 3, 2}));
  EXPECT_EQ(c.data<float>()[2], 5.0f);
  EXPECT_EQ(run_op("Compress", 11, {}, {x, cond})[0].shape(), (std::vector<int64_t>{2}));
  const Tensor nz =
      run_op("NonZero", 13, {}, {Tensor::from_vector<float>(DType::kFloat, {0, 3, 0, 4}).reshaped({2, 2})})[0];
  EXPECT_EQ(nz.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(std::vector<int64_t>(nz.data<int64_t>(), nz.data<int64_t>() + 4), (std::vector<int64_t>{0, 1, 1, 1}));
  const Tensor eye = run_op("EyeLike", 9, {int_attr("k", 1), int_attr("dtype", 7)}, {iota(DType::kFloat, {3, 3})})[0];
  EXPECT_EQ(eye.dtype(), DType::kInt64);
  EXPECT_EQ(std::vector<int64_t>(eye.data<int64_t>(), eye.data<int64_t>() + 9),
            (std::vector<int64_t>{0, 1, 0, 0, 0, 1, 0, 0, 0}));
}

TEST_F(TensorOpsTest, ReverseSequenceValidatesLengths) {
  const Tensor x = iota(DType::kString, {3, 2});
  const Tensor y =
      run_op("ReverseSequence", 10, {int_attr("batch_axis", 1), int_attr("time_axis", 0)}, {x, ints({3, 1})})[0];
  EXPECT_EQ(y.data<std::string>()[0], "s4");
  EXPECT_EQ(y.data<std::string>()[1], "s1");
  EXPECT_THROW(run_op("ReverseSequence", 10, {}, {x, ints({4, 1})}), Error);
  EXPECT_THROW(run_op("ReverseSequence", 10, {}, {x, ints({1})}), Error);
}

// Shape inference of a node whose inputs have the given types and constants.
std::vector<TypeInfo> infer(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                            const std::vector<TypeInfo>& types, const std::vector<const Tensor*>& constants,
                            size_t output_count = 1) {
  const Node node = make_node(op_type, opset, attrs, types.size(), std::vector<bool>(types.size(), true), output_count);
  const OpRegistration* reg = OpRegistry::instance().find("", op_type, opset);
  if (reg == nullptr || !reg->infer) throw Error(ErrorCode::kUnsupported, "no inference for " + op_type);
  std::vector<const TypeInfo*> type_ptrs;
  for (const TypeInfo& t : types) type_ptrs.push_back(&t);
  InferenceContext ctx(node, type_ptrs, constants);
  reg->infer(ctx);
  return ctx.output_types();
}

TEST_F(TensorOpsTest, ShapeInference) {
  const TypeInfo x =
      TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::named("batch"), Dim::known(3), Dim::known(4)});
  const Tensor shape = ints({0, -1});
  EXPECT_EQ(
      infer("Reshape", 13, {}, {x, TypeInfo::tensor_of_shape(DType::kInt64, {2})}, {nullptr, &shape})[0].to_string(),
      "float[batch,12]");
  const Tensor shape2 = ints({-1, 4});
  EXPECT_EQ(
      infer("Reshape", 13, {}, {x, TypeInfo::tensor_of_shape(DType::kInt64, {2})}, {nullptr, &shape2})[0].to_string(),
      "float[?,4]");
  EXPECT_EQ(infer("Transpose", 13, {ints_attr("perm", {2, 0, 1})}, {x}, {nullptr})[0].to_string(), "float[4,batch,3]");
  const Tensor axes = ints({0, -1});
  EXPECT_EQ(
      infer("Unsqueeze", 13, {}, {x, TypeInfo::tensor_of_shape(DType::kInt64, {2})}, {nullptr, &axes})[0].to_string(),
      "float[1,batch,3,4,1]");
  const TypeInfo y =
      TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::named("batch"), Dim::known(5), Dim::known(4)});
  EXPECT_EQ(infer("Concat", 13, {int_attr("axis", 1)}, {x, y}, {nullptr, nullptr})[0].to_string(), "float[batch,8,4]");
  EXPECT_EQ(infer("Shape", 15, {int_attr("start", 1)}, {x}, {nullptr})[0].to_string(), "int64[2]");
  const Tensor starts = ints({1}), ends = ints({-1}), slice_axes = ints({2});
  EXPECT_EQ(infer("Slice", 13, {}, {x, x, x, x}, {nullptr, &starts, &ends, &slice_axes})[0].to_string(),
            "float[batch,3,2]");
  EXPECT_EQ(infer("Gather", 13, {int_attr("axis", 1)}, {x, TypeInfo::tensor_of_shape(DType::kInt64, {2, 5})},
                  {nullptr, nullptr})[0]
                .to_string(),
            "float[batch,2,5,4]");
  const std::vector<TypeInfo> parts =
      infer("Split", 18, {int_attr("axis", 2), int_attr("num_outputs", 3)}, {x}, {nullptr}, 3);
  EXPECT_EQ(parts[0].to_string(), "float[batch,3,2]");
  EXPECT_EQ(parts[2].to_string(), "float[batch,3,0]");
}

}  // namespace
}  // namespace tessera

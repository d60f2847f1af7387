// Tests of the f32 GEMM kernels and the linear-algebra and convolution operators (MatMul, Gemm, MatMulInteger,
// QLinearMatMul, Conv, ConvTranspose, ConvInteger, QLinearConv): the optimized paths (packed panels, every
// micro-kernel this CPU runs, implicit im2col, the depthwise loop, a two-thread pool) against naive references on
// random odd-sized inputs, and the error cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/conv_kernels.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

// ---- helpers -------------------------------------------------------------------------------------------------

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

// Runs one node; inputs flagged in `constant` are also given to the factory as constants (so weights get packed).
std::vector<Tensor> run_op(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                           const std::vector<Tensor>& inputs, const std::vector<bool>& constant = {},
                           Parallelism* parallelism = nullptr, size_t output_count = 1) {
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
  std::vector<const Tensor*> constants;
  for (size_t i = 0; i < inputs.size(); ++i) {
    input_types.push_back(inputs[i].defined() ? TypeInfo::tensor_of_shape(inputs[i].dtype(), inputs[i].shape())
                                              : TypeInfo{});
    constants.push_back(i < constant.size() && constant[i] ? &inputs[i] : nullptr);
  }
  KernelInfo info{node, opset, input_types, {}, constants, {}};
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

std::vector<float> random_floats(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

Tensor random_tensor(DType dtype, const std::vector<int64_t>& shape, uint32_t seed, int lo = -4, int hi = 4) {
  Tensor t(dtype, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<int> integer(lo, hi);
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      for (int64_t i = 0; i < t.element_count(); ++i) t.data<T>()[i] = element_from_double<T>(real(rng));
    } else if constexpr (kIsPlainNumber<T>) {
      for (int64_t i = 0; i < t.element_count(); ++i) t.data<T>()[i] = static_cast<T>(integer(rng));
    }
  });
  return t;
}

double at(const Tensor& t, int64_t i) {
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

void expect_near_all(const std::vector<float>& actual, const std::vector<double>& expected, double tolerance,
                     const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    // Negated so that a NaN (the outputs start as NaN: an element never written) fails.
    if (!(std::abs(actual[i] - expected[i]) <= tolerance * (1.0 + std::abs(expected[i])))) {
      ADD_FAILURE() << what << ": element " << i << " is " << actual[i] << ", expected " << expected[i];
      if (++reported == 5) return;
    }
  }
}

// ---- f32 GEMM --------------------------------------------------------------------------------------------------

struct GemmCase {
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
};

std::vector<double> gemm_reference(const GemmCase& g, const std::vector<float>& a, const std::vector<float>& b,
                                   const std::vector<float>& c) {
  std::vector<double> out(c.begin(), c.end());
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < g.k; ++p) {
        const double av = g.trans_a ? a[static_cast<size_t>(p * g.lda + i)] : a[static_cast<size_t>(i * g.lda + p)];
        const double bv = g.trans_b ? b[static_cast<size_t>(j * g.ldb + p)] : b[static_cast<size_t>(p * g.ldb + j)];
        sum += av * bv;
      }
      double& o = out[static_cast<size_t>(i * g.ldc + j)];
      o = g.alpha * sum + (g.beta == 0.0f ? 0.0 : g.beta * o);
    }
  }
  return out;
}

// Columns of a stored row-major k x n matrix, delivered through the panel-source interface.
class MatrixPanels final : public GemmPanelSourceF32 {
 public:
  MatrixPanels(const float* b, int64_t ldb) : b_(b), ldb_(ldb) {}
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t strip, float* dst) const override {
    for (int64_t j = 0; j < (nc + strip - 1) / strip * strip; ++j) {
      for (int64_t p = 0; p < kc; ++p) {
        dst[(j / strip) * kc * strip + p * strip + j % strip] = j < nc ? b_[(k0 + p) * ldb_ + n0 + j] : 0.0f;
      }
    }
  }

 private:
  const float* b_;
  int64_t ldb_;
};

enum class GemmMode { kPlain, kPackedA, kPackedB, kPackedBoth, kPanelSource };

void check_gemm(const GemmCase& g, GemmMode mode, Parallelism* parallelism, uint32_t seed) {
  const int64_t a_rows = g.trans_a ? g.k : g.m;
  const int64_t b_rows = g.trans_b ? g.n : g.k;
  const std::vector<float> a = random_floats(a_rows * g.lda + 1, seed);
  const std::vector<float> b = random_floats(b_rows * g.ldb + 1, seed + 1);
  std::vector<float> c = random_floats(g.m * g.ldc, seed + 2);
  const std::vector<double> expected = gemm_reference(g, a, b, c);
  PackedGemmF32 packed_a, packed_b;
  GemmOperandF32 a_op{nullptr, a.data(), g.lda, g.trans_a};
  GemmOperandF32 b_op{nullptr, b.data(), g.ldb, g.trans_b};
  const MatrixPanels panels(b.data(), g.ldb);
  if (mode == GemmMode::kPackedA || mode == GemmMode::kPackedBoth) {
    packed_a = pack_gemm_a_f32(g.trans_a, g.m, g.k, a.data(), g.lda);
    a_op = GemmOperandF32{&packed_a};
  }
  if (mode == GemmMode::kPackedB || mode == GemmMode::kPackedBoth) {
    packed_b = pack_gemm_b_f32(g.trans_b, g.k, g.n, b.data(), g.ldb);
    b_op = GemmOperandF32{&packed_b};
  }
  if (mode == GemmMode::kPanelSource) b_op = GemmOperandF32{nullptr, nullptr, 0, false, &panels};
  if (mode == GemmMode::kPlain) {
    gemm_f32(g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, a.data(), g.lda, b.data(), g.ldb, g.beta, c.data(), g.ldc,
             parallelism);
  } else {
    gemm_f32_packed(g.m, g.n, g.k, g.alpha, a_op, b_op, g.beta, c.data(), g.ldc, parallelism);
  }
  expect_near_all(c, expected, 1e-4,
                  "gemm " + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k) + " ta" +
                      std::to_string(g.trans_a) + " tb" + std::to_string(g.trans_b) + " mode " +
                      std::to_string(static_cast<int>(mode)) + " kernel " + gemm_f32_kernel_name());
}

void check_gemm_random_cases(Parallelism* parallelism, uint32_t seed) {
  std::mt19937 rng(seed);
  // Sizes around the register tiles (6/14 rows, 8/16/32 columns), the depth block (256) and the GEMV shapes.
  const std::vector<int64_t> dims = {1, 2, 5, 7, 13, 15, 17, 31, 33, 47, 70, 129};
  const std::vector<int64_t> depths = {0, 1, 3, 16, 37, 255, 257, 600};
  for (int iteration = 0; iteration < 60; ++iteration) {
    GemmCase g;
    g.trans_a = rng() % 2;
    g.trans_b = rng() % 2;
    g.m = dims[rng() % dims.size()];
    g.n = dims[rng() % dims.size()];
    g.k = depths[rng() % depths.size()];
    g.lda = (g.trans_a ? g.m : g.k) + static_cast<int64_t>(rng() % 3);
    g.ldb = (g.trans_b ? g.k : g.n) + static_cast<int64_t>(rng() % 3);
    g.ldc = g.n + static_cast<int64_t>(rng() % 3);
    const float alphas[] = {1.0f, 0.5f, -2.0f};
    const float betas[] = {0.0f, 1.0f, -0.75f};
    g.alpha = alphas[rng() % 3];
    g.beta = betas[rng() % 3];
    GemmMode mode = static_cast<GemmMode>(rng() % 5);
    if (mode == GemmMode::kPanelSource && g.trans_b) mode = GemmMode::kPlain;
    check_gemm(g, mode, parallelism, seed + static_cast<uint32_t>(iteration) * 7);
  }
}

// Selects each micro-kernel this CPU runs in turn (the AVX-512 tile shape is also run on AVX2 registers).
class EveryKernel {
 public:
  ~EveryKernel() { gemm_f32_select_kernel(""); }
  template <typename F>
  void run(F&& body) {
    for (const std::string& name : gemm_f32_kernel_names()) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(gemm_f32_select_kernel(name));
      body();
    }
  }
};

TEST(F32GemmTest, MatchesReferenceOnOddShapes) {
  EveryKernel().run([] { check_gemm_random_cases(nullptr, 1); });
}

TEST(F32GemmTest, MatchesReferenceOnTwoThreads) {
  ThreadPool pool(2);
  EveryKernel().run([&] { check_gemm_random_cases(&pool, 2); });
}

TEST(F32GemmTest, KernelSelection) {
  const std::vector<std::string> names = gemm_f32_kernel_names();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names[0], gemm_f32_kernel_name());
  EXPECT_FALSE(gemm_f32_select_kernel("no_such_kernel"));
  EXPECT_EQ(names[0], gemm_f32_kernel_name());
}

TEST(F32GemmTest, LargeBlockedShapes) {
  ThreadPool pool(2);
  // Larger than one depth, row and column block of every kernel, so every blocking loop runs more than once.
  EveryKernel().run([&] {
    check_gemm(GemmCase{false, false, 150, 1100, 530, 530, 1100, 1100, 1.0f, 0.0f}, GemmMode::kPlain, &pool, 4);
    check_gemm(GemmCase{true, true, 131, 77, 300, 131, 300, 77, 1.0f, 1.0f}, GemmMode::kPackedBoth, &pool, 5);
    // A row-major A one page per row (lda * 4 = 4096) is packed rather than read in place (L1 set conflicts);
    // lda = 1000 is read in place. Both paths, with a pre-packed B as the models run them.
    check_gemm(GemmCase{false, false, 45, 70, 600, 1024, 70, 70, 1.0f, 0.0f}, GemmMode::kPackedB, &pool, 6);
    check_gemm(GemmCase{false, false, 45, 70, 600, 1000, 70, 70, 1.0f, 0.0f}, GemmMode::kPackedB, nullptr, 7);
    // A plain B of up to 512 depth steps under a few rows is read in place, across depth blocks (450 > 384).
    check_gemm(GemmCase{false, false, 33, 70, 450, 450, 73, 70, 1.0f, 1.0f}, GemmMode::kPlain, &pool, 8);
    check_gemm(GemmCase{false, false, 64, 100, 512, 512, 100, 100, 0.5f, 0.0f}, GemmMode::kPlain, nullptr, 9);
  });
}

// A transposed plain A of at least 64 floats per depth step is read in place (the direct-AT micro-kernels, as the
// transposed pointwise convolutions run it); fewer are packed. In place gives the bits of a pre-packed A: the same
// strips, depth blocks and FMA order. Several depth and row blocks, a partial last strip, one and two threads.
TEST(F32GemmTest, TransposedAInPlaceMatchesPackedBitwise) {
  ThreadPool pool(2);
  EveryKernel().run([&] {
    uint32_t seed = 60;
    for (const GemmCase& g : {GemmCase{true, false, 200, 70, 600, 203, 70, 70, 1.0f, 0.0f},
                              GemmCase{true, false, 196, 64, 384, 196, 64, 64, 1.0f, 1.0f},
                              GemmCase{true, false, 49, 40, 50, 49, 40, 40, 1.0f, 0.0f}}) {
      check_gemm(g, GemmMode::kPackedB, &pool, seed);
      check_gemm(g, GemmMode::kPackedB, nullptr, seed + 1);
      const std::vector<float> a = random_floats(g.k * g.lda, seed + 2), b = random_floats(g.k * g.ldb, seed + 3);
      const PackedGemmF32 packed_a = pack_gemm_a_f32(true, g.m, g.k, a.data(), g.lda);
      const PackedGemmF32 packed_b = pack_gemm_b_f32(false, g.k, g.n, b.data(), g.ldb);
      for (Parallelism* parallelism : {static_cast<Parallelism*>(&pool), static_cast<Parallelism*>(nullptr)}) {
        std::vector<float> in_place(static_cast<size_t>(g.m * g.ldc)), packed(in_place.size());
        gemm_f32_packed(g.m, g.n, g.k, 1.0f, GemmOperandF32{nullptr, a.data(), g.lda, true}, GemmOperandF32{&packed_b},
                        0.0f, in_place.data(), g.ldc, parallelism);
        gemm_f32_packed(g.m, g.n, g.k, 1.0f, GemmOperandF32{&packed_a}, GemmOperandF32{&packed_b}, 0.0f, packed.data(),
                        g.ldc, parallelism);
        ASSERT_EQ(in_place, packed) << g.m << "x" << g.n << "x" << g.k << " lda " << g.lda;
      }
      seed += 4;
    }
  });
}

// Too few column strips to share evenly over two threads, with an A read in place (a channels-last pointwise
// convolution: 49 positions x 160 channels): the GEMM splits into row blocks x column strips; or many more row
// strips than column strips: row pieces. Either way the bits of one thread and the reference's values.
TEST(F32GemmTest, RowAndColumnPiecesMatchOneThreadBitwise) {
  ThreadPool pool(2);
  EveryKernel().run([&] {
    uint32_t seed = 80;
    for (const GemmCase& g : {GemmCase{false, false, 49, 160, 300, 300, 160, 160, 1.0f, 0.0f},
                              GemmCase{false, false, 20, 83, 40, 40, 83, 83, 1.0f, 0.0f},
                              GemmCase{false, false, 300, 64, 100, 100, 64, 64, 1.0f, 0.0f}}) {  // row pieces
      check_gemm(g, GemmMode::kPackedB, &pool, seed);
      const std::vector<float> a = random_floats(g.m * g.lda, seed + 2), b = random_floats(g.k * g.ldb, seed + 3);
      const PackedGemmF32 packed_b = pack_gemm_b_f32(false, g.k, g.n, b.data(), g.ldb);
      std::vector<float> two(static_cast<size_t>(g.m * g.ldc)), one(two.size());
      gemm_f32_packed(g.m, g.n, g.k, 1.0f, GemmOperandF32{nullptr, a.data(), g.lda}, GemmOperandF32{&packed_b}, 0.0f,
                      two.data(), g.ldc, &pool);
      gemm_f32_packed(g.m, g.n, g.k, 1.0f, GemmOperandF32{nullptr, a.data(), g.lda}, GemmOperandF32{&packed_b}, 0.0f,
                      one.data(), g.ldc, nullptr);
      ASSERT_EQ(two, one) << g.m << "x" << g.n << "x" << g.k;
      seed += 4;
    }
  });
}

// The epilogue (row bias, column bias, clamp) on the micro-kernel path (several depth blocks, partial tiles, both
// A forms) and on the GEMV and empty-depth paths, for every kernel this CPU runs.
TEST(F32GemmTest, EpilogueAddsBiasesAndClamps) {
  ThreadPool pool(2);
  EveryKernel().run([&] {
    uint32_t seed = 40;
    for (const GemmCase& g : {GemmCase{false, false, 37, 70, 600, 600, 70, 70, 1.0f, 0.0f},
                              GemmCase{false, false, 45, 33, 300, 1024, 33, 33, 0.5f, 1.0f},
                              GemmCase{true, false, 20, 50, 40, 20, 50, 50, 1.0f, 0.0f},
                              GemmCase{false, false, 1, 40, 30, 30, 40, 40, 1.0f, 0.0f},
                              GemmCase{false, false, 40, 1, 30, 30, 1, 1, 1.0f, 0.0f},
                              GemmCase{false, false, 9, 17, 0, 1, 17, 17, 1.0f, 0.0f}}) {
      const auto a = random_floats(std::max<int64_t>(g.trans_a ? g.k * g.lda : g.m * g.lda, 1), seed++);
      const auto b = random_floats(std::max<int64_t>(g.k * g.ldb, 1), seed++);
      auto c = random_floats(g.m * g.ldc, seed++);
      const auto row_bias = random_floats(g.m, seed++);
      const auto column_bias = random_floats(g.n, seed++);
      std::vector<double> expected = gemm_reference(g, a, b, c);
      GemmEpilogueF32 epilogue;
      epilogue.row_bias = row_bias.data();
      epilogue.column_bias = column_bias.data();
      epilogue.min = -0.5f;
      epilogue.max = 2.0f;
      for (int64_t i = 0; i < g.m; ++i) {
        for (int64_t j = 0; j < g.n; ++j) {
          double& e = expected[static_cast<size_t>(i * g.ldc + j)];
          e = std::min(std::max(e + row_bias[static_cast<size_t>(i)] + column_bias[static_cast<size_t>(j)], -0.5), 2.0);
        }
      }
      const PackedGemmF32 packed_b = pack_gemm_b_f32(g.trans_b, g.k, g.n, b.data(), g.ldb);
      const bool use_packed = g.m > 1 && g.n > 1;
      gemm_f32_packed(g.m, g.n, g.k, g.alpha, GemmOperandF32{nullptr, a.data(), g.lda, g.trans_a},
                      use_packed ? GemmOperandF32{&packed_b} : GemmOperandF32{nullptr, b.data(), g.ldb, g.trans_b},
                      g.beta, c.data(), g.ldc, &pool, &epilogue);
      std::vector<float> got, want_f;
      std::vector<double> want;
      for (int64_t i = 0; i < g.m; ++i) {
        for (int64_t j = 0; j < g.n; ++j) {
          got.push_back(c[static_cast<size_t>(i * g.ldc + j)]);
          want.push_back(expected[static_cast<size_t>(i * g.ldc + j)]);
        }
      }
      expect_near_all(got, want, 1e-4,
                      "epilogue " + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k) +
                          " kernel " + gemm_f32_kernel_name());
    }
  });
}

TEST(F32GemmTest, BetaZeroIgnoresNaNInC) {
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 0, 0, 1};
  std::vector<float> c(4, std::nanf(""));
  gemm_f32(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2, nullptr);
  EXPECT_EQ(c, (std::vector<float>{1, 2, 3, 4}));
}

TEST(F32GemmTest, PackedShapeMismatchIsAnError) {
  std::vector<float> a(12, 1.0f);
  const PackedGemmF32 packed = pack_gemm_a_f32(false, 3, 4, a.data(), 4);
  std::vector<float> b(8, 1.0f), c(6);
  EXPECT_THROW(gemm_f32_packed(3, 2, 5, 1.0f, GemmOperandF32{&packed}, GemmOperandF32{nullptr, b.data(), 2}, 0.0f,
                               c.data(), 2, nullptr),
               Error);
}

// ---- MatMul and Gemm ---------------------------------------------------------------------------------------------

// NumPy matmul reference in double over any numeric dtype.
std::vector<double> matmul_reference(const Tensor& a, const Tensor& b, std::vector<int64_t>* out_shape) {
  std::vector<int64_t> as = a.shape(), bs = b.shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t rank = std::max(as.size(), bs.size());
  while (as.size() < rank) as.insert(as.begin(), 1);
  while (bs.size() < rank) bs.insert(bs.begin(), 1);
  std::vector<int64_t> batch(rank - 2);
  for (size_t i = 0; i + 2 < rank; ++i) batch[i] = std::max(as[i], bs[i]);
  *out_shape = batch;
  if (!a_vec) out_shape->push_back(m);
  if (!b_vec) out_shape->push_back(n);
  const int64_t batches = shape_element_count(batch);
  std::vector<double> out;
  std::vector<int64_t> index(batch.size(), 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t a_off = 0, b_off = 0;
    for (size_t d = 0; d < batch.size(); ++d) {
      a_off = a_off * as[d] + (as[d] == 1 ? 0 : index[d]);
      b_off = b_off * bs[d] + (bs[d] == 1 ? 0 : index[d]);
    }
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) sum += at(a, a_off * m * k + i * k + p) * at(b, b_off * k * n + p * n + j);
        out.push_back(sum);
      }
    }
    for (size_t d = batch.size(); d-- > 0;) {
      if (++index[d] < batch[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

void expect_tensor_near(const Tensor& actual, const std::vector<double>& expected, const std::vector<int64_t>& shape,
                        double tolerance) {
  ASSERT_EQ(actual.shape(), shape);
  ASSERT_EQ(actual.element_count(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(at(actual, static_cast<int64_t>(i)), expected[i], tolerance * (1.0 + std::abs(expected[i])))
        << "element " << i;
  }
}

TEST(MatMulTest, BroadcastsBatchesAndVectors) {
  ThreadPool pool(2);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{7, 5}, {5, 9}},     {{3, 7, 5}, {5, 9}},  {{2, 1, 7, 5}, {3, 5, 9}}, {{5}, {5, 9}},
      {{7, 5}, {5}},        {{5}, {5}},           {{4, 5}, {2, 3, 5, 6}},    {{2, 3, 33, 70}, {1, 3, 70, 17}},
      {{1, 70}, {70, 300}}, {{40, 3}, {1, 3, 1}}, {{0, 5}, {5, 4}},          {{6, 0}, {0, 4}}};
  uint32_t seed = 10;
  for (const auto& [a_shape, b_shape] : shapes) {
    for (bool constant_b : {false, true}) {
      const Tensor a = random_tensor(DType::kFloat, a_shape, seed++);
      const Tensor b = random_tensor(DType::kFloat, b_shape, seed++);
      std::vector<int64_t> shape;
      const std::vector<double> expected = matmul_reference(a, b, &shape);
      const Tensor y = run_op("MatMul", 13, {}, {a, b}, {false, constant_b}, &pool)[0];
      expect_tensor_near(y, expected, shape, 1e-4);
    }
  }
}

TEST(MatMulTest, OtherDtypes) {
  for (DType dtype : {DType::kDouble, DType::kInt32, DType::kInt64, DType::kUint32, DType::kUint64, DType::kFloat16,
                      DType::kBFloat16}) {
    const Tensor a = random_tensor(dtype, {2, 3, 4}, 1, 0, 5);
    const Tensor b = random_tensor(dtype, {4, 5}, 2, 0, 5);
    std::vector<int64_t> shape;
    const std::vector<double> expected = matmul_reference(a, b, &shape);
    const Tensor y = run_op("MatMul", 13, {}, {a, b}, {false, true})[0];
    EXPECT_EQ(y.dtype(), dtype);
    expect_tensor_near(y, expected, shape, dtype == DType::kBFloat16 ? 2e-2 : 2e-3);
  }
}

TEST(MatMulTest, IntegerOverflowWraps) {
  const Tensor a = Tensor::from_vector<int32_t>(DType::kInt32, {INT32_MAX, 2});
  const Tensor b = Tensor::from_vector<int32_t>(DType::kInt32, {2, 1});
  const Tensor y = run_op("MatMul", 13, {}, {a, b})[0];
  EXPECT_EQ(y.data<int32_t>()[0], static_cast<int32_t>(static_cast<uint32_t>(INT32_MAX) * 2u + 2u));
}

TEST(MatMulTest, RejectsBadShapes) {
  EXPECT_THROW(run_op("MatMul", 13, {}, {Tensor(DType::kFloat, {2, 3}), Tensor(DType::kFloat, {4, 2})}), Error);
  EXPECT_THROW(run_op("MatMul", 13, {}, {Tensor(DType::kFloat, {2, 2, 3}), Tensor(DType::kFloat, {3, 3, 2})}), Error);
  EXPECT_THROW(run_op("MatMul", 13, {}, {Tensor(DType::kFloat, {}), Tensor(DType::kFloat, {3})}), Error);
  EXPECT_THROW(run_op("MatMul", 13, {}, {Tensor(DType::kFloat, {3}), Tensor(DType::kDouble, {3})}), Error);
}

TEST(GemmTest, AttributesAndBiasBroadcast) {
  ThreadPool pool(2);
  const int64_t m = 7, n = 19, k = 13;
  uint32_t seed = 40;
  for (int trans_a = 0; trans_a < 2; ++trans_a) {
    for (int trans_b = 0; trans_b < 2; ++trans_b) {
      for (const std::vector<int64_t>& c_shape :
           std::vector<std::vector<int64_t>>{{}, {1}, {n}, {m, 1}, {1, n}, {m, n}}) {
        const Tensor a =
            random_tensor(DType::kFloat, trans_a ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k}, seed++);
        const Tensor b =
            random_tensor(DType::kFloat, trans_b ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n}, seed++);
        const Tensor c = random_tensor(DType::kFloat, c_shape, seed++);
        const float alpha = 0.5f, beta = -1.5f;
        std::vector<double> expected;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < k; ++p) {
              sum += at(a, trans_a ? p * m + i : i * k + p) * at(b, trans_b ? j * k + p : p * n + j);
            }
            const int64_t ci = c_shape.size() == 2 ? (c_shape[0] == 1 ? 0 : i) * c_shape[1] + (c_shape[1] == 1 ? 0 : j)
                                                   : (c_shape.empty() || c_shape[0] == 1 ? 0 : j);
            expected.push_back(alpha * sum + beta * at(c, ci));
          }
        }
        const std::vector<Attribute> attrs = {float_attr("alpha", alpha), float_attr("beta", beta),
                                              int_attr("transA", trans_a), int_attr("transB", trans_b)};
        for (bool constant_b : {false, true}) {
          const Tensor y = run_op("Gemm", 13, attrs, {a, b, c}, {false, constant_b}, &pool)[0];
          expect_tensor_near(y, expected, {m, n}, 1e-4);
        }
      }
    }
  }
}

TEST(GemmTest, OptionalCAndIntegerTypes) {
  const Tensor a = Tensor::from_vector<int64_t>(DType::kInt64, {1, 2, 3, 4});
  const Tensor b = Tensor::from_vector<int64_t>(DType::kInt64, {5, 6, 7, 8});
  const Tensor y = run_op("Gemm", 13, {}, {a.reshaped({2, 2}), b.reshaped({2, 2})})[0];
  EXPECT_EQ(std::vector<int64_t>(y.data<int64_t>(), y.data<int64_t>() + 4), (std::vector<int64_t>{19, 22, 43, 50}));
  const Tensor c = Tensor::from_vector<int64_t>(DType::kInt64, {100, 200});
  const Tensor y2 = run_op("Gemm", 11, {int_attr("transA", 1)}, {a.reshaped({2, 2}), b.reshaped({2, 2}), c})[0];
  EXPECT_EQ(std::vector<int64_t>(y2.data<int64_t>(), y2.data<int64_t>() + 4),
            (std::vector<int64_t>{126, 230, 138, 244}));
}

TEST(GemmTest, RejectsBadShapes) {
  const Tensor a(DType::kFloat, {2, 3});
  EXPECT_THROW(run_op("Gemm", 13, {}, {a, Tensor(DType::kFloat, {4, 2})}), Error);
  EXPECT_THROW(run_op("Gemm", 13, {}, {Tensor(DType::kFloat, {2, 3, 1}), Tensor(DType::kFloat, {3, 2})}), Error);
  EXPECT_THROW(run_op("Gemm", 13, {}, {a, Tensor(DType::kFloat, {3, 2}), Tensor(DType::kFloat, {3, 2})}), Error);
}

// ---- quantized matmul ------------------------------------------------------------------------------------------

TEST(MatMulIntegerTest, ZeroPointsPerTensorRowAndColumn) {
  const Tensor a = random_tensor(DType::kUint8, {2, 3, 4}, 1, 0, 255);
  const Tensor b = random_tensor(DType::kInt8, {4, 5}, 2, -128, 127);
  const Tensor a_zp = Tensor::from_vector<uint8_t>(DType::kUint8, {3, 100, 250});      // per row
  const Tensor b_zp = Tensor::from_vector<int8_t>(DType::kInt8, {-1, 0, 1, 2, -128});  // per column
  const Tensor y = run_op("MatMulInteger", 10, {}, {a, b, a_zp, b_zp})[0];
  ASSERT_EQ(y.shape(), (std::vector<int64_t>{2, 3, 5}));
  for (int64_t batch = 0; batch < 2; ++batch) {
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 5; ++j) {
        int64_t sum = 0;
        for (int64_t p = 0; p < 4; ++p) {
          sum += (static_cast<int64_t>(at(a, (batch * 3 + i) * 4 + p)) - static_cast<int64_t>(at(a_zp, i))) *
                 (static_cast<int64_t>(at(b, p * 5 + j)) - static_cast<int64_t>(at(b_zp, j)));
        }
        EXPECT_EQ(y.data<int32_t>()[(batch * 3 + i) * 5 + j], sum);
      }
    }
  }
  EXPECT_THROW(run_op("MatMulInteger", 10, {}, {a, b, Tensor::from_vector<uint8_t>(DType::kUint8, {1, 2})}), Error);
}

TEST(QLinearMatMulTest, RequantizesWithRoundingAndSaturation) {
  const Tensor a = Tensor::from_vector<uint8_t>(DType::kUint8, {200, 10, 0, 255}).reshaped({2, 2});
  const Tensor b = Tensor::from_vector<uint8_t>(DType::kUint8, {1, 2, 3, 4}).reshaped({2, 2});
  const Tensor scale = Tensor::scalar<float>(DType::kFloat, 0.5f);
  const Tensor zp = Tensor::scalar<uint8_t>(DType::kUint8, 0);
  const Tensor y_scale = Tensor::scalar<float>(DType::kFloat, 1.0f);
  const Tensor y_zp = Tensor::scalar<uint8_t>(DType::kUint8, 1);
  const Tensor y = run_op("QLinearMatMul", 10, {}, {a, scale, zp, b, scale, zp, y_scale, y_zp})[0];
  // Products 230, 440, 765, 1020 scaled by 0.25: 57.5 -> 58 (ties to even), 110, 191.25 -> 191, 255; then the
  // zero point is added (after rounding, as the spec orders it) and 256 saturates.
  EXPECT_EQ(std::vector<uint8_t>(y.data<uint8_t>(), y.data<uint8_t>() + 4), (std::vector<uint8_t>{59, 111, 192, 255}));
}

// ---- Conv ----------------------------------------------------------------------------------------------------------

struct ConvCase {
  int64_t batch, in_channels, out_channels, group;
  std::vector<int64_t> in_dims, kernel, strides, dilations, pads;
};

conv::ConvGeometry geometry_of(const ConvCase& c, bool transpose) {
  conv::ConvAttributes attrs;
  attrs.group = c.group;
  attrs.strides = c.strides;
  attrs.dilations = c.dilations;
  attrs.pads = c.pads;
  std::vector<int64_t> x_shape{c.batch, c.in_channels};
  x_shape.insert(x_shape.end(), c.in_dims.begin(), c.in_dims.end());
  std::vector<int64_t> w_shape = transpose ? std::vector<int64_t>{c.in_channels, c.out_channels / c.group}
                                           : std::vector<int64_t>{c.out_channels, c.in_channels / c.group};
  w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
  return transpose ? conv::conv_transpose_geometry(attrs, x_shape, w_shape)
                   : conv::conv_geometry(attrs, x_shape, w_shape, "Conv");
}

std::vector<ConvCase> conv_cases() {
  return {
      {1, 3, 5, 1, {11, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {2, 4, 6, 2, {9, 10}, {3, 2}, {2, 1}, {1, 2}, {0, 1, 2, 0}},
      {1, 6, 6, 6, {12, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},   // depthwise
      {1, 4, 8, 4, {10, 11}, {5, 3}, {2, 2}, {2, 1}, {2, 1, 2, 1}},  // depthwise with multiplier, strided
      // Depthwise planes of 16+ output rows, pads and strides mixed.
      {1, 5, 5, 5, {19, 21}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {1, 3, 6, 3, {37, 23}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}},   // strided, with multiplier
      {1, 4, 4, 4, {36, 20}, {5, 5}, {1, 2}, {1, 1}, {0, 2, 4, 2}},   // pads 0 / 4 top / bottom, odd band split
      {1, 2, 2, 2, {40, 17}, {3, 3}, {2, 1}, {2, 2}, {3, 1, 2, 1}},   // dilated, top pad past a stride
      {1, 7, 9, 1, {13, 17}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}},  // pointwise
      {1, 5, 3, 1, {15, 15}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}},  // strided 1x1
      {1, 3, 4, 1, {40, 37}, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}},  // stem-like, wide rows
      {1, 3, 16, 1, {6, 80}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}},  // rows of 40 outputs: a whole strip, a narrow one
      {1, 3, 5, 1, {11, 14}, {3, 3}, {3, 3}, {1, 2}, {1, 2, 0, 1}},  // column stride 3, dilated columns
      {1, 4, 6, 2, {8, 13}, {3, 3}, {1, 2}, {1, 1}, {1, 1, 1, 1}},   // grouped, column stride 2, odd width
      {2, 3, 4, 1, {17}, {3}, {1}, {2}, {2, 1}},                     // 1-D
      {1, 2, 3, 1, {5, 6, 7}, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 0, 1, 1}},  // 3-D
      {1, 40, 20, 1, {9, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},                  // depth beyond one panel block
      // Deeper than the rows-in-place GEMM, strided or 5x5: implicit im2col panels.
      {1, 24, 10, 1, {15, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}},                // strided 3x3
      {2, 20, 7, 1, {13, 16}, {3, 3}, {2, 1}, {1, 1}, {0, 1, 2, 1}},                 // mixed strides, uneven pads
      {1, 8, 6, 1, {12, 12}, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}},                  // 5x5
      {2, 37, 45, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}},                  // pointwise on small planes
      // Batches that share out over two threads run whole images per thread.
      {4, 6, 6, 6, {12, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},   // depthwise
      {4, 5, 3, 1, {15, 15}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}},  // strided 1x1
      {3, 3, 5, 1, {11, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},  // three images on two threads: per image
  };
}

void check_conv_engines() {
  ThreadPool pool(2);
  SerialParallelism serial;
  uint32_t seed = 100;
  for (const ConvCase& c : conv_cases()) {
    const conv::ConvGeometry g = geometry_of(c, false);
    const int64_t depth = c.in_channels / c.group * g.kernel_size;
    const std::vector<float> x = random_floats(g.batch * g.in_channels * g.in_size, seed++);
    const std::vector<float> w = random_floats(g.out_channels * depth, seed++);
    const std::vector<float> bias = random_floats(g.out_channels, seed++);
    std::vector<float> expected(static_cast<size_t>(g.batch * g.out_channels * g.out_size));
    conv::conv_reference_f32(conv::ConvF32Args{g, x.data(), w.data(), nullptr, bias.data(), expected.data()});
    const std::vector<double> want(expected.begin(), expected.end());
    const int64_t mg = c.out_channels / c.group;
    std::vector<PackedGemmF32> packed;
    for (int64_t grp = 0; grp < c.group; ++grp)
      packed.push_back(pack_gemm_a_f32(false, mg, depth, w.data() + grp * mg * depth, depth));
    for (int variant = 0; variant < 6; ++variant) {
      const bool use_packed = variant % 2 == 1 && c.in_channels / c.group != 1;
      const bool implicit = variant / 2 != 1;
      Parallelism& par = variant >= 4 ? static_cast<Parallelism&>(pool) : serial;
      std::vector<float> y(expected.size(), std::nanf(""));
      conv::conv_f32(conv::ConvF32Args{g, x.data(), use_packed ? nullptr : w.data(), use_packed ? &packed : nullptr,
                                       bias.data(), y.data()},
                     par, implicit);
      expect_near_all(y, want, 1e-4, "conv case " + std::to_string(seed) + " variant " + std::to_string(variant));
    }
    if (!g.is_pointwise() && c.in_channels / c.group != 1) {
      // Packed weights with a sum input and a clamp (the epilogue of the rows-in-place and panel paths alike).
      const std::vector<float> sum = random_floats(static_cast<int64_t>(expected.size()), seed++);
      std::vector<double> want_sum(expected.size());
      for (size_t i = 0; i < expected.size(); ++i)
        want_sum[i] = std::clamp(static_cast<double>(expected[i]) + sum[i], -0.5, 0.75);
      for (Parallelism* par : {static_cast<Parallelism*>(&serial), static_cast<Parallelism*>(&pool)}) {
        std::vector<float> y(expected.size(), std::nanf(""));
        conv::ConvF32Args args{g, x.data(), nullptr, &packed, bias.data(), y.data(), -0.5f, 0.75f};
        args.sum = sum.data();
        conv::conv_f32(args, *par);
        expect_near_all(y, want_sum, 1e-4, "packed conv case " + std::to_string(seed) + " with sum");
      }
    }
    if (c.group != 1) continue;
    // Group-1 convolutions also run transposed (weights packed as the GEMM's B operand; pointwise ones read x,
    // k x k ones their im2col matrix), with and without a sum input, clamped, on one and two threads.
    const PackedGemmF32 transposed = pack_gemm_b_f32(true, depth, g.out_channels, w.data(), depth);
    const std::vector<float> sum = random_floats(static_cast<int64_t>(expected.size()), seed++);
    std::vector<double> want_clamped(expected.size()), want_sum(expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      want_clamped[i] = std::clamp(static_cast<double>(expected[i]), -0.5, 0.75);
      want_sum[i] = std::clamp(static_cast<double>(expected[i]) + sum[i], -0.5, 0.75);
    }
    for (Parallelism* par : {static_cast<Parallelism*>(&serial), static_cast<Parallelism*>(&pool)}) {
      for (bool with_sum : {false, true}) {
        std::vector<float> y(expected.size(), std::nanf(""));
        conv::ConvF32Args args{g, x.data(), nullptr, nullptr, bias.data(), y.data(), -0.5f, 0.75f};
        args.packed_transposed = &transposed;
        args.sum = with_sum ? sum.data() : nullptr;
        conv::conv_f32(args, *par);
        expect_near_all(y, with_sum ? want_sum : want_clamped, 1e-4,
                        "transposed case " + std::to_string(seed) + (with_sum ? " with sum" : ""));
      }
    }
  }
}

TEST(ConvTest, EnginesMatchReference) { EveryKernel().run(check_conv_engines); }

// The rows-in-place path (packed weights, depth <= kRowsInPlaceMaxDepth) on planes whose padded input rows exceed one
// band (kRowsBandBytes): each thread's output rows go band by band, each band copying the input rows it reads
// (those two bands share, twice); with a sum input and a clamp, on one and two threads, every variant of the GEMM.
void check_rows_in_place_bands() {
  ThreadPool pool(2);
  SerialParallelism serial;
  uint32_t seed = 500;
  const std::vector<ConvCase> cases = {
      {1, 16, 20, 1, {64, 64}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},  // bands of 21 rows, a last of one
      {1, 3, 8, 1, {224, 224}, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}},  // ResNet-50's stem geometry
      {2, 8, 12, 2, {70, 50}, {3, 3}, {2, 1}, {2, 2}, {2, 0, 1, 3}},   // groups, dilation, uneven pads
      {1, 17, 5, 1, {40, 120}, {3, 3}, {1, 2}, {1, 1}, {0, 1, 0, 1}},  // deep rows: bands of 9
  };
  for (const ConvCase& c : cases) {
    const conv::ConvGeometry g = geometry_of(c, false);
    const int64_t depth = c.in_channels / c.group * g.kernel_size;
    const std::vector<float> x = random_floats(g.batch * g.in_channels * g.in_size, seed++);
    const std::vector<float> w = random_floats(g.out_channels * depth, seed++);
    const std::vector<float> bias = random_floats(g.out_channels, seed++);
    const int64_t outputs = g.batch * g.out_channels * g.out_size;
    const std::vector<float> sum = random_floats(outputs, seed++);
    std::vector<float> expected(static_cast<size_t>(outputs));
    conv::conv_reference_f32(conv::ConvF32Args{g, x.data(), w.data(), nullptr, bias.data(), expected.data()});
    std::vector<double> want(expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
      want[i] = std::clamp(static_cast<double>(expected[i]) + sum[i], -0.5, 0.75);
    const int64_t mg = c.out_channels / c.group;
    std::vector<PackedGemmF32> packed;
    for (int64_t grp = 0; grp < c.group; ++grp)
      packed.push_back(pack_gemm_a_f32(false, mg, depth, w.data() + grp * mg * depth, depth));
    std::vector<float> first;
    for (Parallelism* par : {static_cast<Parallelism*>(&serial), static_cast<Parallelism*>(&pool)}) {
      std::vector<float> y(expected.size(), std::nanf(""));
      conv::ConvF32Args args{g, x.data(), nullptr, &packed, bias.data(), y.data(), -0.5f, 0.75f};
      args.sum = sum.data();
      conv::conv_f32(args, *par);
      expect_near_all(y, want, 1e-4, "rows-in-place case " + std::to_string(seed));
      // Each output element's sum is one GEMM row's, whatever the bands and threads: the same bits on both.
      if (first.empty()) {
        first = y;
      } else {
        EXPECT_EQ(0, std::memcmp(first.data(), y.data(), sizeof(float) * y.size())) << "case " << seed;
      }
    }
  }
}

TEST(ConvTest, RowsInPlaceBandsMatchReference) { EveryKernel().run(check_rows_in_place_bands); }

TEST(ConvTest, OperatorWithConstantWeightsAndAutoPad) {
  ThreadPool pool(2);
  const Tensor x = random_tensor(DType::kFloat, {1, 4, 9, 8}, 1);
  const Tensor w = random_tensor(DType::kFloat, {6, 2, 3, 3}, 2);
  const Tensor b = random_tensor(DType::kFloat, {6}, 3);
  for (const char* pad : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    const std::vector<Attribute> attrs = {string_attr("auto_pad", pad), int_attr("group", 2),
                                          ints_attr("strides", {2, 2})};
    const Tensor plain = run_op("Conv", 11, attrs, {x, w, b})[0];
    const Tensor packed = run_op("Conv", 11, attrs, {x, w, b}, {false, true, false}, &pool)[0];
    ASSERT_EQ(plain.shape(), packed.shape());
    const int64_t expected_h = std::string(pad) == "VALID" ? 4 : 5;
    EXPECT_EQ(plain.shape(), (std::vector<int64_t>{1, 6, expected_h, std::string(pad) == "VALID" ? 3 : 4}));
    for (int64_t i = 0; i < plain.element_count(); ++i)
      EXPECT_NEAR(plain.data<float>()[i], packed.data<float>()[i], 1e-5);
  }
  // SAME_UPPER puts the odd padding at the end, SAME_LOWER at the start.
  const conv::ConvGeometry upper = geometry_of({1, 1, 1, 1, {4}, {2}, {1}, {1}, {}}, false);
  EXPECT_EQ(upper.out_dims, (std::vector<int64_t>{3}));
}

TEST(ConvTest, PointwiseOnSmallPlanesWithConstantWeights) {
  // With the AVX2 and AVX-512 tiles (16 or 32 lanes), a 1x1 convolution of 7x7 planes from 128 to 64 channels
  // with constant weights is packed to run transposed (49 positions fill a row of lanes badly); 14x14 planes from 64
  // to 40 channels are not (40 channels would). Both must equal the run with the weights as a plain input.
  ThreadPool pool(2);
  if (gemm_f32_tile().columns >= 16) {
    EXPECT_TRUE(conv::pointwise_prefers_transposed(49, 128, 64));
    EXPECT_TRUE(conv::pointwise_prefers_transposed(784, 192, 32));  // MobileNetV2's 28x28 projections
    EXPECT_FALSE(conv::pointwise_prefers_transposed(196, 64, 40));
    // 4% fewer lanes (14x32) repay the transposed stores over 512 depth steps, not over 32.
    EXPECT_FALSE(conv::pointwise_prefers_transposed(784, 32, 192));
    EXPECT_FALSE(conv::pointwise_prefers_transposed(3136, 256, 64));  // a large plane stays plain
  }
  if (gemm_f32_tile().rows == 14 && gemm_f32_tile().columns == 32) {
    EXPECT_TRUE(conv::pointwise_prefers_transposed(196, 256, 1024));  // ResNet-50's layer3 expansion
    EXPECT_TRUE(conv::pointwise_prefers_transposed(169, 512, 1000));  // SqueezeNet's classifier
  }
  for (int64_t size : {7, 14}) {
    const int64_t channels = size == 7 ? 64 : 40, in_channels = size == 7 ? 128 : 64;
    const Tensor x = random_tensor(DType::kFloat, {2, in_channels, size, size}, 4);
    const Tensor w = random_tensor(DType::kFloat, {channels, in_channels, 1, 1}, 5);
    const Tensor b = random_tensor(DType::kFloat, {channels}, 6);
    const Tensor plain = run_op("Conv", 11, {}, {x, w, b})[0];
    for (Parallelism* par : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
      const Tensor packed = run_op("Conv", 11, {}, {x, w, b}, {false, true, false}, par)[0];
      ASSERT_EQ(plain.shape(), packed.shape());
      for (int64_t i = 0; i < plain.element_count(); ++i)
        ASSERT_NEAR(plain.data<float>()[i], packed.data<float>()[i], 1e-4) << "plane " << size << " element " << i;
    }
  }
}

TEST(ConvTest, StridedKernelOnSmallPlanesWithConstantWeights) {
  // A 3x3 stride-2 convolution to a 7x7 plane with constant weights runs transposed (im2col as the GEMM's A); it
  // must equal the run with the weights as a plain input, with a bias and a FusedConv-style clamp left out.
  ThreadPool pool(2);
  const Tensor x = random_tensor(DType::kFloat, {2, 32, 14, 14}, 7);
  const Tensor w = random_tensor(DType::kFloat, {64, 32, 3, 3}, 8);
  const Tensor b = random_tensor(DType::kFloat, {64}, 9);
  const std::vector<Attribute> attrs = {ints_attr("strides", {2, 2}), ints_attr("pads", {1, 1, 1, 1})};
  if (gemm_f32_tile().columns >= 16) {
    EXPECT_TRUE(conv::pointwise_prefers_transposed(49, 32 * 9, 64));
  }
  const Tensor plain = run_op("Conv", 11, attrs, {x, w, b})[0];
  ASSERT_EQ(plain.shape(), (std::vector<int64_t>{2, 64, 7, 7}));
  for (Parallelism* par : {static_cast<Parallelism*>(nullptr), static_cast<Parallelism*>(&pool)}) {
    const Tensor packed = run_op("Conv", 11, attrs, {x, w, b}, {false, true, false}, par)[0];
    ASSERT_EQ(plain.shape(), packed.shape());
    for (int64_t i = 0; i < plain.element_count(); ++i)
      ASSERT_NEAR(plain.data<float>()[i], packed.data<float>()[i], 1e-4) << "element " << i;
  }
}

TEST(ConvTest, Float16AndDouble) {
  for (DType dtype : {DType::kFloat16, DType::kDouble}) {
    const Tensor x = random_tensor(dtype, {1, 2, 5, 5}, 1);
    const Tensor w = random_tensor(dtype, {3, 2, 3, 3}, 2);
    const Tensor y = run_op("Conv", 22, {ints_attr("pads", {1, 1, 1, 1})}, {x, w})[0];
    EXPECT_EQ(y.dtype(), dtype);
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{1, 3, 5, 5}));
    double sum = 0;  // element (0, 1, 2, 2): a full 3x3 window
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t kh = 0; kh < 3; ++kh) {
        for (int64_t kw = 0; kw < 3; ++kw)
          sum += at(x, c * 25 + (1 + kh) * 5 + 1 + kw) * at(w, ((1 * 2 + c) * 3 + kh) * 3 + kw);
      }
    }
    EXPECT_NEAR(at(y, 25 + 12), sum, dtype == DType::kDouble ? 1e-12 : 2e-2);
  }
}

TEST(ConvTest, RejectsBadInputs) {
  const Tensor x(DType::kFloat, {1, 4, 5, 5});
  EXPECT_THROW(run_op("Conv", 11, {}, {x, Tensor(DType::kFloat, {2, 3, 3, 3})}), Error);  // channels
  EXPECT_THROW(run_op("Conv", 11, {}, {x, Tensor(DType::kFloat, {2, 4, 7, 7})}), Error);  // kernel too big
  EXPECT_THROW(run_op("Conv", 11, {}, {x, Tensor(DType::kFloat, {2, 4, 3})}), Error);     // rank
  EXPECT_THROW(run_op("Conv", 11, {int_attr("group", 3)}, {x, Tensor(DType::kFloat, {2, 4, 3, 3})}), Error);
  EXPECT_THROW(run_op("Conv", 11, {}, {x, Tensor(DType::kFloat, {2, 4, 3, 3}), Tensor(DType::kFloat, {3})}), Error);
  EXPECT_THROW(run_op("Conv", 11, {ints_attr("strides", {1})}, {x, Tensor(DType::kFloat, {2, 4, 3, 3})}), Error);
  try {
    run_op("Conv", 11, {string_attr("auto_pad", "SAME")}, {x, Tensor(DType::kFloat, {2, 4, 3, 3})});
    ADD_FAILURE() << "bad auto_pad accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
  EXPECT_THROW(run_op("Conv", 11, {ints_attr("strides", {0, 1})}, {x, Tensor(DType::kFloat, {2, 4, 3, 3})}), Error);
}

// ---- ConvTranspose -------------------------------------------------------------------------------------------------

std::vector<double> conv_transpose_reference(const conv::ConvGeometry& g, const std::vector<float>& x,
                                             const std::vector<float>& w, const std::vector<float>& bias) {
  const size_t rank = g.spatial_rank();
  const int64_t cg = g.in_group_channels(), mg = g.out_group_channels();
  std::vector<double> y(static_cast<size_t>(g.batch * g.out_channels * g.out_size));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t m = 0; m < g.out_channels; ++m) {
      for (int64_t o = 0; o < g.out_size; ++o)
        y[static_cast<size_t>((n * g.out_channels + m) * g.out_size + o)] = bias[static_cast<size_t>(m)];
    }
    for (int64_t c = 0; c < g.in_channels; ++c) {
      const int64_t grp = c / cg;
      for (int64_t i = 0; i < g.in_size; ++i) {
        for (int64_t mm = 0; mm < mg; ++mm) {
          for (int64_t k = 0; k < g.kernel_size; ++k) {
            int64_t rest_i = i, rest_k = k, offset = 0, scale = 1;
            bool inside = true;
            for (size_t d = rank; d-- > 0;) {
              const int64_t id = rest_i % g.in_dims[d], kd = rest_k % g.kernel[d];
              rest_i /= g.in_dims[d];
              rest_k /= g.kernel[d];
              const int64_t od = id * g.strides[d] + kd * g.dilations[d] - g.pad_begin[d];
              inside = inside && od >= 0 && od < g.out_dims[d];
              offset += od * scale;
              scale *= g.out_dims[d];
            }
            if (!inside) continue;
            const int64_t m = grp * mg + mm;
            y[static_cast<size_t>((n * g.out_channels + m) * g.out_size + offset)] +=
                static_cast<double>(x[static_cast<size_t>((n * g.in_channels + c) * g.in_size + i)]) *
                w[static_cast<size_t>((c * mg + mm) * g.kernel_size + k)];
          }
        }
      }
    }
  }
  return y;
}

TEST(ConvTransposeTest, EngineMatchesReference) {
  ThreadPool pool(2);
  SerialParallelism serial;
  uint32_t seed = 200;
  const std::vector<ConvCase> cases = {
      {1, 3, 4, 1, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 0, 1}},
      {2, 4, 6, 2, {4, 5}, {3, 2}, {1, 2}, {2, 1}, {0, 0, 0, 0}},
      {1, 2, 3, 1, {7}, {4}, {3}, {1}, {1, 2}},
      {1, 2, 2, 1, {3, 4, 3}, {2, 2, 3}, {2, 1, 2}, {1, 1, 1}, {0, 1, 0, 1, 0, 1}},
      {1, 6, 6, 6, {5, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}},
  };
  for (const ConvCase& c : cases) {
    const conv::ConvGeometry g = geometry_of(c, true);
    const int64_t cg = c.in_channels / c.group, rows = c.out_channels / c.group * g.kernel_size;
    const std::vector<float> x = random_floats(g.batch * g.in_channels * g.in_size, seed++);
    const std::vector<float> w = random_floats(g.in_channels * rows, seed++);
    const std::vector<float> bias = random_floats(g.out_channels, seed++);
    const std::vector<double> expected = conv_transpose_reference(g, x, w, bias);
    std::vector<PackedGemmF32> packed;
    for (int64_t grp = 0; grp < c.group; ++grp)
      packed.push_back(pack_gemm_a_f32(true, rows, cg, w.data() + grp * cg * rows, rows));
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<float> y(expected.size(), std::nanf(""));
      const bool use_packed = variant >= 1;
      conv::conv_transpose_f32(conv::ConvF32Args{g, x.data(), use_packed ? nullptr : w.data(),
                                                 use_packed ? &packed : nullptr, bias.data(), y.data()},
                               variant == 2 ? static_cast<Parallelism&>(pool) : serial);
      expect_near_all(y, expected, 1e-4, "conv transpose variant " + std::to_string(variant));
    }
  }
}

TEST(ConvTransposeTest, OutputShapeAndPadding) {
  const Tensor x = random_tensor(DType::kFloat, {1, 1, 3, 3}, 1);
  const Tensor w = random_tensor(DType::kFloat, {1, 2, 3, 3}, 2);
  // Explicit output_shape larger than the natural size: extra rows/columns at the end hold only the bias (0).
  const Tensor y =
      run_op("ConvTranspose", 11, {ints_attr("strides", {3, 2}), ints_attr("output_shape", {10, 8})}, {x, w})[0];
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{1, 2, 10, 8}));
  const Tensor natural = run_op("ConvTranspose", 11, {ints_attr("strides", {3, 2})}, {x, w})[0];
  EXPECT_EQ(natural.shape(), (std::vector<int64_t>{1, 2, 9, 7}));
  for (int64_t c = 0; c < 2; ++c) {
    for (int64_t h = 0; h < 9; ++h) {
      for (int64_t wi = 0; wi < 7; ++wi) EXPECT_EQ(at(y, (c * 10 + h) * 8 + wi), at(natural, (c * 9 + h) * 7 + wi));
    }
  }
  const Tensor same =
      run_op("ConvTranspose", 11, {ints_attr("strides", {2, 2}), string_attr("auto_pad", "SAME_UPPER")}, {x, w})[0];
  EXPECT_EQ(same.shape(), (std::vector<int64_t>{1, 2, 6, 6}));
  const Tensor padded =
      run_op("ConvTranspose", 11, {ints_attr("output_padding", {1, 0}), ints_attr("strides", {2, 2})}, {x, w})[0];
  EXPECT_EQ(padded.shape(), (std::vector<int64_t>{1, 2, 8, 7}));
  EXPECT_THROW(run_op("ConvTranspose", 11, {ints_attr("pads", {5, 5, 5, 5})}, {x, w}), Error);
  EXPECT_THROW(run_op("ConvTranspose", 11, {}, {x, Tensor(DType::kFloat, {2, 2, 3, 3})}), Error);
}

// ---- integer convolutions ------------------------------------------------------------------------------------------

TEST(ConvIntegerTest, MatchesWidenedFloatConv) {
  const Tensor x = random_tensor(DType::kUint8, {1, 2, 6, 5}, 1, 0, 255);
  const Tensor w = random_tensor(DType::kInt8, {3, 2, 3, 3}, 2, -128, 127);
  const Tensor x_zp = Tensor::scalar<uint8_t>(DType::kUint8, 7);
  const Tensor w_zp = Tensor::from_vector<int8_t>(DType::kInt8, {1, -2, 3});
  const std::vector<Attribute> attrs = {ints_attr("pads", {1, 0, 1, 2})};
  const Tensor y = run_op("ConvInteger", 10, attrs, {x, w, x_zp, w_zp})[0];
  // The same convolution in double, with x - x_zp padded by zeros.
  Tensor xd(DType::kDouble, x.shape()), wd(DType::kDouble, w.shape());
  for (int64_t i = 0; i < x.element_count(); ++i) xd.data<double>()[i] = at(x, i) - 7;
  for (int64_t i = 0; i < w.element_count(); ++i) wd.data<double>()[i] = at(w, i) - at(w_zp, i / 18);
  const Tensor expected = run_op("Conv", 11, attrs, {xd, wd})[0];
  ASSERT_EQ(y.shape(), expected.shape());
  for (int64_t i = 0; i < y.element_count(); ++i) EXPECT_EQ(y.data<int32_t>()[i], at(expected, i));
}

// Enough channels and positions for the q8 GEMM path, whose input goes channels-last through 16 x 16 byte blocks
// with ragged edges (35 channels, 19 x 21 positions, two images), exact against the widened convolution.
TEST(ConvIntegerTest, ManyChannelsOnTheQ8GemmMatchWidenedFloatConv) {
  const Tensor x = random_tensor(DType::kUint8, {2, 35, 19, 21}, 3, 0, 255);
  const Tensor w = random_tensor(DType::kInt8, {20, 35, 3, 3}, 4, -128, 127);
  const Tensor x_zp = Tensor::scalar<uint8_t>(DType::kUint8, 128);
  const std::vector<Attribute> attrs = {ints_attr("pads", {1, 1, 1, 1})};
  const Tensor y = run_op("ConvInteger", 10, attrs, {x, w, x_zp})[0];
  Tensor xd(DType::kDouble, x.shape()), wd(DType::kDouble, w.shape());
  for (int64_t i = 0; i < x.element_count(); ++i) xd.data<double>()[i] = at(x, i) - 128;
  for (int64_t i = 0; i < w.element_count(); ++i) wd.data<double>()[i] = at(w, i);
  const Tensor expected = run_op("Conv", 11, attrs, {xd, wd})[0];
  ASSERT_EQ(y.shape(), expected.shape());
  for (int64_t i = 0; i < y.element_count(); ++i) ASSERT_EQ(y.data<int32_t>()[i], at(expected, i)) << i;
}

// ---- shape inference
// -------------------------------------------------------------------------------------------------

TEST(LinalgInferenceTest, SymbolicBatchAndConvDims) {
  Node node;
  node.op_type = "Conv";
  node.inputs = {"x", "w"};
  node.outputs = {"y"};
  node.attributes["strides"] = ints_attr("strides", {2, 2});
  node.attributes["pads"] = ints_attr("pads", {1, 1, 1, 1});
  const TypeInfo x = TypeInfo::tensor(
      DType::kFloat, std::vector<Dim>{Dim::named("N"), Dim::known(3), Dim::known(224), Dim::known(224)});
  const TypeInfo w = TypeInfo::tensor_of_shape(DType::kFloat, {64, 3, 3, 3});
  InferenceContext ctx(node, {&x, &w}, {nullptr, nullptr});
  OpRegistry::instance().find("", "Conv", 11)->infer(ctx);
  EXPECT_EQ(ctx.output_types()[0].to_string(), "float[N,64,112,112]");

  Node mm;
  mm.op_type = "MatMul";
  mm.inputs = {"a", "b"};
  mm.outputs = {"y"};
  const TypeInfo a =
      TypeInfo::tensor(DType::kFloat, std::vector<Dim>{Dim::named("B"), Dim::named("S"), Dim::known(64)});
  const TypeInfo b = TypeInfo::tensor_of_shape(DType::kFloat, {64, 10});
  InferenceContext mm_ctx(mm, {&a, &b}, {nullptr, nullptr});
  OpRegistry::instance().find("", "MatMul", 13)->infer(mm_ctx);
  EXPECT_EQ(mm_ctx.output_types()[0].to_string(), "float[B,S,10]");
  const TypeInfo bad = TypeInfo::tensor_of_shape(DType::kFloat, {63, 10});
  InferenceContext bad_ctx(mm, {&a, &bad}, {nullptr, nullptr});
  EXPECT_THROW(OpRegistry::instance().find("", "MatMul", 13)->infer(bad_ctx), Error);
}

}  // namespace
}  // namespace tessera

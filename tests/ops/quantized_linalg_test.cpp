// Tests of MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv on the q8 GEMM: for every q8 micro-kernel
// this CPU runs, on one thread and on a pool, with the weights given as constants (packed at kernel creation)
// and as plain inputs, against exact references: per-tensor, per-row and per-column zero points, broadcast
// batches with per-column zero points of every batch matrix, all signedness combinations, grouped, strided,
// padded, pointwise and 1-D convolutions, and zero points outside their operand's range (the widened path).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/q8-dwconv/q8-dwconv.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "nn_test_util.h"
#include "ops/conv/integer_conv_in_float.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using nn_test::ints_attr;
using nn_test::make_node;

// Runs one node; inputs flagged in `constant` are also given to the factory as constant initializers, and those
// the kernel consumed are passed as absent, as the runtime does (unless `pass_consumed`, as a direct caller may).
Tensor run_node(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                const std::vector<Tensor>& inputs, const std::vector<bool>& constant, Parallelism& parallelism,
                bool pass_consumed = false) {
  Node node = make_node(op_type, opset, attrs, inputs.size(), 1);
  std::vector<TypeInfo> types;
  std::vector<const Tensor*> constants;
  std::vector<RuntimeValue> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) node.inputs[i] = "";
    types.push_back(inputs[i].defined() ? TypeInfo::tensor_of_shape(inputs[i].dtype(), inputs[i].shape()) : TypeInfo{});
    constants.push_back(i < constant.size() && constant[i] ? &inputs[i] : nullptr);
    values.emplace_back(inputs[i].defined() ? RuntimeValue(inputs[i]) : RuntimeValue());
  }
  const KernelInfo info{node, opset, types, {}, constants, {}};
  const std::unique_ptr<Kernel> kernel = OpRegistry::instance().find("", op_type, opset)->factory(info);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (info.consumed_constant_input(i) && !pass_consumed) values[i] = RuntimeValue();
  }
  std::vector<const RuntimeValue*> input_ptrs;
  for (const RuntimeValue& v : values) input_ptrs.push_back(&v);
  std::vector<RuntimeValue> outputs(1);
  KernelContext ctx(node, input_ptrs, outputs, parallelism, {});
  kernel->compute(ctx);
  return outputs[0].tensor();
}

Tensor random_bytes(DType dtype, const std::vector<int64_t>& shape, std::mt19937& rng) {
  Tensor t(dtype, shape);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  return t;
}

// Zero points of `dtype` (count values), from either end of the range and in between.
Tensor zero_points(DType dtype, int64_t count, std::mt19937& rng) {
  Tensor t(dtype, {count});
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t pick = rng() % 4;
    const uint8_t byte = pick == 0   ? (dtype == DType::kInt8 ? 0x80 : 0)
                         : pick == 1 ? (dtype == DType::kInt8 ? 0x7F : 0xFF)
                                     : static_cast<uint8_t>(rng());
    t.data<uint8_t>()[i] = byte;
  }
  return t;
}

double value(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::kInt8) return t.data<int8_t>()[i];
  if (t.dtype() == DType::kUint8) return t.data<uint8_t>()[i];
  if (t.dtype() == DType::kInt32) return t.data<int32_t>()[i];
  return t.data<float>()[i];
}

// Runs `body(parallelism)` for every variant of a kernel family this CPU runs (`names`, selected by `select`), on
// one thread and on a pool of three, then restores the CPUID choice.
template <typename F>
void every_variant_and_pool(std::vector<std::string> (*names)(), bool (*select)(const std::string&), F&& body) {
  ThreadPool pool(3);
  SerialParallelism serial;
  for (const std::string& name : names()) {
    ASSERT_TRUE(select(name));
    for (Parallelism* par : {static_cast<Parallelism*>(&serial), static_cast<Parallelism*>(&pool)}) {
      SCOPED_TRACE(name + (par == &serial ? " on one thread" : " on a pool"));
      body(*par);
    }
  }
  select("");
}

// every_variant_and_pool over the q8 GEMM's micro-kernels.
template <typename F>
void every_kernel_and_pool(F&& body) {
  every_variant_and_pool(q8_gemm_kernel_names, q8_gemm_select_kernel, std::forward<F>(body));
}

// MatMulInteger of A [batch..., m, k] by B [k, n] or [batches, k, n]: the exact sums, in int64.
std::vector<int64_t> matmul_reference(const Tensor& a, const Tensor& b, const Tensor& a_zp, const Tensor& b_zp,
                                      int64_t a_batches, int64_t b_batches, int64_t m, int64_t k, int64_t n) {
  const int64_t batches = std::max(a_batches, b_batches);
  std::vector<int64_t> out(static_cast<size_t>(batches * m * n));
  for (int64_t batch = 0; batch < batches; ++batch) {
    const int64_t ab = batch % a_batches, bb = batch % b_batches;
    for (int64_t i = 0; i < m; ++i) {
      const int64_t row = ab * m + i;
      const double za = value(a_zp, a_zp.element_count() == 1 ? 0 : row % a_zp.element_count());
      for (int64_t j = 0; j < n; ++j) {
        const int64_t column = bb * n + j;
        const double zb = value(b_zp, b_zp.element_count() == 1 ? 0 : column % b_zp.element_count());
        int64_t sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          sum += static_cast<int64_t>(value(a, row * k + p) - za) *
                 static_cast<int64_t>(value(b, (bb * k + p) * n + j) - zb);
        }
        out[static_cast<size_t>((batch * m + i) * n + j)] = sum;
      }
    }
  }
  return out;
}

TEST(QuantizedMatMulTest, MatMulIntegerMatchesReference) {
  every_kernel_and_pool([](Parallelism& par) {
    std::mt19937 rng(3);
    for (int iteration = 0; iteration < 48; ++iteration) {
      const DType a_type = iteration & 1 ? DType::kInt8 : DType::kUint8;
      const DType b_type = iteration & 2 ? DType::kInt8 : DType::kUint8;
      const bool batched_b = iteration & 4, per_row = iteration & 8;
      const int64_t m = 1 + rng() % 40, k = 1 + rng() % 70, n = 1 + rng() % 50;
      const int64_t a_batches = batched_b ? 1 : 1 + rng() % 3, b_batches = batched_b ? 2 : 1;
      const Tensor a = random_bytes(a_type, {a_batches, m, k}, rng);
      const Tensor b = batched_b ? random_bytes(b_type, {b_batches, k, n}, rng) : random_bytes(b_type, {k, n}, rng);
      // Per row: runs of rows sharing a zero point, then changes.
      Tensor a_zp = zero_points(a_type, per_row ? m : 1, rng);
      if (per_row && m > 3) a_zp.data<uint8_t>()[1] = a_zp.data<uint8_t>()[0];
      const Tensor b_zp = zero_points(b_type, iteration % 3 == 0 ? 1 : n * b_batches, rng);
      const std::vector<int64_t> want = matmul_reference(a, b, a_zp, b_zp, a_batches, b_batches, m, k, n);
      for (const int mode : {0, 1, 2}) {  // plain B; constant B, passed; constant B, consumed
        const bool constant = mode > 0;
        const Tensor y = run_node("MatMulInteger", 10, {}, {a, b, a_zp, b_zp}, {false, constant, constant, constant},
                                  par, mode == 1);
        ASSERT_EQ(y.element_count(), static_cast<int64_t>(want.size()));
        for (int64_t i = 0; i < y.element_count(); ++i) {
          ASSERT_EQ(y.data<int32_t>()[i], want[static_cast<size_t>(i)]) << "iteration " << iteration << " at " << i;
        }
      }
    }
  });
}

// Whether the kernel made for these inputs (all constant but the first) consumes input `index` (the weights).
bool consumes(const std::string& op_type, const std::vector<Attribute>& attrs, const std::vector<Tensor>& inputs,
              size_t index) {
  const Node node = make_node(op_type, 10, attrs, inputs.size(), 1);
  std::vector<TypeInfo> types;
  std::vector<const Tensor*> constants;
  for (size_t i = 0; i < inputs.size(); ++i) {
    types.push_back(TypeInfo::tensor_of_shape(inputs[i].dtype(), inputs[i].shape()));
    constants.push_back(i == 0 ? nullptr : &inputs[i]);
  }
  const KernelInfo info{node, 10, types, {}, constants, {}};
  OpRegistry::instance().find("", op_type, 10)->factory(info);
  return info.consumed_constant_input(index);
}

bool consumes_b(const std::vector<Tensor>& inputs) { return consumes("MatMulInteger", {}, inputs, 1); }

TEST(QuantizedMatMulTest, ConsumesConstantBOnlyWhenEveryRunTakesTheQ8Gemm) {
  std::mt19937 rng(7);
  const Tensor a = random_bytes(DType::kUint8, {5, 9}, rng);
  const Tensor b = random_bytes(DType::kInt8, {9, 7}, rng);
  EXPECT_TRUE(consumes_b({a, b}));
  EXPECT_TRUE(consumes_b({a, b, Tensor::scalar<uint8_t>(DType::kUint8, 7), Tensor::scalar<int8_t>(DType::kInt8, 1)}));
  EXPECT_FALSE(consumes_b({a, b, Tensor::scalar<int32_t>(DType::kInt32, 300)}));  // widened loops
  EXPECT_FALSE(
      consumes_b({a, b, Tensor::scalar<uint8_t>(DType::kUint8, 7), Tensor::scalar<int32_t>(DType::kInt32, 200)}));
  EXPECT_FALSE(consumes_b({a, random_bytes(DType::kInt8, {2, 9, 7}, rng)}));  // batched B: not packed
}

TEST(QuantizedConvTest, ConsumesConstantWeightsOnlyWhenEveryRunTakesTheQ8Gemm) {
  std::mt19937 rng(9);
  const Tensor x = random_bytes(DType::kInt8, {1, 8, 5, 5}, rng);
  const Tensor w = random_bytes(DType::kUint8, {12, 4, 3, 3}, rng);
  const std::vector<Attribute> grouped = {nn_test::int_attr("group", 2)};
  EXPECT_TRUE(consumes("ConvInteger", grouped, {x, w}, 1));
  EXPECT_TRUE(consumes("ConvInteger", grouped, {x, w, Tensor::scalar<int8_t>(DType::kInt8, -3)}, 1));
  EXPECT_FALSE(consumes("ConvInteger", grouped, {x, w, Tensor::scalar<int32_t>(DType::kInt32, 200)}, 1));
  EXPECT_FALSE(consumes("ConvInteger", {nn_test::int_attr("group", 5)}, {x, w}, 1));  // 12 channels in 5 groups
  const Tensor depthwise = random_bytes(DType::kUint8, {8, 1, 3, 3}, rng);            // thin groups: widened loops
  EXPECT_FALSE(consumes("ConvInteger", {nn_test::int_attr("group", 8)}, {x, depthwise}, 1));
}

TEST(QuantizedMatMulTest, ZeroPointOutsideTheTypeUsesTheWidenedLoops) {
  std::mt19937 rng(4);
  const Tensor a = random_bytes(DType::kUint8, {5, 9}, rng);
  const Tensor b = random_bytes(DType::kInt8, {9, 7}, rng);
  const Tensor a_zp = Tensor::scalar<int32_t>(DType::kInt32, 300);
  const Tensor b_zp = Tensor::scalar<int32_t>(DType::kInt32, -200);
  SerialParallelism serial;
  const Tensor y = run_node("MatMulInteger", 10, {}, {a, b, a_zp, b_zp}, {false, true, false, true}, serial);
  const std::vector<int64_t> want = matmul_reference(a, b, a_zp, b_zp, 1, 1, 5, 9, 7);
  for (int64_t i = 0; i < y.element_count(); ++i) EXPECT_EQ(y.data<int32_t>()[i], want[static_cast<size_t>(i)]);
}

TEST(QuantizedMatMulTest, QLinearMatMulMatchesReference) {
  every_kernel_and_pool([](Parallelism& par) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(0.001f, 0.05f);
    for (int iteration = 0; iteration < 16; ++iteration) {
      const DType a_type = iteration & 1 ? DType::kInt8 : DType::kUint8;
      const DType b_type = iteration & 2 ? DType::kInt8 : DType::kUint8;
      const DType y_type = iteration & 4 ? DType::kInt8 : DType::kUint8;
      const int64_t m = 1 + rng() % 30, k = 1 + rng() % 60, n = 1 + rng() % 40;
      const Tensor a = random_bytes(a_type, {2, m, k}, rng);
      const Tensor b = random_bytes(b_type, {k, n}, rng);
      const Tensor a_zp = zero_points(a_type, 1, rng), b_zp = zero_points(b_type, n, rng);
      Tensor a_scale(DType::kFloat, {m}), b_scale(DType::kFloat, {n});
      for (int64_t i = 0; i < m; ++i) a_scale.data<float>()[i] = uniform(rng);
      for (int64_t j = 0; j < n; ++j) b_scale.data<float>()[j] = uniform(rng);
      const Tensor y_scale = Tensor::scalar<float>(DType::kFloat, 0.05f + uniform(rng));
      const Tensor y_zp = zero_points(y_type, 1, rng).reshaped({});
      const std::vector<int64_t> sums = matmul_reference(a, b, a_zp, b_zp, 2, 1, m, k, n);
      for (const int mode : {0, 1, 2}) {  // plain B; constant B, passed; constant B, consumed
        const bool constant = mode > 0;
        const Tensor y = run_node("QLinearMatMul", 10, {}, {a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp},
                                  {false, true, constant, constant, true, constant, true, true}, par, mode == 1);
        for (int64_t i = 0; i < y.element_count(); ++i) {
          const int64_t row = (i / n) % m, column = i % n;
          const double scale =
              static_cast<float>(static_cast<double>(static_cast<float>(
                                     static_cast<double>(a_scale.data<float>()[row]) * b_scale.data<float>()[column])) /
                                 y_scale.data<float>()[0]);
          double q = std::nearbyint(static_cast<double>(sums[static_cast<size_t>(i)]) * scale) + value(y_zp, 0);
          q = std::clamp(q, y_type == DType::kInt8 ? -128.0 : 0.0, y_type == DType::kInt8 ? 127.0 : 255.0);
          ASSERT_EQ(value(y, i), q) << "iteration " << iteration << " at " << i;
        }
      }
    }
  });
}

struct ConvCase {
  std::vector<int64_t> x_shape, w_shape;
  int64_t group;
  std::vector<int64_t> strides, pads, dilations;
};

// The exact convolution sums of (x - x_zp) by (w - w_zp[m]), as [N, M, out...] in int64, with zero padding.
std::vector<int64_t> conv_reference(const ConvCase& c, const Tensor& x, const Tensor& w, double x_zp,
                                    const Tensor& w_zp, std::vector<int64_t>& out_dims) {
  const size_t rank = c.x_shape.size() - 2;
  const int64_t batch = c.x_shape[0], channels = c.x_shape[1], out_channels = c.w_shape[0];
  const int64_t cg = channels / c.group, mg = out_channels / c.group;
  out_dims.clear();
  int64_t in_size = 1, out_size = 1, kernel_size = 1;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t extent = (c.w_shape[2 + d] - 1) * c.dilations[d] + 1;
    out_dims.push_back((c.x_shape[2 + d] + c.pads[d] + c.pads[rank + d] - extent) / c.strides[d] + 1);
    in_size *= c.x_shape[2 + d];
    out_size *= out_dims.back();
    kernel_size *= c.w_shape[2 + d];
  }
  std::vector<int64_t> out(static_cast<size_t>(batch * out_channels * out_size));
  for (int64_t nb = 0; nb < batch; ++nb) {
    for (int64_t oc = 0; oc < out_channels; ++oc) {
      const double zw = value(w_zp, w_zp.element_count() == 1 ? 0 : oc);
      for (int64_t o = 0; o < out_size; ++o) {
        int64_t sum = 0;
        for (int64_t ic = 0; ic < cg; ++ic) {
          for (int64_t kk = 0; kk < kernel_size; ++kk) {
            int64_t in_index = 0, rest_o = o, rest_k = kk;
            bool inside = true;
            std::vector<int64_t> pos(rank);
            for (size_t d = rank; d-- > 0;) {
              const int64_t od = rest_o % out_dims[d], kd = rest_k % c.w_shape[2 + d];
              rest_o /= out_dims[d];
              rest_k /= c.w_shape[2 + d];
              pos[d] = od * c.strides[d] + kd * c.dilations[d] - c.pads[d];
              inside = inside && pos[d] >= 0 && pos[d] < c.x_shape[2 + d];
            }
            if (!inside) continue;
            for (size_t d = 0; d < rank; ++d) in_index = in_index * c.x_shape[2 + d] + pos[d];
            const int64_t channel = (oc / mg) * cg + ic;
            const double xv = value(x, (nb * channels + channel) * in_size + in_index) - x_zp;
            const double wv = value(w, (oc * cg + ic) * kernel_size + kk) - zw;
            sum += static_cast<int64_t>(xv * wv);
          }
        }
        out[static_cast<size_t>((nb * out_channels + oc) * out_size + o)] = sum;
      }
    }
  }
  return out;
}

// The bound behind q8_requantize's small_sums: depth * widest |x - xz| * widest |w - wz| + widest |bias| <= 2^24.
TEST(QuantizedConvTest, SumsWithin2To24FromTypesZeroPointsAndBias) {
  // uint8 x with zero point 0: up to 255; int8 w with zero point 0: up to 128 (-128). 514 * 255 * 128 = 16776960.
  EXPECT_TRUE(conv::integer_sums_within_2_24(514, DType::kUint8, 0, DType::kInt8, {0.0}, nullptr, 1));
  EXPECT_FALSE(conv::integer_sums_within_2_24(515, DType::kUint8, 0, DType::kInt8, {0.0}, nullptr, 1));
  const int32_t bias[] = {5, -256};  // 16776960 + 256 = 2^24: still within; one more is not
  EXPECT_TRUE(conv::integer_sums_within_2_24(514, DType::kUint8, 0, DType::kInt8, {0.0}, bias, 2));
  const int32_t bigger[] = {257, 0};
  EXPECT_FALSE(conv::integer_sums_within_2_24(514, DType::kUint8, 0, DType::kInt8, {0.0}, bigger, 2));
  // The widest weight zero point counts: int8 w with zero point 127 reaches |-128 - 127| = 255.
  EXPECT_FALSE(conv::integer_sums_within_2_24(300, DType::kUint8, 0, DType::kInt8, {0.0, 127.0}, nullptr, 2));
  EXPECT_TRUE(conv::integer_sums_within_2_24(258, DType::kUint8, 0, DType::kInt8, {0.0, 127.0}, nullptr, 2));
  // int8 x with zero point -128 reaches 255 too; a depthwise 3x3 is always within.
  EXPECT_TRUE(conv::integer_sums_within_2_24(9, DType::kInt8, -128, DType::kUint8, {255.0}, nullptr, 1));
}

// ConvInteger and QLinearConv on case `c` against the reference: x int8 when index is odd, w int8 when index & 2, one
// weight zero point for all channels when index % 3 == 0 (else one per channel); each with plain weights, constant
// ones passed and constant ones consumed. `narrow_weights`: weight bytes in 7 bits (int8 in [-64, 64], uint8 in
// [0, 128]), as reduced-range quantization writes them. `centred_weights`: every weight zero point int8's 0 or
// uint8's 128, as symmetric quantization writes them.
void check_conv_case(const ConvCase& c, size_t index, std::mt19937& rng, Parallelism& par, bool narrow_weights = false,
                     bool centred_weights = false) {
  const DType x_type = index & 1 ? DType::kInt8 : DType::kUint8;
  const DType w_type = index & 2 ? DType::kInt8 : DType::kUint8;
  const Tensor x = random_bytes(x_type, c.x_shape, rng);
  Tensor w = random_bytes(w_type, c.w_shape, rng);
  if (narrow_weights) {
    uint8_t* bytes = w.data<uint8_t>();
    for (int64_t i = 0; i < w.element_count(); ++i) {
      const int narrow = bytes[i] % 129;
      bytes[i] = static_cast<uint8_t>(w_type == DType::kInt8 ? narrow - 64 : narrow);
    }
  }
  const Tensor x_zp = zero_points(x_type, 1, rng).reshaped({});
  Tensor w_zp = zero_points(w_type, index % 3 == 0 ? 1 : c.w_shape[0], rng);
  // Reduced-range int8 weights with one zero point are symmetric, as quantizers write them (zero point 0).
  if (narrow_weights && w_type == DType::kInt8 && index % 3 == 0) w_zp.data<int8_t>()[0] = 0;
  if (centred_weights) {
    for (int64_t i = 0; i < w_zp.element_count(); ++i) w_zp.data<uint8_t>()[i] = w_type == DType::kInt8 ? 0 : 128;
  }
  const std::vector<Attribute> attrs = {ints_attr("strides", c.strides), ints_attr("pads", c.pads),
                                        ints_attr("dilations", c.dilations), nn_test::int_attr("group", c.group)};
  std::vector<int64_t> out_dims;
  const std::vector<int64_t> want = conv_reference(c, x, w, value(x_zp, 0), w_zp, out_dims);
  Tensor bias(DType::kInt32, {c.w_shape[0]});
  for (int64_t i = 0; i < c.w_shape[0]; ++i) bias.data<int32_t>()[i] = static_cast<int32_t>(rng() % 2001) - 1000;
  const Tensor x_scale = Tensor::scalar<float>(DType::kFloat, 0.02f);
  Tensor w_scale(DType::kFloat, {c.w_shape[0]});
  for (int64_t i = 0; i < c.w_shape[0]; ++i) w_scale.data<float>()[i] = 0.01f + 0.001f * static_cast<float>(i);
  // An output scale growing with the products per output, so that most outputs land inside the type, not on
  // its bounds (where an output the kernel never wrote could pass for a saturated one).
  const int64_t depth =
      c.w_shape[1] * std::accumulate(c.w_shape.begin() + 2, c.w_shape.end(), int64_t{1}, std::multiplies<int64_t>());
  const float ys = 0.3f * static_cast<float>(std::max<int64_t>(1, depth / 4));
  const Tensor y_scale = Tensor::scalar<float>(DType::kFloat, ys);
  const Tensor y_zp = Tensor::scalar<uint8_t>(DType::kUint8, 100);
  for (const int mode : {0, 1, 2}) {  // plain weights; constant, passed; constant, consumed
    const bool constant = mode > 0;
    SCOPED_TRACE("case " + std::to_string(index) + " mode " + std::to_string(mode));
    const Tensor y =
        run_node("ConvInteger", 10, attrs, {x, w, x_zp, w_zp}, {false, constant, constant, constant}, par, mode == 1);
    ASSERT_EQ(y.element_count(), static_cast<int64_t>(want.size()));
    for (int64_t i = 0; i < y.element_count(); ++i) ASSERT_EQ(y.data<int32_t>()[i], want[static_cast<size_t>(i)]);
    const Tensor q = run_node("QLinearConv", 10, attrs, {x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias},
                              {false, true, constant, constant, true, constant, true, true, true}, par, mode == 1);
    const int64_t plane = y.element_count() / (c.x_shape[0] * c.w_shape[0]);
    for (int64_t i = 0; i < q.element_count(); ++i) {
      const int64_t oc = (i / plane) % c.w_shape[0];
      // The kernel's scale: the float scales multiplied in double, rounded to float, divided, rounded again.
      const double scale =
          static_cast<float>(static_cast<double>(static_cast<float>(static_cast<double>(0.02f) *
                                                                    static_cast<double>(w_scale.data<float>()[oc]))) /
                             static_cast<double>(ys));
      const double acc = static_cast<double>(want[static_cast<size_t>(i)] + bias.data<int32_t>()[oc]);
      const double expected = std::clamp(std::nearbyint(acc * scale) + 100.0, 0.0, 255.0);
      ASSERT_EQ(value(q, i), expected) << "at " << i;
    }
  }
}

TEST(QuantizedConvTest, ConvIntegerAndQLinearConvMatchReference) {
  const std::vector<ConvCase> cases = {
      // On the q8 GEMM (groups of at least 4 output channels and 128 products per output position):
      {{1, 3, 9, 8}, {5, 3, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {{2, 8, 7, 9}, {12, 4, 3, 2}, 2, {2, 1}, {0, 1, 2, 0}, {1, 2}},     // grouped, strided, dilated
      {{1, 16, 6, 5}, {9, 16, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},    // pointwise
      {{2, 16, 23, 25}, {9, 16, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},  // pointwise, planes of several blocks
      {{1, 12, 9, 11}, {8, 12, 1, 1}, 1, {2, 3}, {0, 0, 0, 0}, {1, 1}},   // 1x1, strided (gathered, then pointwise)
      {{1, 8, 5, 5}, {40, 8, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},     // a small plane: channels split over the pool
      {{1, 8, 30, 31}, {20, 8, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},   // pointwise, blocks spread over the pool
      {{2, 8, 17}, {6, 8, 3}, 1, {1}, {2, 1}, {2}},                       // 1-D
      {{1, 40, 6, 6}, {20, 40, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},   // depth beyond one kernel strip
      {{1, 16, 10, 10}, {100, 16, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},  // pointwise, many A strips, B strips uneven
      {{1, 3, 11, 10}, {8, 3, 7, 7}, 1, {2, 2}, {3, 3, 3, 3}, {1, 1}},      // a 7x7 stride-2 image stem
      {{1, 5, 9, 9}, {6, 5, 3, 3}, 1, {1, 2}, {2, 1, 2, 3}, {2, 2}},        // dilated, uneven padding, one group
      // Depthwise through the float kernels, or the widened loops (thin groups):
      {{1, 6, 8, 8}, {6, 1, 3, 3}, 6, {2, 2}, {1, 1, 1, 1}, {1, 1}},      // depthwise, strided
      {{2, 20, 9, 19}, {20, 1, 3, 3}, 20, {1, 1}, {1, 1, 1, 1}, {1, 1}},  // depthwise, two images
      {{1, 7, 6, 5}, {3, 7, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},      // 3 output channels
      // Depthwise with narrow output rows (channels-last inside): blocks of channels with a short last one.
      {{2, 40, 7, 7}, {40, 1, 3, 3}, 40, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {{1, 20, 9, 9}, {20, 1, 3, 3}, 20, {2, 2}, {1, 1, 1, 1}, {1, 1}},  // strided, per-channel zero points
      // Pointwise at depth 64 (AMX where the CPU has it) on planes beyond 256 positions: a 100 KB image as one GEMM
      // whose tiles requantize, a 266 KB one (beyond kWholeImageMaxBytes) block by block.
      {{1, 64, 40, 40}, {12, 64, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{1, 64, 64, 65}, {12, 64, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      // im2row convolutions of more than two 256-position blocks per thread: each block's rows, GEMM,
      // requantization and transpose on one thread (QLinearConv), a 3x3 and a 7x7 stride-2 stem.
      {{1, 8, 41, 41}, {12, 8, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {{1, 3, 46, 46}, {8, 3, 7, 7}, 1, {2, 2}, {3, 3, 3, 3}, {1, 1}},
  };
  // Case i gets one weight zero point for all channels when i % 3 == 0 (else one per channel): the NCHW pointwise
  // path takes only the former, so its cases sit at indices 3, 6 and 9, and 36 and 18 (the 64-channel cases).
  every_kernel_and_pool([&](Parallelism& par) {
    std::mt19937 rng(6);
    for (size_t index = 0; index < cases.size() * 2; ++index)
      check_conv_case(cases[index % cases.size()], index, rng, par);
  });
}

// Depthwise 3x3 convolutions on each q8-dwconv variant (the integer kernel where a vector variant runs, plane by
// plane for output rows wider than 16 and channels-last for narrower ones; the float kernels with the portable one):
// column strides 1 and 2, uneven pads, a row stride of 3, two images, odd widths, channel counts that leave a short
// last block; one weight zero point for all channels and one per channel.
TEST(QuantizedConvTest, DepthwiseMatchesReferenceOnEachQ8DwConvVariant) {
  const std::vector<ConvCase> cases = {
      {{1, 5, 20, 37}, {5, 1, 3, 3}, 5, {2, 2}, {1, 1, 0, 1}, {1, 1}},
      {{2, 4, 13, 50}, {4, 1, 3, 3}, 4, {3, 1}, {2, 0, 1, 2}, {1, 1}},
      {{1, 3, 18, 41}, {3, 1, 3, 3}, 3, {1, 2}, {0, 2, 2, 0}, {1, 1}},
      {{2, 40, 7, 7}, {40, 1, 3, 3}, 40, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {{1, 70, 12, 14}, {70, 1, 3, 3}, 70, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {{1, 33, 14, 14}, {33, 1, 3, 3}, 33, {2, 2}, {0, 1, 1, 0}, {1, 1}},
      {{1, 20, 9, 9}, {20, 1, 3, 3}, 20, {2, 2}, {1, 1, 1, 1}, {1, 1}},
  };
  every_variant_and_pool(q8_dwconv3x3_kernel_names, q8_dwconv3x3_select_kernel, [&](Parallelism& par) {
    std::mt19937 rng(16);
    for (size_t index = 0; index < cases.size() * 2; ++index)
      check_conv_case(cases[index % cases.size()], index, rng, par);
  });
}

// Pointwise convolutions with reduced-range (7-bit) weights: on AVX2 without VNNI (or the AVX2 variant selected),
// those of 64 or more channels pack their constant weights for the vpmaddubsw tile and run with positions as rows
// (conv_integer's narrow_weights_suit_rows); fewer channels on planes of more than 196 positions run in NCHW with
// the weights as the narrow A of the same tile (pack_q8_gemm_b_for_narrow_a), whole (225 positions) or in blocks
// (400, and batch 2); every variant exact against the reference.
TEST(QuantizedConvTest, ReducedRangeWeightsMatchReference) {
  const std::vector<ConvCase> cases = {
      {{1, 64, 14, 14}, {64, 64, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{1, 96, 7, 7}, {128, 96, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{2, 64, 9, 10}, {80, 64, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{1, 128, 11, 12}, {64, 128, 1, 1}, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}},  // strided: gathered, then pointwise
  };
  // NCHW with the weights as the narrow A: int8 symmetric weights, one zero point (check_conv_case's indices 6 and
  // 15: uint8 and int8 x).
  const std::vector<ConvCase> nchw_cases = {
      {{1, 16, 20, 20}, {48, 16, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{1, 48, 15, 15}, {24, 48, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{2, 24, 17, 19}, {36, 24, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
  };
  every_kernel_and_pool([&](Parallelism& par) {
    std::mt19937 rng(8);
    for (size_t index = 0; index < cases.size() * 3; ++index)
      check_conv_case(cases[index % cases.size()], index, rng, par, true);
    for (const ConvCase& c : nchw_cases) {
      for (size_t index : {size_t{6}, size_t{15}}) check_conv_case(c, index, rng, par, true);
    }
  });
}

// Pointwise convolutions with symmetric 8-bit weights (zero points int8 0 or uint8 128): on AVX2 without VNNI (or the
// AVX2 variant selected), those of 64 or more channels on planes of at most 196 positions pack their constant weights
// as bytes for the int16 tile and run with positions as rows (conv_integer's narrow_weights_suit_rows), larger planes
// in NCHW; every variant exact against the reference, x uint8 and int8, weights uint8 and int8, one zero point and
// one per channel.
TEST(QuantizedConvTest, SymmetricWeightsMatchReference) {
  const std::vector<ConvCase> cases = {
      {{1, 64, 14, 14}, {64, 64, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{1, 96, 7, 7}, {128, 96, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{2, 64, 9, 10}, {80, 64, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{1, 64, 15, 15}, {72, 64, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},  // 225 positions: NCHW
  };
  every_kernel_and_pool([&](Parallelism& par) {
    std::mt19937 rng(9);
    for (size_t index = 0; index < cases.size() * 6; ++index)
      check_conv_case(cases[index % cases.size()], index, rng, par, false, true);
  });
}

// A shallow convolution (32 products per output, the most that runs in float) at the extremes: every difference
// x - x_zero_point 255 and w - w_zero_point -255, so each sum is -32 * 65025, exact whether the float sums come
// from the float32 engine or, on AMX, from the bf16 tiles (255 is exact in bfloat16, every partial sum below 2^24).
TEST(QuantizedConvTest, ShallowConvolutionsExactAtTheExtremes) {
  Tensor x(DType::kUint8, {1, 8, 6, 7});
  Tensor w(DType::kUint8, {5, 8, 2, 2});
  std::fill(x.data<uint8_t>(), x.data<uint8_t>() + x.element_count(), uint8_t{255});
  std::fill(w.data<uint8_t>(), w.data<uint8_t>() + w.element_count(), uint8_t{0});
  const Tensor x_zp = Tensor::scalar<uint8_t>(DType::kUint8, 0);
  const Tensor w_zp = Tensor::scalar<uint8_t>(DType::kUint8, 255);
  // And a dense 7x7 stem (147 products), which on AMX runs on the bf16 tiles too (conv::dense_on_bf16_tiles).
  Tensor stem_x(DType::kUint8, {1, 3, 9, 10});
  Tensor stem_w(DType::kUint8, {4, 3, 7, 7});
  std::fill(stem_x.data<uint8_t>(), stem_x.data<uint8_t>() + stem_x.element_count(), uint8_t{255});
  std::fill(stem_w.data<uint8_t>(), stem_w.data<uint8_t>() + stem_w.element_count(), uint8_t{0});
  every_kernel_and_pool([&](Parallelism& par) {
    const Tensor y = run_node("ConvInteger", 10, {}, {x, w, x_zp, w_zp}, {false, true, true, true}, par);
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{1, 5, 5, 6}));
    for (int64_t i = 0; i < y.element_count(); ++i) ASSERT_EQ(y.data<int32_t>()[i], -32 * 65025) << "at " << i;
    const Tensor stem = run_node("ConvInteger", 10, {}, {stem_x, stem_w, x_zp, w_zp}, {false, true, true, true}, par);
    ASSERT_EQ(stem.shape(), (std::vector<int64_t>{1, 4, 3, 4}));
    for (int64_t i = 0; i < stem.element_count(); ++i)
      ASSERT_EQ(stem.data<int32_t>()[i], -147 * 65025) << "stem at " << i;
  });
}

// Small planes with many output channels on the AMX tiles and a pool: each thread makes the whole im2row matrix
// (or x channels-last) itself and takes whole strips of the output channels (136: a short last strip), for a 3x3
// and a positions-as-rows pointwise convolution of at least 2^24 multiply-adds (smaller ones run on one thread:
// q8_gemm_on_amx_is_small). Skipped without AMX.
TEST(QuantizedConvTest, SmallPlanesSplitByOutputChannelsOnAmx) {
  if (!q8_gemm_select_kernel("q8_gemm_ukernel_32x32__amx")) GTEST_SKIP() << "no AMX tiles on this CPU";
  const std::vector<ConvCase> cases = {
      {{1, 64, 18, 18}, {136, 64, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {{1, 640, 14, 14}, {136, 640, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}},
  };
  ASSERT_FALSE(q8_gemm_on_amx_is_small(18 * 18, 136, 576));
  ASSERT_FALSE(q8_gemm_on_amx_is_small(14 * 14, 136, 640));
  ThreadPool pool(2);
  std::mt19937 rng(8);
  for (size_t index = 0; index < cases.size() * 2; ++index) {
    SCOPED_TRACE("small-plane case " + std::to_string(index));
    check_conv_case(cases[index % cases.size()], index * 3, rng, pool);
  }
  q8_gemm_select_kernel("");
}

}  // namespace
}  // namespace tessera

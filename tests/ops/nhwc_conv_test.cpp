// com.tessera NhwcConv against Conv on the transposed tensors: every path (pointwise GEMM with each NCHW edge
// and strides, depthwise, the general path through NCHW), W constant (prepared at creation) or fed at run time,
// one and two threads; bad inputs are clear errors.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

// [N, C, H, W] <-> [N, H, W, C].
Tensor to_last(const Tensor& x) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor y(DType::kFloat, {n, h, w, c});
  for (int64_t i = 0; i < n * c * h * w; ++i) {
    const int64_t b = i / (c * h * w), ch = i / (h * w) % c, p = i % (h * w);
    y.data<float>()[(b * h * w + p) * c + ch] = x.data<float>()[i];
  }
  return y;
}
Tensor to_first(const Tensor& y) {
  const int64_t n = y.dim(0), h = y.dim(1), w = y.dim(2), c = y.dim(3);
  Tensor x(DType::kFloat, {n, c, h, w});
  for (int64_t i = 0; i < n * c * h * w; ++i) {
    const int64_t b = i / (c * h * w), ch = i / (h * w) % c, p = i % (h * w);
    x.data<float>()[i] = y.data<float>()[(b * h * w + p) * c + ch];
  }
  return x;
}

// Runs one NhwcConv node with W (input 1) constant when `constant_w`, on `threads` threads.
Tensor run_nhwc(const std::vector<Attribute>& attrs, const std::vector<Tensor>& inputs, bool constant_w, int threads) {
  Node node = make_node("NhwcConv", 1, attrs, inputs.size(), 1);
  node.domain = "com.tessera";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) node.inputs[i] = "";
  }
  const OpRegistration* reg = OpRegistry::instance().find("com.tessera", "NhwcConv", 1);
  EXPECT_NE(reg, nullptr);
  std::vector<TypeInfo> types;
  std::vector<const Tensor*> constants(inputs.size(), nullptr);
  for (const Tensor& t : inputs)
    types.push_back(t.defined() ? TypeInfo::tensor_of_shape(t.dtype(), t.shape()) : TypeInfo{});
  if (constant_w) constants[1] = &inputs[1];
  KernelInfo info{node, 1, types, {}, constants, {}};
  std::unique_ptr<Kernel> kernel = reg->factory(info);
  std::vector<RuntimeValue> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool consumed = info.consumed_constant_input(i);
    values.emplace_back(inputs[i].defined() && !consumed ? RuntimeValue(inputs[i]) : RuntimeValue());
    if (consumed) node.inputs[i] = "";
  }
  std::vector<const RuntimeValue*> ptrs;
  for (const RuntimeValue& v : values) ptrs.push_back(&v);
  std::vector<RuntimeValue> outputs(1);
  ThreadPool pool(threads);
  KernelContext ctx(node, ptrs, outputs, pool, {});
  kernel->compute(ctx);
  return outputs[0].tensor();
}

struct Case {
  const char* what;
  int64_t n, c, m, size, kernel, group, stride, pad, dilation;
  bool nchw_input, nchw_output, with_z;
};

void check_case(const Case& k) {
  const Tensor x = random_float({k.n, k.c, k.size, k.size}, 1);
  const Tensor w = random_float({k.m, k.c / k.group, k.kernel, k.kernel}, 2, -0.5f, 0.5f);
  const Tensor b = random_float({k.m}, 3);
  std::vector<Attribute> conv_attrs{int_attr("group", k.group), ints_attr("strides", {k.stride, k.stride}),
                                    ints_attr("pads", {k.pad, k.pad, k.pad, k.pad}),
                                    ints_attr("dilations", {k.dilation, k.dilation})};
  const Tensor reference_conv = run_op("Conv", 11, conv_attrs, {x, w, b})[0];
  Tensor z;
  Tensor expected(DType::kFloat, reference_conv.shape());
  if (k.with_z) z = random_float(reference_conv.shape(), 4);
  for (int64_t i = 0; i < expected.element_count(); ++i) {
    const float r = reference_conv.data<float>()[i] + (k.with_z ? z.data<float>()[i] : 0.0f);
    expected.data<float>()[i] = std::min(6.0f, std::max(0.0f, r));
  }
  std::vector<Attribute> attrs = conv_attrs;
  attrs.push_back(string_attr("activation", "Clip"));
  Attribute params;
  params.name = "activation_params";
  params.type = Attribute::Type::kFloats;
  params.floats = {0.0f, 6.0f};
  attrs.push_back(params);
  attrs.push_back(int_attr("nchw_input", k.nchw_input ? 1 : 0));
  attrs.push_back(int_attr("nchw_output", k.nchw_output ? 1 : 0));
  const Tensor x_in = k.nchw_input ? x : to_last(x);
  const Tensor z_in = !k.with_z ? Tensor() : (k.nchw_output ? z : to_last(z));
  for (bool constant_w : {true, false}) {
    for (int threads : {1, 2}) {
      std::vector<Tensor> inputs{x_in, w, b};
      if (k.with_z) inputs.push_back(z_in);
      const Tensor y = run_nhwc(attrs, inputs, constant_w, threads);
      const Tensor y_first = k.nchw_output ? y : to_first(y);
      ASSERT_EQ(y_first.shape(), expected.shape()) << k.what;
      for (int64_t i = 0; i < expected.element_count(); ++i) {
        const float e = expected.data<float>()[i];
        ASSERT_NEAR(y_first.data<float>()[i], e, 1e-4 * (1.0 + std::fabs(e)))
            << k.what << " constant W " << constant_w << " threads " << threads << " element " << i;
      }
    }
  }
}

TEST(NhwcConvTest, MatchesConvOnEveryPath) {
  const Case cases[] = {
      {"pointwise", 1, 24, 40, 7, 1, 1, 1, 0, 1, false, false, true},
      {"pointwise batch 2", 2, 17, 33, 5, 1, 1, 1, 0, 1, false, false, false},
      {"pointwise strided", 2, 16, 20, 9, 1, 1, 2, 0, 1, false, false, true},
      {"pointwise nchw in", 2, 24, 40, 14, 1, 1, 1, 0, 1, true, false, true},
      {"pointwise nchw out", 2, 40, 24, 7, 1, 1, 1, 0, 1, false, true, true},
      {"pointwise nchw both strided", 1, 12, 20, 11, 1, 1, 2, 0, 1, true, true, true},
      {"depthwise", 2, 40, 40, 7, 3, 40, 1, 1, 1, false, false, true},
      {"depthwise strided dilated", 1, 72, 72, 14, 3, 72, 2, 2, 2, false, false, false},
      {"depthwise nchw in", 1, 16, 16, 6, 3, 16, 1, 1, 1, true, false, false},
      {"grouped 3x3", 2, 8, 12, 9, 3, 2, 2, 1, 1, false, false, true},
      {"dense 5x5 nchw out", 1, 6, 10, 8, 5, 1, 1, 2, 1, false, true, true},
  };
  for (const Case& k : cases) check_case(k);
}

// The strided pointwise path gathers channels-last positions on the pool into the caller's buffer: repeated, so
// the worker runs its share of the gather on most of the runs (it once wrote into its own, empty thread_local
// buffer instead, which only showed when the worker took its chunk rather than the caller).
TEST(NhwcConvTest, StridedPointwiseGatherOnTwoThreadsRepeatedly) {
  const Case strided{"pointwise strided, repeated", 2, 16, 20, 13, 1, 1, 2, 0, 1, false, false, false};
  for (int repeat = 0; repeat < 20; ++repeat) check_case(strided);
}

TEST(NhwcConvTest, RejectsMismatchedInputs) {
  const Tensor w = random_float({8, 4, 1, 1}, 2);
  EXPECT_EQ(error_code_of([&] {
              run_nhwc({}, {random_float({1, 5, 5, 3}, 1), w}, true, 1);
            }),
            ErrorCode::kInvalidArgument);  // 3 channels against W's 4
  EXPECT_EQ(error_code_of([&] {
              run_nhwc({}, {random_float({1, 5, 5, 4}, 1), w, Tensor(), random_float({1, 5, 5, 7}, 3)}, true, 1);
            }),
            ErrorCode::kInvalidArgument);  // Z of another shape
  EXPECT_EQ(error_code_of([&] {
              run_nhwc({}, {random_float({5, 5, 4}, 1), w}, false, 1);
            }),
            ErrorCode::kInvalidArgument);  // rank 3
}

}  // namespace
}  // namespace tessera

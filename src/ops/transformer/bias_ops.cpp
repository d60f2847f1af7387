// com.microsoft BiasAdd and BiasSoftmax (ONNX Runtime's contrib ops for diffusion and transformer models; float).
//   BiasAdd(X [N, S, C], bias [C], skip [N, S, C]) = (X + bias) + skip.
//   BiasSoftmax(data, bias), attributes axis (1) and is_inner_broadcast (required): softmax over the dims from
//   `axis` on (flattened) of data + bias, where bias holds B = bias.size / E rows of E = the softmax size, and data
//   row r (of R) reads bias row r / (R / B) when is_inner_broadcast (bias repeats over the inner batch dims), else
//   r % B (over the outer ones), as ONNX Runtime indexes it.
#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

#include "base/lazy_text.h"
#include "kernels/f32-vexact/f32-vexact.h"
#include "ops/common/op_utils.h"
#include "ops/reduction/reduce_util.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_bias_add(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& bias = ctx.input(1);
    const Tensor& skip = ctx.input(2);
    check_argument(x.dtype() == DType::kFloat && x.rank() == 3, "BiasAdd: X ", tensor_text(x),
                   " must be float [N, S, C]");
    check_argument(bias.dtype() == DType::kFloat && bias.rank() == 1 && bias.dim(0) == x.dim(2), "BiasAdd: bias ",
                   tensor_text(bias), " must be float [C] for X ", tensor_text(x));
    check_argument(skip.dtype() == DType::kFloat && skip.shape() == x.shape(), "BiasAdd: skip ", tensor_text(skip),
                   " must have X's shape ", shape_text(x.shape()));
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, x.shape());
    const int64_t channels = x.dim(2), rows = x.dim(0) * x.dim(1);
    const float* xd = x.data<float>();
    const float* bd = bias.data<float>();
    const float* sd = skip.data<float>();
    float* yd = y.data<float>();
    ctx.parallelism().parallel_for(rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        for (int64_t c = 0; c < channels; ++c)
          yd[r * channels + c] = (xd[r * channels + c] + bd[c]) + sd[r * channels + c];
      }
    });
  });
}

std::unique_ptr<Kernel> make_bias_softmax(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", 1);
  const bool inner = info.node.attr_int("is_inner_broadcast", 0) != 0;
  return make_kernel([axis_attr, inner](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& bias = ctx.input(1);
    check_argument(x.dtype() == DType::kFloat && bias.dtype() == DType::kFloat, "BiasSoftmax: data ", tensor_text(x),
                   " and bias ", tensor_text(bias), " must be float");
    const int64_t axis = normalize_axis(axis_attr, static_cast<int64_t>(x.rank()));
    const int64_t size = tensor_ops::product(x.shape(), static_cast<size_t>(axis), x.rank());
    const int64_t rows = tensor_ops::product(x.shape(), 0, static_cast<size_t>(axis));
    const int64_t bias_rows = size > 0 ? bias.element_count() / size : 0;
    check_argument(size > 0 && bias.element_count() == bias_rows * size && bias_rows > 0 && rows % bias_rows == 0,
                   "BiasSoftmax: bias ", tensor_text(bias), " must hold a divisor of the ", rows, " rows of data ",
                   tensor_text(x), " (softmax over ", size, " values from axis ", axis, ")");
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, x.shape());
    const float* xd = x.data<float>();
    const float* bd = bias.data<float>();
    float* yd = y.data<float>();
    const int64_t repeat = rows / bias_rows;
    ctx.parallelism().parallel_for(rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* b = bd + (inner ? r / repeat : r % bias_rows) * size;
        const float* in = xd + r * size;
        float* out = yd + r * size;
        vbinary_f32(VBinaryOpF32::kAdd, in, 1, b, 1, out, size);  // the Add operator's loop
        softmax_row_f32(out, out, size, false);                   // the Softmax kernel's row: Add + Softmax's bits
      }
    });
  });
}

const RegisterOp kBiasAdd{{.domain = kMicrosoftDomain,
                           .op_type = "BiasAdd",
                           .since_version = 1,
                           .last_version = INT_MAX,
                           .factory = make_bias_add,
                           .infer = infer_same_as_input}};
const RegisterOp kBiasSoftmax{{.domain = kMicrosoftDomain,
                               .op_type = "BiasSoftmax",
                               .since_version = 1,
                               .last_version = INT_MAX,
                               .factory = make_bias_softmax,
                               .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

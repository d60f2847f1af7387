// com.microsoft QLinearSigmoid and QLinearLeakyRelu: Y = quantize(f(dequantize(X))) element by element over int8 or
// uint8, through a 256-entry table built once per run from the scales and zero points (as ONNX Runtime's lookup
// table kernels): Sigmoid(x) = 1 / (1 + exp(-x)); LeakyRelu(x) = x >= 0 ? x : alpha * x (attribute alpha, 0.01).
#include <climits>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/quantization/quant_params.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using qlinear::QuantParam;

std::unique_ptr<Kernel> make_lookup(const char* op, std::function<float(float)> f) {
  return make_kernel([op, f](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(qlinear::is_q8(x.dtype()), op, ": input X ", tensor_text(x), " must be int8 or uint8");
    const QuantParam in = qlinear::read_param(ctx, 1, 2, x.dtype(), "X");
    const QuantParam out = qlinear::read_param(ctx, 3, 4, x.dtype(), "Y");
    uint8_t table[256];
    qlinear::build_lookup_table(in, out, x.dtype() == DType::kInt8, f, table);
    Tensor& y = ctx.allocate_output_uninitialized(0, x.dtype(), x.shape());
    qlinear::apply_lookup_table(table, static_cast<const uint8_t*>(x.raw_data()), x.element_count(),
                                static_cast<uint8_t*>(y.raw_data()), ctx.parallelism());
  });
}

std::unique_ptr<Kernel> make_qlinear_sigmoid(const KernelInfo&) {
  return make_lookup("QLinearSigmoid", [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
}

std::unique_ptr<Kernel> make_qlinear_leaky_relu(const KernelInfo& info) {
  const float alpha = info.node.attr_float("alpha", 0.01f);
  return make_lookup("QLinearLeakyRelu", [alpha](float v) { return v >= 0.0f ? v : v * alpha; });
}

const RegisterOp kQLinearSigmoid{{.domain = kMicrosoftDomain,
                                  .op_type = "QLinearSigmoid",
                                  .since_version = 1,
                                  .last_version = INT_MAX,
                                  .factory = make_qlinear_sigmoid,
                                  .infer = infer_same_as_input}};
const RegisterOp kQLinearLeakyRelu{{.domain = kMicrosoftDomain,
                                    .op_type = "QLinearLeakyRelu",
                                    .since_version = 1,
                                    .last_version = INT_MAX,
                                    .factory = make_qlinear_leaky_relu,
                                    .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

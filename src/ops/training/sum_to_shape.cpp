// com.tessera SumToShapeOf(X, Like): X summed over the dimensions along which Like broadcasts to X's shape, giving
// Like's shape (the reverse of NumPy broadcasting): the gradient of a broadcast operand, which the Gradient
// expansion (passes/gradient_expansion.h) writes. float and double.
#include <climits>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

std::unique_ptr<Kernel> make_sum_to_shape_of(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& like = ctx.input(1);
    check_argument(x.dtype() == DType::kFloat || x.dtype() == DType::kDouble, "SumToShapeOf: X ", tensor_text(x),
                   " must be float or double");
    check_argument(broadcast_shape(like.shape(), x.shape()) == x.shape(), "SumToShapeOf: ", tensor_text(like),
                   " does not broadcast to X ", tensor_text(x));
    Tensor& y = ctx.allocate_output(0, x.dtype(), like.shape());
    const std::vector<int64_t> strides[1] = {broadcast_strides(like.shape(), x.shape())};
    const auto sum = [&](auto* out, const auto* in) {
      for_each_broadcast(x.shape(), strides, [&](int64_t i, const int64_t* o) { out[o[0]] += in[i]; });
    };
    if (x.dtype() == DType::kFloat) {
      sum(y.data<float>(), x.data<float>());
    } else {
      sum(y.data<double>(), x.data<double>());
    }
  });
}

void infer_sum_to_shape_of(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  const TypeInfo* like = context.input_type(1);
  if (x == nullptr || !x->is_tensor()) return;
  TypeInfo out = TypeInfo::tensor(x->elem_type);
  if (like != nullptr && like->is_tensor()) out.shape = like->shape;
  context.set_output_type(0, out);
}

const RegisterOp kSumToShapeOf{{.domain = kTesseraDomain,
                                .op_type = "SumToShapeOf",
                                .since_version = 1,
                                .last_version = INT_MAX,
                                .factory = make_sum_to_shape_of,
                                .infer = infer_sum_to_shape_of}};

}  // namespace
}  // namespace tessera

// PRelu: Y = X < 0 ? slope * X : X, with slope broadcast to X's shape (unidirectional broadcasting, opset 7+).
// Before opset 7 the slope was one value or one per channel; a 1-D slope of X's channel count that does not
// broadcast from the right is applied along axis 1 (PyTorch's per-channel PReLU exported without unsqueeze).
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"

namespace tessera {
namespace {

using namespace elementwise;

// The shape slope is read with: its own when it broadcasts to X, [C, 1, ..., 1] for a per-channel 1-D slope.
std::vector<int64_t> slope_shape(const Tensor& x, const Tensor& slope) {
  const std::vector<int64_t>& xs = x.shape();
  const std::vector<int64_t>& ss = slope.shape();
  bool broadcasts = ss.size() <= xs.size();
  for (size_t i = 0; i < ss.size() && broadcasts; ++i) {
    const int64_t s = ss[ss.size() - 1 - i];
    broadcasts = s == 1 || s == xs[xs.size() - 1 - i];
  }
  if (broadcasts) return ss;
  if (ss.size() == 1 && xs.size() >= 2 && ss[0] == xs[1]) {
    std::vector<int64_t> per_channel(xs.size() - 1, 1);
    per_channel[0] = ss[0];
    return per_channel;
  }
  fail(ErrorCode::kInvalidArgument, "slope ", slope.description(), " does not broadcast to X ", x.description());
}

std::unique_ptr<Kernel> make_prelu(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& slope_input = ctx.input(1);
    check_argument(x.dtype() == slope_input.dtype(), "X ", tensor_text(x), " and slope ", tensor_text(slope_input),
                   " must have one element type");
    const Tensor slope = slope_input.reshaped(slope_shape(x, slope_input));
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.shape());
    visit_types<kNumericTypes>(x.dtype(), "input 'X'", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = Compute<T>;
      broadcast_binary<T, T, T>(x, slope, y, ctx.parallelism(), kCheapGrain, [](T v, T s) {
        const C c = load(v);
        return store<T>(fast_math::select(c < C(0), static_cast<C>(load(s) * c), c));
      });
    });
  });
}

const RegisterOp kPRelu{{.op_type = "PRelu",
                         .since_version = 1,
                         .last_version = INT_MAX,
                         .factory = make_prelu,
                         .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera

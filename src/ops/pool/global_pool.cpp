// GlobalAveragePool, GlobalMaxPool and GlobalLpPool (opsets 1-22+): one value per (n, c) plane, reduced over
// every spatial element. float16/bfloat16 compute through float.
#include <climits>
#include <cmath>
#include <limits>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/pool/float_staging.h"
#include "ops/pool/pool_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

enum class GlobalKind { kAverage, kMax, kLp };

template <typename T>
T reduce_plane(const T* x, int64_t n, GlobalKind kind, T p) {
  switch (kind) {
    case GlobalKind::kAverage: {
      // Four partial sums: independent chains the compiler can keep in flight (and fewer rounding steps).
      T s[4] = {0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 4 <= n; i += 4) {
        s[0] += x[i];
        s[1] += x[i + 1];
        s[2] += x[i + 2];
        s[3] += x[i + 3];
      }
      for (; i < n; ++i) s[0] += x[i];
      return n > 0 ? ((s[0] + s[1]) + (s[2] + s[3])) / static_cast<T>(n) : std::numeric_limits<T>::quiet_NaN();
    }
    case GlobalKind::kMax: {
      if (n == 0) return std::numeric_limits<T>::lowest();
      T best = x[0];
      for (int64_t i = 1; i < n; ++i) {
        if (x[i] > best || (x[i] != x[i] && best == best)) best = x[i];
      }
      return best;
    }
    case GlobalKind::kLp: {
      T sum = 0;
      if (p == T(2)) {
        for (int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
        return std::sqrt(sum);
      }
      for (int64_t i = 0; i < n; ++i) sum += std::pow(std::abs(x[i]), p);
      return std::pow(sum, T(1) / p);
    }
  }
  return 0;
}

struct GlobalPoolConfig {
  GlobalKind kind;
  double p;
  const char* op_name;
};

std::unique_ptr<Kernel> make_global_kernel(GlobalPoolConfig config) {
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    const DType dtype = input.dtype();
    check_argument(dtype == DType::kFloat || dtype == DType::kDouble || is_staged_float(dtype), config.op_name,
                   " does not support input X of type ", tensor_text(input));
    check_argument(input.rank() >= 2, config.op_name, " expects input X of rank >= 2 [N, C, ...], got ",
                   tensor_text(input));
    std::vector<int64_t> out_shape(input.rank(), 1);
    out_shape[0] = input.dim(0);
    out_shape[1] = input.dim(1);
    const int64_t planes = input.dim(0) * input.dim(1);
    const int64_t plane_size = planes > 0 ? input.element_count() / planes : 0;
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), out_shape);
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        const T* xd = x.data<T>();
        T* yd = y.data<T>();
        ctx.parallelism().parallel_for(planes, [&](int64_t begin, int64_t end) {
          for (int64_t plane = begin; plane < end; ++plane) {
            yd[plane] = reduce_plane<T>(xd + plane * plane_size, plane_size, config.kind, static_cast<T>(config.p));
          }
        });
      }
    });
    finish_staged_output(ctx, 0, y, dtype);
  });
}

std::unique_ptr<Kernel> make_global_average_pool(const KernelInfo&) {
  return make_global_kernel({GlobalKind::kAverage, 0, "GlobalAveragePool"});
}
std::unique_ptr<Kernel> make_global_max_pool(const KernelInfo&) {
  return make_global_kernel({GlobalKind::kMax, 0, "GlobalMaxPool"});
}
std::unique_ptr<Kernel> make_global_lp_pool(const KernelInfo& info) {
  // p: a float in opset 1, an int from opset 2 (either is accepted).
  const double p = info.node.attr_float("p", 2.0f);
  check_model(p > 0 && std::isfinite(p), info.node.label(), ": p must be positive, got ", p);
  return make_global_kernel({GlobalKind::kLp, p, "GlobalLpPool"});
}

// Versions: 1 and 22 (bfloat16) for all three; GlobalLpPool also 2 (p became an int).
const RegisterOp kGlobalAveragePool1{{.op_type = "GlobalAveragePool",
                                      .since_version = 1,
                                      .last_version = 21,
                                      .factory = make_global_average_pool,
                                      .infer = infer_global_pool}};
const RegisterOp kGlobalAveragePool22{{.op_type = "GlobalAveragePool",
                                       .since_version = 22,
                                       .last_version = INT_MAX,
                                       .factory = make_global_average_pool,
                                       .infer = infer_global_pool}};
const RegisterOp kGlobalMaxPool1{{.op_type = "GlobalMaxPool",
                                  .since_version = 1,
                                  .last_version = 21,
                                  .factory = make_global_max_pool,
                                  .infer = infer_global_pool}};
const RegisterOp kGlobalMaxPool22{{.op_type = "GlobalMaxPool",
                                   .since_version = 22,
                                   .last_version = INT_MAX,
                                   .factory = make_global_max_pool,
                                   .infer = infer_global_pool}};
const RegisterOp kGlobalLpPool1{{.op_type = "GlobalLpPool",
                                 .since_version = 1,
                                 .last_version = 1,
                                 .factory = make_global_lp_pool,
                                 .infer = infer_global_pool}};
const RegisterOp kGlobalLpPool2{{.op_type = "GlobalLpPool",
                                 .since_version = 2,
                                 .last_version = 21,
                                 .factory = make_global_lp_pool,
                                 .infer = infer_global_pool}};
const RegisterOp kGlobalLpPool22{{.op_type = "GlobalLpPool",
                                  .since_version = 22,
                                  .last_version = INT_MAX,
                                  .factory = make_global_lp_pool,
                                  .infer = infer_global_pool}};

}  // namespace
}  // namespace tessera

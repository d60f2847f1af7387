// AveragePool (opsets 1-22+) and LpPool (opsets 1-22+): sums over each window, divided by the window's element
// count (AveragePool) or taken to the power 1/p (LpPool). float16/bfloat16 compute through float.
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
#include "ops/pool/float_staging.h"
#include "ops/pool/pool_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

enum class SumKind { kAverage, kLp };

// Sums a window (of |x|^p for LpPool) and turns the sum into the output value.
template <typename T, SumKind kKind>
struct SumReducer {
  const T* x;
  T* y;
  T p;                     // LpPool exponent
  int64_t fixed_divisor;   // > 0: AveragePool with count_include_pad divides by the whole kernel
  T sum = 0;

  void begin() { sum = 0; }
  void add(int64_t offset) {
    const T v = x[offset];
    if constexpr (kKind == SumKind::kAverage) {
      sum += v;
    } else if (p == T(2)) {
      sum += v * v;
    } else if (p == T(1)) {
      sum += std::abs(v);
    } else {
      sum += std::pow(std::abs(v), p);
    }
  }
  void finish(int64_t o, int64_t count) {
    if constexpr (kKind == SumKind::kAverage) {
      const int64_t divisor = fixed_divisor > 0 ? fixed_divisor : count;
      // A window with no element (possible only with pads >= kernel) averages nothing: NaN, as 0/0.
      y[o] = divisor > 0 ? sum / static_cast<T>(divisor) : std::numeric_limits<T>::quiet_NaN();
    } else if (p == T(2)) {
      y[o] = std::sqrt(sum);
    } else if (p == T(1)) {
      y[o] = sum;
    } else {
      y[o] = std::pow(sum, T(1) / p);
    }
  }
};

struct SumPoolConfig {
  PoolAttributes attrs;
  SumKind kind = SumKind::kAverage;
  bool count_include_pad = false;
  double p = 2;
  const char* op_name = "AveragePool";
};

template <typename T, SumKind kKind>
void sum_pool_typed(const SumPoolConfig& config, const PoolGeometry& g, const Tensor& x, Tensor& y,
                    Parallelism& parallelism) {
  const std::vector<AxisWindows> windows = make_axis_windows(g);
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  const int64_t fixed_divisor = config.count_include_pad ? g.kernel_size : 0;
  parallelism.parallel_for(x.dim(0) * x.dim(1), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      SumReducer<T, kKind> r{xd + plane * g.input_size, yd + plane * g.output_size, static_cast<T>(config.p),
                             fixed_divisor};
      pool_plane(g, windows, r);
    }
  });
}

std::unique_ptr<Kernel> make_sum_pool_kernel(SumPoolConfig config) {
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    const DType dtype = input.dtype();
    check_argument(dtype == DType::kFloat || dtype == DType::kDouble || is_staged_float(dtype), config.op_name,
                   " does not support input X of type ", input.description());
    const PoolGeometry g = resolve_pool_geometry(config.attrs, input, config.op_name);
    const Tensor x = widen_to_float(input);
    Tensor y(x.dtype(), pool_output_shape(input, g));
    const bool average = config.kind == SumKind::kAverage;
    if (x.dtype() == DType::kDouble) {
      if (average) sum_pool_typed<double, SumKind::kAverage>(config, g, x, y, ctx.parallelism());
      else sum_pool_typed<double, SumKind::kLp>(config, g, x, y, ctx.parallelism());
    } else {
      if (average) sum_pool_typed<float, SumKind::kAverage>(config, g, x, y, ctx.parallelism());
      else sum_pool_typed<float, SumKind::kLp>(config, g, x, y, ctx.parallelism());
    }
    ctx.set_output(0, narrow_from_float(y, dtype));
  });
}

std::unique_ptr<Kernel> make_average_pool(const KernelInfo& info) {
  SumPoolConfig config;
  config.attrs = parse_pool_attributes(info.node);
  config.count_include_pad = info.node.attr_int("count_include_pad", 0) != 0;
  return make_sum_pool_kernel(config);
}

// The LpPool exponent: a float attribute in opset 1, an int from opset 2 (either is accepted).
double parse_p(const Node& node) {
  const double p = node.attr_float("p", 2.0f);
  check_model(p > 0 && std::isfinite(p), node.label(), ": p must be positive, got ", p);
  return p;
}

std::unique_ptr<Kernel> make_lp_pool(const KernelInfo& info) {
  SumPoolConfig config;
  config.attrs = parse_pool_attributes(info.node);
  config.kind = SumKind::kLp;
  config.p = parse_p(info.node);
  config.op_name = "LpPool";
  return make_sum_pool_kernel(config);
}

// AveragePool versions: 1, 7 (count_include_pad), 10 (ceil_mode), 11 (pads clarified), 19 (dilations),
// 22 (bfloat16).
const RegisterOp kAveragePool1{{.op_type = "AveragePool", .since_version = 1, .last_version = 6,
                                .factory = make_average_pool, .infer = infer_pool}};
const RegisterOp kAveragePool7{{.op_type = "AveragePool", .since_version = 7, .last_version = 9,
                                .factory = make_average_pool, .infer = infer_pool}};
const RegisterOp kAveragePool10{{.op_type = "AveragePool", .since_version = 10, .last_version = 10,
                                 .factory = make_average_pool, .infer = infer_pool}};
const RegisterOp kAveragePool11{{.op_type = "AveragePool", .since_version = 11, .last_version = 18,
                                 .factory = make_average_pool, .infer = infer_pool}};
const RegisterOp kAveragePool19{{.op_type = "AveragePool", .since_version = 19, .last_version = 21,
                                 .factory = make_average_pool, .infer = infer_pool}};
const RegisterOp kAveragePool22{{.op_type = "AveragePool", .since_version = 22, .last_version = INT_MAX,
                                 .factory = make_average_pool, .infer = infer_pool}};

// LpPool versions: 1 (float p), 2 (int p), 11 (pads clarified), 18 (ceil_mode, dilations), 22 (bfloat16).
const RegisterOp kLpPool1{{.op_type = "LpPool", .since_version = 1, .last_version = 1,
                           .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool2{{.op_type = "LpPool", .since_version = 2, .last_version = 10,
                           .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool11{{.op_type = "LpPool", .since_version = 11, .last_version = 17,
                            .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool18{{.op_type = "LpPool", .since_version = 18, .last_version = 21,
                            .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool22{{.op_type = "LpPool", .since_version = 22, .last_version = INT_MAX,
                            .factory = make_lp_pool, .infer = infer_pool}};

}  // namespace
}  // namespace tessera

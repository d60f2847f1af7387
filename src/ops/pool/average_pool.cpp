// AveragePool (opsets 1-22+) and LpPool (opsets 1-22+): sums over each window, divided by the window's element
// count (AveragePool) or taken to the power 1/p (LpPool). float16/bfloat16 compute through float.
#include <algorithm>
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/pool/float_staging.h"
#include "ops/pool/pool_common.h"
#include "ops/quantization/quant_params.h"
#include "ops/registry.h"

namespace tessera {
namespace {

enum class SumKind { kAverage, kLp };

struct SumPoolConfig {
  PoolAttributes attrs;
  SumKind kind = SumKind::kAverage;
  bool count_include_pad = false;
  double p = 2;
  const char* op_name = "AveragePool";
};

// |v|^p, with the common exponents spelled out.
template <typename T>
T lp_power(T v, T p) {
  if (p == T(2)) return v * v;
  if (p == T(1)) return std::abs(v);
  return std::pow(std::abs(v), p);
}

template <typename T>
T lp_root(T sum, T p) {
  if (p == T(2)) return std::sqrt(sum);
  if (p == T(1)) return sum;
  return std::pow(sum, T(1) / p);
}

template <typename T>
void sum_pool_typed(const SumPoolConfig& config, const PoolGeometry& g, const Tensor& x, Tensor& y,
                    Parallelism& parallelism) {
  const std::vector<AxisWindows> windows = make_axis_windows(g);
  const T* xd = x.data<T>();
  T* yd = y.data<T>();
  const T p = static_cast<T>(config.p);
  parallelism.parallel_for(x.dim(0) * x.dim(1), [&](int64_t begin, int64_t end) {
    std::vector<T> scratch, powered;
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* src = xd + plane * g.input_size;
      T* dst = yd + plane * g.output_size;
      if (config.kind == SumKind::kAverage) {
        pool_plane_separable<T, PoolCombine::kAverage>(g, windows, config.count_include_pad, src, dst, scratch);
        continue;
      }
      // LpPool: padding adds nothing to the sum of |x|^p, so the pads need no special care.
      powered.resize(static_cast<size_t>(g.input_size));
      for (int64_t i = 0; i < g.input_size; ++i) powered[i] = lp_power(src[i], p);
      pool_plane_separable<T, PoolCombine::kSum>(g, windows, false, powered.data(), dst, scratch);
      for (int64_t o = 0; o < g.output_size; ++o) dst[o] = lp_root(dst[o], p);
    }
  });
}

std::unique_ptr<Kernel> make_sum_pool_kernel(SumPoolConfig config) {
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    const DType dtype = input.dtype();
    check_argument(dtype == DType::kFloat || dtype == DType::kDouble || is_staged_float(dtype), config.op_name,
                   " does not support input X of type ", tensor_text(input));
    const PoolGeometry g = resolve_pool_geometry(config.attrs, input, config.op_name);
    const Tensor x = widen_to_float(input);
    Tensor y = staged_output(ctx, 0, input.dtype(), pool_output_shape(input, g), /*writes_every_element=*/true);
    if (x.dtype() == DType::kDouble)
      sum_pool_typed<double>(config, g, x, y, ctx.parallelism());
    else
      sum_pool_typed<float>(config, g, x, y, ctx.parallelism());
    finish_staged_output(ctx, 0, y, dtype);
  });
}

std::unique_ptr<Kernel> make_average_pool(const KernelInfo& info) {
  SumPoolConfig config;
  config.attrs = parse_pool_attributes(info.node);
  config.count_include_pad = info.node.attr_int("count_include_pad", 0) != 0;
  return make_sum_pool_kernel(config);
}

// Sums the window's (x - x_zero_point) exactly and writes saturate(round_half_even(float(sum) * (x_scale / y_scale) /
// count) + y_zero_point). That order matches ONNX Runtime 1.31 bit for bit on NCHW uint8 with count_include_pad 0
// (with or without ceil_mode); in its int8 NHWC and count_include_pad forms some ties round the other way (one
// output step) and no float order tried here reproduces them.
template <typename T>
struct QLinearAverageReducer {
  const T* x;
  T* y;
  int32_t x_zero_point;
  float scale_ratio;  // x_scale / y_scale
  float y_zero_point;
  bool count_include_pad;
  int32_t sum = 0;

  void begin() { sum = 0; }
  void add(int64_t offset) { sum += static_cast<int32_t>(x[offset]) - x_zero_point; }
  void finish(int64_t o, int64_t count, int64_t padded_count) {
    const int64_t n = count_include_pad ? padded_count : count;
    const float q = n > 0 ? std::nearbyint(static_cast<float>(sum) * scale_ratio / static_cast<float>(n)) + y_zero_point
                          : y_zero_point;
    y[o] = static_cast<T>(qlinear::saturate_q8(q, std::is_same_v<T, int8_t>));
  }
};

// com.microsoft QLinearAveragePool(X, x_scale, x_zero_point, y_scale, y_zero_point): AveragePool (its attributes,
// count_include_pad, and channels_last for [N, spatial..., C]) over int8/uint8 X with QLinearAverageReducer's
// arithmetic.
std::unique_ptr<Kernel> make_qlinear_average_pool(const KernelInfo& info) {
  const PoolAttributes attrs = parse_pool_attributes(info.node);
  const bool count_include_pad = info.node.attr_int("count_include_pad", 0) != 0;
  const bool channels_last = info.node.attr_int("channels_last", 0) != 0;
  return make_kernel([attrs, count_include_pad, channels_last](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    check_argument(qlinear::is_q8(input.dtype()) && input.rank() >= 3, "QLinearAveragePool: input X ",
                   tensor_text(input), " must be int8 or uint8 of rank >= 3");
    const qlinear::QuantParam in = qlinear::read_param(ctx, 1, 2, input.dtype(), "X");
    const qlinear::QuantParam out = qlinear::read_param(ctx, 3, 4, input.dtype(), "Y");
    const Tensor x = channels_last ? channels_last_to_first(input, ctx.parallelism()) : input;
    const PoolGeometry g = resolve_pool_geometry(attrs, x, "QLinearAveragePool");
    Tensor y(input.dtype(), pool_output_shape(x, g));
    const std::vector<AxisWindows> windows = make_axis_windows(g);
    const auto run = [&](auto tag) {
      using T = decltype(tag);
      ctx.parallelism().parallel_for(x.dim(0) * x.dim(1), [&](int64_t begin, int64_t end) {
        for (int64_t plane = begin; plane < end; ++plane) {
          QLinearAverageReducer<T> r{x.data<T>() + plane * g.input_size,
                                     y.data<T>() + plane * g.output_size,
                                     static_cast<int32_t>(in.zero_point),
                                     in.scale / out.scale,
                                     out.zero_point,
                                     count_include_pad};
          pool_plane(g, windows, r);
        }
      });
    };
    if (input.dtype() == DType::kInt8) {
      run(int8_t{});
    } else {
      run(uint8_t{});
    }
    ctx.set_output(0, channels_last ? channels_first_to_last(y, ctx.parallelism()) : y);
  });
}

const RegisterOp kQLinearAveragePool{{.domain = kMicrosoftDomain,
                                      .op_type = "QLinearAveragePool",
                                      .since_version = 1,
                                      .last_version = INT_MAX,
                                      .factory = make_qlinear_average_pool,
                                      .infer = infer_pool_element_type}};

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
const RegisterOp kAveragePool1{{.op_type = "AveragePool",
                                .since_version = 1,
                                .last_version = 6,
                                .factory = make_average_pool,
                                .infer = infer_pool}};
const RegisterOp kAveragePool7{{.op_type = "AveragePool",
                                .since_version = 7,
                                .last_version = 9,
                                .factory = make_average_pool,
                                .infer = infer_pool}};
const RegisterOp kAveragePool10{{.op_type = "AveragePool",
                                 .since_version = 10,
                                 .last_version = 10,
                                 .factory = make_average_pool,
                                 .infer = infer_pool}};
const RegisterOp kAveragePool11{{.op_type = "AveragePool",
                                 .since_version = 11,
                                 .last_version = 18,
                                 .factory = make_average_pool,
                                 .infer = infer_pool}};
const RegisterOp kAveragePool19{{.op_type = "AveragePool",
                                 .since_version = 19,
                                 .last_version = 21,
                                 .factory = make_average_pool,
                                 .infer = infer_pool}};
const RegisterOp kAveragePool22{{.op_type = "AveragePool",
                                 .since_version = 22,
                                 .last_version = INT_MAX,
                                 .factory = make_average_pool,
                                 .infer = infer_pool}};

// LpPool versions: 1 (float p), 2 (int p), 11 (pads clarified), 18 (ceil_mode, dilations), 22 (bfloat16).
const RegisterOp kLpPool1{
    {.op_type = "LpPool", .since_version = 1, .last_version = 1, .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool2{
    {.op_type = "LpPool", .since_version = 2, .last_version = 10, .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool11{
    {.op_type = "LpPool", .since_version = 11, .last_version = 17, .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool18{
    {.op_type = "LpPool", .since_version = 18, .last_version = 21, .factory = make_lp_pool, .infer = infer_pool}};
const RegisterOp kLpPool22{
    {.op_type = "LpPool", .since_version = 22, .last_version = INT_MAX, .factory = make_lp_pool, .infer = infer_pool}};

}  // namespace
}  // namespace tessera

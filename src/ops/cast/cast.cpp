// Cast (opset 1+: `to` is a type name string in opset 1, a TensorProto.DataType from 6; `saturate` from 19;
// `round_mode` from 24) and CastLike (opset 15+: the target type is that of input 1). Every pair of element
// types is supported except complex numbers; conversions are described in cast_convert.h and cast_string.h.
#include <algorithm>
#include <cctype>
#include <climits>

#include "ops/cast/cast_convert.h"
#include "ops/cast/cast_string.h"
#include "ops/elementwise/elementwise_common.h"

namespace tessera {
namespace cast {

uint8_t encode_float8(DType dtype, float value, bool saturate) {
  const bool uz = dtype == DType::kFloat8E4M3FNUZ || dtype == DType::kFloat8E5M2FNUZ;
  const bool e5m2 = dtype == DType::kFloat8E5M2;
  const uint8_t sign = std::signbit(value) ? 0x80 : 0x00;
  const uint8_t nan_code = uz ? 0x80 : static_cast<uint8_t>((e5m2 ? 0x7E : 0x7F) | sign);
  if (std::isnan(value)) return nan_code;
  if (saturate) return float_to_narrow_float(dtype, value, true);
  if (std::isinf(value)) return e5m2 ? static_cast<uint8_t>(0x7C | sign) : nan_code;
  // Without saturation, a value past the largest finite one overflows unless it rounds (ties to even) down to it.
  const uint8_t max_code = (dtype == DType::kFloat8E4M3FN) ? 0x7E : (e5m2 ? 0x7B : 0x7F);
  const float max_value = narrow_float_to_float(dtype, max_code);
  const float magnitude = std::fabs(value);
  if (magnitude > max_value) {
    const float below = narrow_float_to_float(dtype, static_cast<uint8_t>(max_code - 1));
    const float half_ulp = (max_value - below) / 2;
    const bool overflows = magnitude > max_value + half_ulp || (magnitude == max_value + half_ulp && (max_code & 1));
    if (overflows) return e5m2 ? static_cast<uint8_t>(0x7C | sign) : nan_code;
  }
  return float_to_narrow_float(dtype, value, true);
}

uint8_t encode_float4(float value) {
  if (std::isnan(value)) return 0x8;
  return float_to_narrow_float(DType::kFloat4E2M1, value, true);
}

uint8_t encode_e8m0(float value, const CastOptions& options) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  uint32_t exponent = (bits >> 23) & 0xFF;
  const uint32_t mantissa = bits & 0x7FFFFF;
  if (exponent == 0xFF) return (mantissa == 0 && options.saturate) ? 0xFE : 0xFF;  // infinity, NaN
  bool round_up = false;
  if (options.round_mode == E8M0Rounding::kUp) {
    round_up = mantissa != 0;
  } else if (options.round_mode == E8M0Rounding::kNearest) {
    // Guard bit set and (round, sticky or the exponent's own last bit) set, as onnx.numpy_helper rounds.
    const bool guard = (mantissa & 0x400000) != 0;
    const bool rest = (mantissa & 0x3FFFFF) != 0;
    round_up = guard && (rest || exponent > 0);
  }
  if (round_up && !(options.saturate && exponent == 0xFE)) ++exponent;
  return static_cast<uint8_t>(exponent);
}

}  // namespace cast

namespace {

using cast::CastOptions;

// Maps a Cast-1 type name ("FLOAT", "INT64", ...) to its DType.
DType dtype_from_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (int32_t code = 1; code <= 26; ++code) {
    const DType dtype = static_cast<DType>(code);
    if (dtype_name(dtype) == name) return dtype;
  }
  fail(ErrorCode::kInvalidModel, "attribute 'to' names an unknown type \"", name, "\"");
}

void check_castable(DType dtype, const char* what) {
  if (dtype == DType::kComplex64 || dtype == DType::kComplex128 || dtype == DType::kUndefined) {
    fail(ErrorCode::kUnsupported, what, " of type ", dtype_name(dtype), " cannot be cast");
  }
}

template <typename S, typename D>
void convert_elements(const Tensor& input, Tensor& output, const CastOptions& options, Parallelism& parallelism) {
  const S* in = input.data<S>();
  D* out = output.data<D>();
  const int64_t count = input.element_count();
  if constexpr (std::is_same_v<S, std::string>) {
    // Serial: parsing throws on malformed text, which must not happen on a pool thread.
    for (int64_t i = 0; i < count; ++i) out[i] = cast::parse_element<D>(in[i], options);
  } else if constexpr (std::is_same_v<D, std::string>) {
    for (int64_t i = 0; i < count; ++i) out[i] = cast::format_element(in[i]);
  } else {
    elementwise::parallel_elements(parallelism, count, elementwise::kCheapGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[i] = cast::convert<S, D>(in[i], options);
    });
  }
}

void cast_tensor(KernelContext& ctx, const Tensor& input, DType to, const CastOptions& options) {
  check_castable(input.dtype(), "input");
  if (input.dtype() == to) {
    ctx.set_output(0, input);
    return;
  }
  Tensor& output = ctx.allocate_output(0, to, input.shape());
  visit_dtype(input.dtype(), [&](auto source_tag) {
    using S = typename decltype(source_tag)::type;
    visit_dtype(to, [&](auto target_tag) {
      using D = typename decltype(target_tag)::type;
      constexpr bool kSourceOk = cast::kIsCastable<S> || std::is_same_v<S, std::string>;
      constexpr bool kTargetOk = cast::kIsCastable<D> || std::is_same_v<D, std::string>;
      if constexpr (kSourceOk && kTargetOk && !std::is_same_v<S, D>) {
        convert_elements<S, D>(input, output, options, ctx.parallelism());
      }
    });
  });
}

CastOptions read_options(const KernelInfo& info) {
  CastOptions options;
  options.saturate = info.node.attr_int("saturate", 1) != 0;
  const std::string mode = info.node.attr_string("round_mode", "up");
  if (mode == "up")
    options.round_mode = cast::E8M0Rounding::kUp;
  else if (mode == "down")
    options.round_mode = cast::E8M0Rounding::kDown;
  else if (mode == "nearest")
    options.round_mode = cast::E8M0Rounding::kNearest;
  else
    fail(ErrorCode::kInvalidModel, "attribute 'round_mode' must be \"up\", \"down\" or \"nearest\", got \"", mode,
         "\"");
  return options;
}

// The target type of a Cast node (an int from opset 6, a type name in opset 1).
DType cast_target(const Node& node) {
  const Attribute& to = node.required_attribute("to");
  if (to.type == Attribute::Type::kString) return dtype_from_name(to.s);
  check_model(to.type == Attribute::Type::kInt, "attribute 'to' must be an int, got ", attribute_type_name(to.type));
  check_model(to.i >= 0 && to.i <= INT32_MAX && dtype_is_valid(static_cast<int32_t>(to.i)),
              "attribute 'to' is not a known element type: ", to.i);
  return static_cast<DType>(to.i);
}

std::unique_ptr<Kernel> make_cast(const KernelInfo& info) {
  const DType to = cast_target(info.node);
  check_castable(to, "attribute 'to'");
  const CastOptions options = read_options(info);
  return make_kernel([to, options](KernelContext& ctx) { cast_tensor(ctx, ctx.input(0), to, options); });
}

std::unique_ptr<Kernel> make_cast_like(const KernelInfo& info) {
  const CastOptions options = read_options(info);
  return make_kernel([options](KernelContext& ctx) {
    const DType to = ctx.input(1).dtype();
    check_castable(to, "input 'target_type'");
    cast_tensor(ctx, ctx.input(0), to, options);
  });
}

void infer_cast(InferenceContext& context) {
  const DType to = cast_target(context.node());
  const TypeInfo* input = context.input_type(0);
  if (input != nullptr && input->is_tensor())
    elementwise::infer_shape_of_input0(context, to);
  else
    context.set_output_type(0, TypeInfo::tensor(to));
}

void infer_cast_like(InferenceContext& context) {
  const TypeInfo* target = context.input_type(1);
  if (target == nullptr || !target->is_tensor()) return;
  elementwise::infer_shape_of_input0(context, target->elem_type);
}

const RegisterOp kCast{
    {.op_type = "Cast", .since_version = 1, .last_version = INT_MAX, .factory = make_cast, .infer = infer_cast}};
const RegisterOp kCastLike{{.op_type = "CastLike",
                            .since_version = 15,
                            .last_version = INT_MAX,
                            .factory = make_cast_like,
                            .infer = infer_cast_like}};

}  // namespace
}  // namespace tessera

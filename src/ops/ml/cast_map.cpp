// ai.onnx.ml CastMap (opset 1): a map from int64 to string or float becomes a [1, N] tensor of float, int64 or
// string, with ONNX Runtime's conversions (std::stof, std::stoll, std::to_string) and its SPARSE padding.
#include <climits>
#include <cmath>
#include <limits>
#include <memory>

#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

enum class CastTo { kFloat, kInt64, kString };

struct CastMapAttributes {
  CastTo cast_to = CastTo::kFloat;
  bool sparse = false;
  int64_t max_map = 1;
};

CastMapAttributes read_attributes(const Node& node) {
  CastMapAttributes a;
  const std::string cast_to = node.attr_string("cast_to", "TO_FLOAT");
  if (cast_to == "TO_FLOAT")
    a.cast_to = CastTo::kFloat;
  else if (cast_to == "TO_INT64")
    a.cast_to = CastTo::kInt64;
  else if (cast_to == "TO_STRING")
    a.cast_to = CastTo::kString;
  else
    fail(ErrorCode::kInvalidModel, node.label(), ": attribute 'cast_to' is '", cast_to,
         "', not TO_FLOAT, TO_INT64 or TO_STRING");
  const std::string map_form = node.attr_string("map_form", "DENSE");
  check_model(map_form == "DENSE" || map_form == "SPARSE", node.label(), ": attribute 'map_form' is '", map_form,
              "', not DENSE or SPARSE");
  a.sparse = map_form == "SPARSE";
  a.max_map = node.attr_int("max_map", 1);
  check_model(!a.sparse || a.max_map > 0, node.label(),
              ": attribute 'max_map' must be > 0 when 'map_form' is SPARSE, got ", a.max_map);
  return a;
}

DType output_dtype(CastTo cast_to) {
  return cast_to == CastTo::kFloat ? DType::kFloat : (cast_to == CastTo::kInt64 ? DType::kInt64 : DType::kString);
}

// One map value converted as ONNX Runtime converts it. Text that std::stof / std::stoll reject is an error here
// (ONNX Runtime lets the exception escape); a float outside int64 (or NaN) gives INT64_MIN, what x86's
// truncating conversion gives in ONNX Runtime's static_cast.
template <typename To>
To convert(const std::string& text) {
  try {
    if constexpr (std::is_same_v<To, float>)
      return std::stof(text);
    else if constexpr (std::is_same_v<To, int64_t>)
      return std::stoll(text);
    else
      return text;
  } catch (const std::logic_error&) {
    fail(ErrorCode::kInvalidArgument, "input 'X': map value '", text, "' cannot be converted to ",
         std::is_same_v<To, float> ? "float" : "int64");
  }
}
template <typename To>
To convert(float value) {
  if constexpr (std::is_same_v<To, float>) {
    return value;
  } else if constexpr (std::is_same_v<To, int64_t>) {
    const bool fits = value >= -9.2233720368547758e18f && value < 9.2233720368547758e18f;
    return fits ? static_cast<int64_t>(value) : std::numeric_limits<int64_t>::min();
  } else {
    return std::to_string(value);
  }
}

template <typename From, typename To>
void cast_map(const MapValue& map, const CastMapAttributes& a, To pad, KernelContext& ctx) {
  const int64_t size = a.sparse ? a.max_map : map.size();
  To* out = ctx.allocate_output(0, output_dtype(a.cast_to), {1, size}).template data<To>();
  const int64_t* keys = map.keys.data<int64_t>();
  const From* values = map.values.data<From>();
  if (!a.sparse) {
    for (int64_t i = 0; i < size; ++i) out[i] = convert<To>(values[i]);
    return;
  }
  check_argument(map.size() == 0 || keys[0] >= 0, "input 'X' ", map.description(),
                 ": SPARSE needs non-negative keys, the first is ", map.size() ? keys[0] : 0);
  // Keys are ascending: walk them beside the output positions; keys >= max_map are left out.
  int64_t next = 0;
  for (int64_t i = 0; i < size; ++i) {
    if (next < map.size() && keys[next] == i) {
      out[i] = convert<To>(values[next++]);
    } else {
      out[i] = pad;
    }
  }
}

template <typename From>
void cast_map_from(const MapValue& map, const CastMapAttributes& a, KernelContext& ctx) {
  switch (a.cast_to) {
    case CastTo::kFloat:
      cast_map<From, float>(map, a, 0.0f, ctx);
      break;
    case CastTo::kInt64:
      cast_map<From, int64_t>(map, a, 0, ctx);
      break;
    // "0.f" is ONNX Runtime's string padding, kept so outputs match it.
    case CastTo::kString:
      cast_map<From, std::string>(map, a, std::string("0.f"), ctx);
      break;
  }
}

std::unique_ptr<Kernel> make_cast_map(const KernelInfo& info) {
  const CastMapAttributes a = read_attributes(info.node);
  return make_kernel([a](KernelContext& ctx) {
    const MapValue& map = ctx.input_map(0);
    check_argument(map.keys.dtype() == DType::kInt64, "input 'X' ", map.description(), " must have int64 keys");
    if (map.values.dtype() == DType::kFloat) {
      cast_map_from<float>(map, a, ctx);
    } else if (map.values.dtype() == DType::kString) {
      cast_map_from<std::string>(map, a, ctx);
    } else {
      fail(ErrorCode::kInvalidArgument, "input 'X' ", map.description(), " must have float or string values");
    }
  });
}

void infer_cast_map(InferenceContext& ctx) {
  const CastMapAttributes a = read_attributes(ctx.node());
  const Dim size = a.sparse ? Dim::known(a.max_map) : Dim{};
  ctx.set_output_type(0, TypeInfo::tensor(output_dtype(a.cast_to), std::vector<Dim>{Dim::known(1), size}));
}

const RegisterOp kCastMap{ml_registration("CastMap", 1, INT_MAX, make_cast_map, infer_cast_map)};

}  // namespace
}  // namespace tessera

#include "compare/spec_undefined.h"

#include <cmath>

#include "base/dtype_dispatch.h"

namespace tessera {

namespace {

// [lowest, highest + 1) of an integer dtype; both bounds are exact doubles (0, -2^k or 2^k).
std::pair<double, double> integer_bounds(DType target) {
  switch (target) {
    case DType::kInt2:
      return {-2.0, 2.0};
    case DType::kUint2:
      return {0.0, 4.0};
    case DType::kInt4:
      return {-8.0, 8.0};
    case DType::kUint4:
      return {0.0, 16.0};
    case DType::kInt8:
      return {-128.0, 128.0};
    case DType::kUint8:
      return {0.0, 256.0};
    case DType::kInt16:
      return {-32768.0, 32768.0};
    case DType::kUint16:
      return {0.0, 65536.0};
    case DType::kInt32:
      return {-2147483648.0, 2147483648.0};
    case DType::kUint32:
      return {0.0, 4294967296.0};
    case DType::kInt64:
      return {-9223372036854775808.0, 9223372036854775808.0};
    case DType::kUint64:
      return {0.0, 18446744073709551616.0};
    default:
      break;
  }
  fail(ErrorCode::kInvalidArgument, "float_to_integer_is_defined: ", dtype_name(target), " is not an integer type");
}

const Node* producer_of(const Graph& graph, const std::string& value) {
  for (const auto& node : graph.nodes) {
    for (const std::string& output : node->outputs) {
      if (output == value) return node.get();
    }
  }
  return nullptr;
}

}  // namespace

bool float_to_integer_is_defined(double value, DType target) {
  const auto [lowest, past_highest] = integer_bounds(target);
  if (!std::isfinite(value)) return false;
  const double truncated = std::trunc(value);
  return truncated >= lowest && truncated < past_highest;
}

std::vector<uint8_t> spec_undefined_elements(const Graph& graph, const std::string& output_name,
                                             const std::map<std::string, const Tensor*>& feeds) {
  const Node* cast = producer_of(graph, output_name);
  if (cast == nullptr || !(cast->op_type == "Cast" || cast->op_type == "CastLike") || !cast->domain.empty()) return {};
  const TypeInfo* output_type = graph.find_type(output_name);
  if (output_type == nullptr || output_type->kind != TypeInfo::Kind::kTensor ||
      !dtype_is_integer(output_type->elem_type) || cast->inputs.empty()) {
    return {};
  }
  // Through Casts that only widen one float type into another (float16 -> float, as the optimizer's
  // float16_compute_in_float32 inserts them): the values reaching the integer Cast are the fed ones.
  std::string source = cast->inputs[0];
  for (const Node* widen = producer_of(graph, source);
       widen != nullptr && widen->op_type == "Cast" && widen->domain.empty() && !widen->inputs.empty() &&
       widen->attr_int("to", 0) == static_cast<int64_t>(DType::kFloat);
       widen = producer_of(graph, source)) {
    const TypeInfo* from = graph.find_type(widen->inputs[0]);
    const bool widening =
        from != nullptr && from->kind == TypeInfo::Kind::kTensor &&
        (from->elem_type == DType::kFloat16 || from->elem_type == DType::kBFloat16 || from->elem_type == DType::kFloat);
    if (!widening) break;
    source = widen->inputs[0];
  }
  const auto fed = feeds.find(source);
  if (fed == feeds.end() || fed->second == nullptr || !dtype_is_float(fed->second->dtype())) return {};
  const Tensor& input = *fed->second;
  const DType target = output_type->elem_type;
  std::vector<uint8_t> undefined(static_cast<size_t>(input.element_count()), 0);
  bool any = false;
  visit_dtype(input.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::string> && !std::is_same_v<T, std::complex<float>> &&
                  !std::is_same_v<T, std::complex<double>>) {
      const T* values = input.data<T>();
      for (size_t i = 0; i < undefined.size(); ++i) {
        if (!float_to_integer_is_defined(element_to_double(values[i]), target)) undefined[i] = 1, any = true;
      }
    }
  });
  if (!any) return {};
  return undefined;
}

}  // namespace tessera

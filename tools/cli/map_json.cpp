#include "map_json.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace tessera::cli {

namespace {

using nlohmann::json;

// The float's shortest decimal form, read back as a double, so 0.1f prints as 0.1 and not 0.100000001490116.
double shortest_double(float value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  double result = 0;
  std::from_chars(text, end, result);
  return result;
}

json element_json(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat:
      return shortest_double(t.data<float>()[i]);
    case DType::kDouble:
      return t.data<double>()[i];
    case DType::kInt64:
      return t.data<int64_t>()[i];
    case DType::kString:
      return t.data<std::string>()[i];
    default:
      break;
  }
  fail(ErrorCode::kInvalidArgument, "a map holding ", t.description(), " has no JSON form");
}

json map_json(const MapValue& map) {
  json out = json::object();
  for (int64_t i = 0; i < map.size(); ++i) {
    const std::string key = map.keys.dtype() == DType::kInt64 ? std::to_string(map.keys.data<int64_t>()[i])
                                                              : map.keys.data<std::string>()[i];
    out[key] = element_json(map.values, i);
  }
  return out;
}

// Parses a decimal int64 key; throws naming the source otherwise.
int64_t parse_int_key(const std::string& key, const std::string& source) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), value);
  check_argument(error == std::errc() && end == key.data() + key.size() && !key.empty(), source, ": map key '", key,
                 "' is not an int64");
  return value;
}

// Stores JSON value `item` as element i of `values`, whose element type the model declares.
void store_value(const json& item, Tensor& values, int64_t i, const std::string& key, const std::string& source) {
  const bool numeric = item.is_number();
  check_argument(values.dtype() == DType::kString ? item.is_string() : numeric, source, ": the value of key '", key,
                 "' is ", item.dump(), ", not a ", dtype_name(values.dtype()));
  switch (values.dtype()) {
    case DType::kFloat:
      values.data<float>()[i] = item.get<float>();
      break;
    case DType::kDouble:
      values.data<double>()[i] = item.get<double>();
      break;
    case DType::kInt64:
      check_argument(item.is_number_integer(), source, ": the value of key '", key, "' is ", item.dump(),
                     ", not an int64");
      values.data<int64_t>()[i] = item.get<int64_t>();
      break;
    default:
      values.data<std::string>()[i] = item.get<std::string>();
      break;
  }
}

}  // namespace

std::string map_to_json(const RuntimeValue& value, int indent) {
  if (value.is_map()) return map_json(value.map_value()).dump(indent);
  check_argument(value.is_map_sequence(), "value ", value.description(), " is not a map or a sequence of maps");
  json out = json::array();
  for (const MapValue& map : value.maps()) out.push_back(map_json(map));
  return out.dump(indent);
}

RuntimeValue map_from_json(const std::string& text, const TypeInfo& type, const std::string& source) {
  const DType key_type = type.elem_type;
  const DType value_type = type.element ? type.element->elem_type : DType::kUndefined;
  const bool supported_value = value_type == DType::kFloat || value_type == DType::kDouble ||
                               value_type == DType::kInt64 || value_type == DType::kString;
  check_argument(
      type.kind == TypeInfo::Kind::kMap && (key_type == DType::kInt64 || key_type == DType::kString) && supported_value,
      source, ": a JSON file feeds only map inputs, and this input is ", type.to_string());
  const json parsed = json::parse(text, nullptr, false);
  check_argument(!parsed.is_discarded() && parsed.is_object(), source, ": not a JSON object (", type.to_string(),
                 " is given as {\"key\": value, ...})");
  const auto size = static_cast<int64_t>(parsed.size());
  Tensor keys(key_type, {size});
  Tensor values(value_type, {size});
  int64_t i = 0;
  for (const auto& [key, item] : parsed.items()) {
    if (key_type == DType::kInt64) {
      keys.data<int64_t>()[i] = parse_int_key(key, source);
    } else {
      keys.data<std::string>()[i] = key;
    }
    store_value(item, values, i, key, source);
    ++i;
  }
  return RuntimeValue::map(MapValue::from_pairs(keys, values));
}

}  // namespace tessera::cli

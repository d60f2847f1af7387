#include "serve/tensor_codec.h"

#include <cstring>
#include <limits>
#include <type_traits>

#include "base/dtype_dispatch.h"
#include "base/float_types.h"
#include "serve/serve_error.h"

namespace tessera::serve {

namespace {

// Reads one BYTES element (4-byte little-endian length, then the bytes) at `offset`.
std::string read_bytes_element(std::string_view bytes, size_t& offset, const std::string& what) {
  if (bytes.size() - offset < 4) bad_request(what + ": BYTES data ends inside an element's 4-byte length");
  uint32_t length = 0;
  std::memcpy(&length, bytes.data() + offset, 4);
  offset += 4;
  if (bytes.size() - offset < length) {
    bad_request(what + ": BYTES element of " + std::to_string(length) + " bytes runs past the end of the data");
  }
  std::string element(bytes.data() + offset, length);
  offset += length;
  return element;
}

// Collects the leaves of a (possibly nested) JSON array in row-major order; stops early past `limit`.
void flatten_json(const nlohmann::json& node, std::vector<const nlohmann::json*>& leaves, size_t limit) {
  if (!node.is_array()) {
    leaves.push_back(&node);
    return;
  }
  for (const nlohmann::json& child : node) {
    if (leaves.size() > limit) return;
    flatten_json(child, leaves, limit);
  }
}

[[noreturn]] void wrong_element(const nlohmann::json& value, const std::string& what, size_t index,
                                const char* expected) {
  bad_request(what + ": element " + std::to_string(index) + " is " + value.dump() + ", expected " + expected);
}

template <typename T>
T json_element(const nlohmann::json& value, const std::string& what, size_t index) {
  auto wrong = [&](const char* expected) { wrong_element(value, what, index, expected); };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) wrong("a string");
    return value.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) wrong("true or false");
    return value.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!value.is_number_integer()) wrong("an integer");
    if constexpr (std::is_unsigned_v<T>) {
      if (value.is_number_unsigned()) {
        const uint64_t v = value.get<uint64_t>();
        if (v <= std::numeric_limits<T>::max()) return static_cast<T>(v);
      }
    } else {
      if (!value.is_number_unsigned() || value.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max())) {
        const int64_t v = value.get<int64_t>();
        if (v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max()) return static_cast<T>(v);
      }
    }
    wrong_element(value, what, index, "an integer in the datatype's range");
  } else {
    if (!value.is_number()) wrong("a number");
    const double v = value.get<double>();
    if constexpr (std::is_same_v<T, Float16>)
      return Float16{float_to_half(static_cast<float>(v))};
    else if constexpr (std::is_same_v<T, BFloat16>)
      return BFloat16{float_to_bfloat16(static_cast<float>(v))};
    else
      return static_cast<T>(v);
  }
}

template <typename T>
constexpr bool kProtocolType = std::is_arithmetic_v<T> || std::is_same_v<T, std::string> ||
                               std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

}  // namespace

int64_t request_element_count(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) bad_request(what + ": shape " + shape_to_string(shape) + " has a negative dim");
    if (dim != 0 && count > std::numeric_limits<int64_t>::max() / dim) {
      bad_request(what + ": shape " + shape_to_string(shape) + " overflows");
    }
    count *= dim;
  }
  return count;
}

Tensor tensor_from_binary(DType dtype, const std::vector<int64_t>& shape, std::string_view bytes,
                          const std::string& what) {
  const int64_t count = request_element_count(shape, what);
  if (dtype == DType::kString) {
    // Each element takes at least its 4-byte length: checked before allocating `count` strings.
    if (static_cast<uint64_t>(count) > bytes.size() / 4) {
      bad_request(what + ": " + std::to_string(bytes.size()) + " bytes cannot hold " + std::to_string(count) +
                  " BYTES elements of shape " + shape_to_string(shape));
    }
    Tensor tensor(dtype, shape);
    size_t offset = 0;
    for (int64_t i = 0; i < count; ++i) tensor.data<std::string>()[i] = read_bytes_element(bytes, offset, what);
    if (offset != bytes.size()) {
      bad_request(what + ": " + std::to_string(bytes.size() - offset) + " bytes left after the " +
                  std::to_string(count) + " BYTES elements of shape " + shape_to_string(shape));
    }
    return tensor;
  }
  const size_t expected = static_cast<size_t>(count) * dtype_size(dtype);
  if (bytes.size() != expected || (count > 0 && expected / static_cast<size_t>(count) != dtype_size(dtype))) {
    bad_request(what + ": got " + std::to_string(bytes.size()) + " bytes of data, shape " + shape_to_string(shape) +
                " of " + dtype_name(dtype) + " needs " + std::to_string(expected));
  }
  Tensor tensor = Tensor::uninitialized(dtype, shape);
  if (expected > 0) std::memcpy(tensor.raw_data(), bytes.data(), expected);
  if (dtype == DType::kBool) {
    auto* flags = static_cast<uint8_t*>(tensor.raw_data());
    for (int64_t i = 0; i < count; ++i) flags[i] = flags[i] != 0;
  }
  return tensor;
}

size_t tensor_binary_size(const Tensor& tensor) {
  if (tensor.dtype() != DType::kString) return tensor.byte_size();
  size_t size = 0;
  for (int64_t i = 0; i < tensor.element_count(); ++i) size += 4 + tensor.data<std::string>()[i].size();
  return size;
}

void append_tensor_binary(const Tensor& tensor, std::string& out) {
  if (tensor.dtype() != DType::kString) {
    out.append(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
    return;
  }
  for (int64_t i = 0; i < tensor.element_count(); ++i) {
    const std::string& element = tensor.data<std::string>()[i];
    const uint32_t length = static_cast<uint32_t>(element.size());
    char prefix[4];
    std::memcpy(prefix, &length, 4);
    out.append(prefix, 4);
    out.append(element);
  }
}

Tensor tensor_from_json(DType dtype, const std::vector<int64_t>& shape, const nlohmann::json& data,
                        const std::string& what) {
  const int64_t count = request_element_count(shape, what);
  std::vector<const nlohmann::json*> leaves;
  flatten_json(data, leaves, static_cast<size_t>(count));
  if (leaves.size() != static_cast<size_t>(count)) {
    bad_request(what + ": shape " + shape_to_string(shape) + " needs " + std::to_string(count) +
                " elements, data has " +
                (leaves.size() > static_cast<size_t>(count) ? "more" : std::to_string(leaves.size())));
  }
  Tensor tensor(dtype, shape);
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kProtocolType<T>) {
      T* out = tensor.data<T>();
      for (size_t i = 0; i < leaves.size(); ++i) out[i] = json_element<T>(*leaves[i], what, i);
    } else {
      bad_request(what + ": datatype " + dtype_name(dtype) + " has no JSON form");
    }
  });
  return tensor;
}

nlohmann::json tensor_to_json(const Tensor& tensor) {
  nlohmann::json data = nlohmann::json::array();
  visit_dtype(tensor.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* values = tensor.data<T>();
    for (int64_t i = 0; i < tensor.element_count(); ++i) {
      if constexpr (std::is_same_v<T, Float16>)
        data.push_back(half_to_float(values[i].bits));
      else if constexpr (std::is_same_v<T, BFloat16>)
        data.push_back(bfloat16_to_float(values[i].bits));
      else if constexpr (kProtocolType<T>)
        data.push_back(values[i]);
      else
        throw ServeError(ServeStatus::kInternal,
                         "output of datatype " + dtype_name(tensor.dtype()) + " has no JSON form");
    }
  });
  return data;
}

}  // namespace tessera::serve

#include "base/runtime_value.h"

#include <algorithm>
#include <numeric>

#include "base/dtype_dispatch.h"

namespace tessera {

namespace {

bool is_map_value_type(DType dtype) {
  return dtype == DType::kFloat || dtype == DType::kDouble || dtype == DType::kInt64 || dtype == DType::kString;
}

// The positions of `keys` in ascending key order, keeping only the last position of a repeated key.
template <typename K>
std::vector<int64_t> sorted_last_positions(const K* keys, int64_t count) {
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [keys](int64_t a, int64_t b) { return keys[a] < keys[b]; });
  std::vector<int64_t> kept;
  kept.reserve(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const bool last_of_key = i + 1 == order.size() || keys[order[i]] < keys[order[i + 1]];
    if (last_of_key) kept.push_back(order[i]);
  }
  return kept;
}

// The elements of 1-D `source` at `positions`, as a new 1-D tensor.
Tensor gather_1d(const Tensor& source, const std::vector<int64_t>& positions) {
  Tensor out(source.dtype(), {static_cast<int64_t>(positions.size())});
  visit_dtype(source.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = source.data<T>();
    T* dst = out.data<T>();
    for (size_t i = 0; i < positions.size(); ++i) dst[i] = in[positions[i]];
  });
  return out;
}

}  // namespace

MapValue MapValue::from_pairs(const Tensor& keys, const Tensor& values) {
  if (keys.dtype() != DType::kInt64 && keys.dtype() != DType::kString) {
    fail(ErrorCode::kInvalidArgument, "map keys must be int64 or string, got ", keys.description());
  }
  if (!is_map_value_type(values.dtype())) {
    fail(ErrorCode::kInvalidArgument, "map values must be float, double, int64 or string, got ", values.description());
  }
  if (keys.rank() != 1 || values.rank() != 1 || keys.element_count() != values.element_count()) {
    fail(ErrorCode::kInvalidArgument, "a map needs 1-D keys and values of one length, got keys ", keys.description(),
         " and values ", values.description());
  }
  const std::vector<int64_t> positions = keys.dtype() == DType::kInt64
                                             ? sorted_last_positions(keys.data<int64_t>(), keys.element_count())
                                             : sorted_last_positions(keys.data<std::string>(), keys.element_count());
  return MapValue{gather_1d(keys, positions), gather_1d(values, positions)};
}

std::string MapValue::description() const {
  return "map(" + dtype_name(keys.dtype()) + "," + dtype_name(values.dtype()) + ")[" + std::to_string(size()) + "]";
}

std::string RuntimeValue::description() const {
  std::string inner;
  switch (kind_) {
    case Kind::kTensor:
      inner = tensor_.description();
      break;
    case Kind::kSequence:
      inner = "seq(" + dtype_name(element_type_) + ")[" + std::to_string(sequence_.size()) + "]";
      break;
    case Kind::kMap:
      inner = maps_.front().description();
      break;
    case Kind::kMapSequence:
      inner = "seq(map(" + dtype_name(element_type_) + "," + dtype_name(value_type_) + "))[" +
              std::to_string(maps_.size()) + "]";
      break;
    case Kind::kNone:
      inner = "none";
      break;
  }
  return is_optional_ ? "optional(" + inner + ")" : inner;
}

}  // namespace tessera
